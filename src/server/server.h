#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/loki_api.h"
#include "api/prom_api.h"
#include "api/push_api.h"
#include "api/tempo_api.h"
#include "base/mutex.h"
#include "base/status.h"
#include "generator/generator.h"
#include "http/server.h"
#include "ingest/distributor.h"
#include "ingest/log_distributor.h"
#include "ingest/trace_distributor.h"
#include "logs/follow.h"
#include "logs/gateway.h"
#include "logs/storage.h"
#include "logs/storage_queryable.h"
#include "objstore/registry.h"
#include "query/storage_queryable.h"
#include "rpc/otlp_server.h"
#include "server/compactor_service.h"
#include "server/config.h"
#include "server/metrics_store.h"
#include "server/self_metrics.h"
#include "store/gateway.h"
#include "traces/gateway.h"
#include "traces/queryable.h"
#include "traces/storage.h"
#include "tsdb/storage.h"

namespace strata::server {

// StrataServer is `strata serve`: the HTTP API, the ingest path and the storage, wired
// together. Start brings HTTP up first (healthy at once, ready after WAL replay), Shutdown
// drains in-flight requests and closes the WALs. Not copyable; Start/Shutdown from one thread.
class StrataServer {
 public:
  explicit StrataServer(Config config);
  ~StrataServer();

  Status Start();
  // Blocks until storage is open (or failed to open).
  Status WaitReady();
  void Shutdown();
  uint16_t port() const { return http_->port(); }
  // The OTLP/gRPC port (0: none).
  int grpc_port() const { return grpc_ ? grpc_->port() : 0; }

 private:
  void RegisterRoutes();
  // The HTML page at "/": version, uptime, readiness, tenants, links to the APIs.
  std::string StatusPage() const;
  void OpenStorage();
  // Drives every signal's SignalStore until Shutdown, and answers POST /flush.
  void Maintenance();
  // Writes the metrics-generator's series into the tenants' metrics every collection interval
  // until Shutdown.
  void Generate();

  const Config config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<SelfMetrics> metrics_;
  std::unique_ptr<ingest::Distributor> distributor_;
  std::unique_ptr<ingest::LogDistributor> log_distributor_;
  std::unique_ptr<ingest::TraceDistributor> trace_distributor_;
  std::unique_ptr<api::PushApi> push_api_;
  // Span metrics and service graphs from stored spans (null when disabled).
  std::unique_ptr<generator::Generator> generator_;
  query::StorageQueryable queryable_;
  logs::StorageQueryable log_queryable_;
  traces::StorageQueryable trace_queryable_;
  // Whoever follows a tenant's logs as they arrive (tail); outlives the log storage.
  logs::Followers log_followers_;
  // Range queries of both APIs, with the results cache they share.
  std::unique_ptr<frontend::RangeRunner> range_runner_;
  std::unique_ptr<api::PromApi> api_;
  std::unique_ptr<api::LokiApi> loki_api_;
  std::unique_ptr<api::TempoApi> tempo_api_;
  // The query threads of both APIs; stopped before them.
  std::unique_ptr<frontend::FairScheduler> scheduler_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<otlpgrpc::Server> grpc_;
  std::unique_ptr<tsdb::Storage> storage_;
  std::unique_ptr<logs::Storage> log_storage_;
  std::unique_ptr<traces::Storage> trace_storage_;
  std::shared_ptr<objstore::BucketMetrics> bucket_metrics_;
  std::unique_ptr<objstore::BucketRegistry> buckets_;
  std::unique_ptr<store::StoreGateway> gateway_;
  std::unique_ptr<logs::Gateway> log_gateway_;
  std::unique_ptr<traces::Gateway> trace_gateway_;
  std::unique_ptr<CompactorService> compactor_;
  TenantMarkers markers_;
  // Set once storage is open, before the maintenance thread starts.
  std::vector<std::unique_ptr<SignalStore>> signals_;
  std::atomic<bool> ready_{false};
  const std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  Status init_error_;  // a configuration problem found while constructing, reported by Start

  Mutex mu_;
  std::condition_variable cv_;
  bool opened_ = false;  // storage open attempt finished
  Status open_status_;
  bool stopping_ = false;
  // POST /flush requests waiting for the maintenance thread; each is answered once done.
  std::vector<std::function<void(const Status&)>> flushes_ GUARDED_BY(mu_);
  // A head is due for a block before the next tick (logs::DbOptions::on_cut_due).
  bool ship_due_ GUARDED_BY(mu_) = false;
  std::thread opener_;
  std::thread maintenance_;
  std::thread generate_;
};

}  // namespace strata::server
