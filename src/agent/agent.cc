#include "agent/agent.h"

#include <fmt/format.h>
#include <prometheus/histogram.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "agent/receive/loki.h"
#include "agent/receive/otlp.h"
#include "agent/receive/otlp_grpc.h"
#include "agent/receive/remote_write.h"
#include "agent/scrape/scraper.h"
#include "base/metric_family.h"
#include "base/mutex.h"
#include "base/units.h"
#include "base/version.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using prometheus::MetricType;

namespace {

std::string QueueDir(const std::string& data_dir, const std::string& exporter) {
  return data_dir + "/queues/" + exporter;
}

}  // namespace

Agent::Agent(AgentConfig config, std::string config_path)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      registry_(std::make_shared<prometheus::Registry>()),
      exporters_(std::make_shared<ExporterSet>()) {
  intake_ = std::make_unique<Intake>(
      config_.memory_budget_bytes, [this] { return Exporters(); }, config_.limits, *registry_);
  prometheus::BuildGauge()
      .Name("strata_agent_build_info")
      .Help("Build information; the value is 1.")
      .Register(*registry_)
      .Add({{"version", kVersion}, {"revision", kRevision}})
      .Set(1);
  faro_ = std::make_unique<FaroReceiver>(*intake_, config_.faro,
                                         config_.max_decompressed_body_bytes, *registry_);
  http::ServerOptions opts;
  opts.listen = config_.listen;
  opts.max_body_bytes = config_.max_request_body_bytes;
  auto& duration = prometheus::BuildHistogram()
                       .Name("strata_agent_http_request_duration_seconds")
                       .Help(
                           "HTTP request latency by route, from request read to response "
                           "written (2xx: the data is on disk).")
                       .Register(*registry_);
  opts.observe = [by_route = std::make_shared<SeriesByLabels<prometheus::Histogram>>(
                      duration, std::vector<std::string>{"route"}, HttpLatencyBuckets())](
                     const std::string& route, unsigned, double secs) {
    by_route->Get({route}).Observe(secs);
  };
  http_ = std::make_unique<http::Server>(opts);
  RegisterRoutes();
}

Agent::~Agent() { Shutdown(); }

std::shared_ptr<const ExporterSet> Agent::Exporters() const {
  MutexLock lk(exporters_mu_);
  return exporters_;
}

Result<std::shared_ptr<Exporter>> Agent::OpenExporter(const ExporterConfig& config) const {
  auto queue = DurableQueue::Open(QueueDir(config_.data_dir, config.name), config.queue);
  if (!queue.ok()) return queue.status().Annotate("exporter " + config.name);
  auto e = std::make_shared<Exporter>(config, std::move(*queue));
  e->Start();
  return e;
}

Status Agent::Start() {
  MutexLock lk(lifecycle_mu_);
  std::error_code ec;
  fs::create_directories(config_.data_dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", config_.data_dir, ec.message()));
  auto lock = DirLock::Acquire(config_.data_dir);
  if (!lock.ok()) return lock.status();
  lock_.emplace(std::move(*lock));
  auto set = std::make_shared<ExporterSet>();
  for (const auto& c : config_.exporters) {
    auto e = OpenExporter(c);
    if (!e.ok()) {
      for (auto& started : *set) started->Stop();
      return e.status();
    }
    set->push_back(std::move(*e));
  }
  {
    MutexLock elk(exporters_mu_);
    exporters_ = std::move(set);
  }
  auto stop_exporters = [this] {
    if (sampler_) sampler_->Stop();
    for (auto& e : *Exporters()) e->Stop();
  };
  if (config_.tail_sampling.enabled) {
    auto sampler = TailSampler::Open(
        config_.data_dir, config_.tail_sampling,
        [this](const QueueRecord& rec, std::function<void(const Status&)> done) {
          intake_->Deliver({&rec, 1}, std::move(done));
        },
        *registry_);
    if (!sampler.ok()) {
      stop_exporters();
      return sampler.status();
    }
    sampler_ = std::move(*sampler);
    intake_->SetSpanRoute(
        [this](const std::string& receiver, const QueueRecord& rec,
               std::function<void(const Status&)> done) {
          sampler_->Route(rec, receiver == kPeerReceiver, std::move(done));
        },
        [this](uint64_t bytes) { return sampler_->HasRoom(bytes); });
    if (Status st = sampler_->Start(); !st.ok()) {
      stop_exporters();
      return st;
    }
  }
  if (Status st = http_->Start(); !st.ok()) {
    stop_exporters();
    return st;
  }
  if (!config_.grpc_listen.empty()) {
    grpc_ = std::make_unique<otlpgrpc::Server>(OtlpGrpcHandler(*intake_, config_.otlp.tenant),
                                               config_.max_decompressed_body_bytes);
    if (Status st = grpc_->Start(config_.grpc_listen); !st.ok()) {
      http_->Shutdown(1'000);
      stop_exporters();
      return st;
    }
  }
  scrape_ = std::make_unique<ScrapeManager>(*intake_, *registry_);
  scrape_->ApplyConfig(config_.scrape_configs);
  spdlog::info(
      "msg=\"strata agent started\" listen={} port={} grpc_port={} data_dir={} exporters={}",
      config_.listen, http_->port(), grpc_ ? grpc_->port() : 0, config_.data_dir,
      config_.exporters.size());
  return Status::Ok();
}

Status Agent::Reload() {
  MutexLock lk(lifecycle_mu_);
  if (config_path_.empty()) {
    return Status::InvalidArgument("the agent runs on defaults (no --config); nothing to reload");
  }
  ASSIGN_OR_RETURN(AgentConfig next, LoadAgentConfigFile(config_path_));
  if (next.listen != config_.listen || next.grpc_listen != config_.grpc_listen ||
      next.data_dir != config_.data_dir ||
      next.max_request_body_bytes != config_.max_request_body_bytes ||
      next.max_decompressed_body_bytes != config_.max_decompressed_body_bytes ||
      next.memory_budget_bytes != config_.memory_budget_bytes ||
      next.remote_write != config_.remote_write || next.otlp != config_.otlp ||
      next.loki != config_.loki || next.faro != config_.faro ||
      next.tail_sampling != config_.tail_sampling) {
    spdlog::warn(
        "msg=\"server, receivers, tail_sampling and data_dir settings change only with a "
        "restart; keeping the running ones\"");
  }
  auto old = Exporters();
  std::map<std::string, std::shared_ptr<Exporter>> running;
  for (const auto& e : *old) running[e->config().name] = e;
  auto set = std::make_shared<ExporterSet>();
  for (auto c : next.exporters) {
    auto it = running.find(c.name);
    if (it != running.end() && it->second->config() == c) {
      set->push_back(it->second);
      running.erase(it);
      continue;
    }
    if (it != running.end()) {
      // Its queue directory is reopened by the replacement: stop the old sender first.
      it->second->Stop();
      running.erase(it);
    }
    auto e = OpenExporter(c);
    if (!e.ok()) {
      spdlog::error(
          "msg=\"reload: exporter cannot start; its data stays queued on disk\" "
          "exporter={} err=\"{}\"",
          c.name, e.status().message());
      continue;
    }
    set->push_back(std::move(*e));
  }
  for (auto& [name, e] : running) {
    spdlog::warn("msg=\"reload: exporter removed; its undelivered data stays in {}\" exporter={}",
                 QueueDir(config_.data_dir, name), name);
    e->Stop();
  }
  {
    MutexLock elk(exporters_mu_);
    exporters_ = set;
  }
  config_.exporters = next.exporters;
  config_.log_level = next.log_level;
  config_.limits = next.limits;
  intake_->SetLimits(next.limits);
  config_.scrape_configs = next.scrape_configs;
  if (scrape_) scrape_->ApplyConfig(next.scrape_configs);
  spdlog::info("msg=\"configuration reloaded\" exporters={}", set->size());
  return Status::Ok();
}

void Agent::Shutdown() {
  MutexLock lk(lifecycle_mu_);
  http_->Shutdown(10'000);
  if (grpc_) grpc_->Shutdown();
  if (scrape_) scrape_->Stop();
  // The sampler's kept traces go to the exporters' queues: it stops first.
  if (sampler_) sampler_->Stop();
  std::shared_ptr<const ExporterSet> set;
  {
    MutexLock elk(exporters_mu_);
    set = std::move(exporters_);
    exporters_ = std::make_shared<ExporterSet>();
  }
  if (set) {
    for (const auto& e : *set) e->Stop();
  }
}

void Agent::RegisterRoutes() {
  auto remote_write = [this](http::Request& req, const http::Responder& r) {
    HandleRemoteWrite(*intake_, config_.max_decompressed_body_bytes, config_.remote_write.tenant,
                      req, r);
  };
  http_->Route("/api/v1/write", {bhttp::verb::post}, remote_write);
  http_->Route("/api/v1/push", {bhttp::verb::post}, remote_write);
  for (auto signal :
       {proto::OtlpSignal::kMetrics, proto::OtlpSignal::kLogs, proto::OtlpSignal::kTraces}) {
    http_->Route(fmt::format("/v1/{}", proto::OtlpSignalName(signal)), {bhttp::verb::post},
                 [this, signal](http::Request& req, const http::Responder& r) {
                   HandleOtlpHttp(*intake_, signal, config_.max_decompressed_body_bytes,
                                  config_.otlp.tenant, req, r);
                 });
  }
  if (config_.tail_sampling.enabled) {
    // Spans forwarded by the peer agent that received them: this agent owns their traces.
    http_->Route(fmt::format("{}/v1/traces", kPeerRoute), {bhttp::verb::post},
                 [this](http::Request& req, const http::Responder& r) {
                   HandleOtlpHttp(*intake_, proto::OtlpSignal::kTraces,
                                  config_.max_decompressed_body_bytes, config_.otlp.tenant, req, r,
                                  kPeerReceiver);
                 });
  }
  http_->Route("/loki/api/v1/push", {bhttp::verb::post},
               [this](http::Request& req, const http::Responder& r) {
                 HandleLokiPush(*intake_, config_.max_decompressed_body_bytes, config_.loki.tenant,
                                req, r);
               });
  if (config_.faro.enabled) {
    auto faro = [this](http::Request& req, const http::Responder& r) { faro_->Handle(req, r); };
    http_->Route("/collect", {bhttp::verb::post, bhttp::verb::options}, faro);
    http_->Route("/collect/", {bhttp::verb::post, bhttp::verb::options}, faro);  // {app-key}
  }
  http_->Route("/metrics", {bhttp::verb::get},
               [this](http::Request& req, const http::Responder& r) {
                 http::Response res = http::TextResponse(req, http::Status::ok, RenderMetrics());
                 res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
                 r.Send(std::move(res));
               });
  auto ok = [](http::Request& req, const http::Responder& r) {
    r.Send(http::TextResponse(req, http::Status::ok, "OK"));
  };
  http_->Route("/-/healthy", {bhttp::verb::get, bhttp::verb::head}, ok);
  http_->Route("/-/ready", {bhttp::verb::get, bhttp::verb::head}, ok);
  http_->Route("/-/reload", {bhttp::verb::post, bhttp::verb::put},
               [this](http::Request& req, const http::Responder& r) {
                 Status st = Reload();
                 r.Send(http::TextResponse(
                     req, st.ok() ? http::Status::ok : http::Status::internal_server_error,
                     st.ok() ? "configuration reloaded" : st.message()));
               });
}

std::string Agent::RenderMetrics() const {
  auto families = registry_->Collect();
  MetricFamilyBuilder pending("strata_agent_queue_pending_items",
                              "Items queued on disk and not yet accepted by a backend.",
                              MetricType::Gauge);
  MetricFamilyBuilder pending_req("strata_agent_queue_pending_requests",
                                  "Queued requests not yet accepted by a backend.",
                                  MetricType::Gauge);
  MetricFamilyBuilder disk("strata_agent_queue_disk_bytes", "Bytes of the queue's segments.",
                           MetricType::Gauge);
  MetricFamilyBuilder max_disk("strata_agent_queue_max_disk_bytes",
                               "The queue's disk budget (queue.max_disk_bytes).",
                               MetricType::Gauge);
  MetricFamilyBuilder age("strata_agent_queue_oldest_item_age_seconds",
                          "Age of the oldest item not yet accepted by a backend; 0 when empty.",
                          MetricType::Gauge);
  MetricFamilyBuilder appended("strata_agent_queue_appended_items_total",
                               "Items made durable in the queue.", MetricType::Counter);
  MetricFamilyBuilder dropped("strata_agent_dropped_items_total",
                              "Items that will never be delivered, by reason: queue_full "
                              "(full_policy drop_oldest), rejected (a backend's non-retryable "
                              "4xx).",
                              MetricType::Counter);
  MetricFamilyBuilder corrupt("strata_agent_queue_corrupt_bytes_total",
                              "Bytes of damaged queue records skipped.", MetricType::Counter);
  MetricFamilyBuilder sent("strata_agent_sent_items_total", "Items accepted by a backend.",
                           MetricType::Counter);
  MetricFamilyBuilder sent_req("strata_agent_sent_requests_total",
                               "Requests accepted by a backend.", MetricType::Counter);
  MetricFamilyBuilder retries("strata_agent_send_retries_total",
                              "Sends that failed with a retryable error (5xx, 429, transport).",
                              MetricType::Counter);
  MetricFamilyBuilder up("strata_agent_backend_up",
                         "1 while the backend is considered healthy (probes and sends).",
                         MetricType::Gauge);
  MetricFamilyBuilder changes("strata_agent_backend_health_changes_total",
                              "Up/down transitions of the backend.", MetricType::Counter);
  int64_t now = NowMillis();
  std::vector<std::shared_ptr<Exporter>> exporters(Exporters()->begin(), Exporters()->end());
  if (sampler_)
    exporters.insert(exporters.end(), sampler_->peers().begin(), sampler_->peers().end());
  for (const auto& e : exporters) {
    const std::string& name = e->config().name;
    QueueStats q = e->queue().Stats();
    ExporterStats x = e->Stats();
    auto d = [](uint64_t v) { return static_cast<double>(v); };
    pending.Add({{"exporter", name}}, d(q.pending_items));
    pending_req.Add({{"exporter", name}}, d(q.pending_records));
    disk.Add({{"exporter", name}}, d(q.disk_bytes));
    max_disk.Add({{"exporter", name}}, d(e->config().queue.max_disk_bytes));
    age.Add({{"exporter", name}},
            q.oldest_received_ms > 0 ? static_cast<double>(now - q.oldest_received_ms) / 1000 : 0);
    appended.Add({{"exporter", name}}, d(q.appended_items));
    uint64_t full = q.dropped_items.count("queue_full") ? q.dropped_items.at("queue_full") : 0;
    dropped.Add({{"exporter", name}, {"reason", "queue_full"}}, d(full));
    dropped.Add({{"exporter", name}, {"reason", "rejected"}}, d(x.rejected_items));
    corrupt.Add({{"exporter", name}}, d(q.corrupt_bytes));
    for (const auto& b : x.backends) {
      std::vector<prometheus::ClientMetric::Label> l = {{"exporter", name}, {"backend", b.url}};
      sent.Add(l, d(b.sent_items));
      sent_req.Add(l, d(b.sent_requests));
      retries.Add(l, d(b.retries));
      up.Add(l, b.up ? 1 : 0);
      changes.Add(l, d(b.health_changes));
    }
  }
  for (auto* b : {&pending, &pending_req, &disk, &max_disk, &age, &appended, &dropped, &corrupt,
                  &sent, &sent_req, &retries, &up, &changes}) {
    families.push_back(b->Take());
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace strata::agent
