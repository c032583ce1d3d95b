#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/config.h"
#include "agent/receive/faro.h"
#include "agent/receive/intake.h"
#include "agent/receive/otlp_grpc.h"
#include "agent/sample/sampler.h"
#include "agent/scrape/scraper.h"
#include "base/file.h"
#include "base/mutex.h"
#include "base/status.h"
#include "http/server.h"

namespace strata::agent {

// Agent is `strata agent`: HTTP receivers (remote write, OTLP/HTTP, Loki push, Faro), OTLP/gRPC and
// Prometheus scraping in front of one durable queue and sender per exporter (with tail sampling,
// OTLP spans wait for their trace's decision in the sampler's queue first). Reload re-reads the
// configuration file: exporters whose settings changed are stopped and reopened on the same queue
// directory, so queued data survives; removed exporters keep their queue on disk (sent again if
// they come back). Start, Reload and Shutdown are serialized; receivers run on the HTTP threads.
class Agent {
 public:
  // `config_path` is re-read by Reload; empty when running on defaults.
  Agent(AgentConfig config, std::string config_path);
  ~Agent();

  Status Start();
  Status Reload();
  void Shutdown();
  uint16_t port() const { return http_->port(); }
  int grpc_port() const { return grpc_ ? grpc_->port() : 0; }

 private:
  Result<std::shared_ptr<Exporter>> OpenExporter(const ExporterConfig& config) const;
  std::shared_ptr<const ExporterSet> Exporters() const;
  void RegisterRoutes();
  std::string RenderMetrics() const;

  Mutex lifecycle_mu_;  // serializes Start, Reload and Shutdown
  AgentConfig config_;
  const std::string config_path_;
  std::optional<DirLock> lock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Intake> intake_;
  std::unique_ptr<FaroReceiver> faro_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<otlpgrpc::Server> grpc_;
  std::unique_ptr<ScrapeManager> scrape_;
  std::unique_ptr<TailSampler> sampler_;  // with a tail_sampling block

  mutable Mutex exporters_mu_;
  std::shared_ptr<const ExporterSet> exporters_;  // replaced whole on reload
};

}  // namespace strata::agent
