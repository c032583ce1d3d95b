#include "server/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "api/request.h"
#include "base/escape.h"
#include "base/json.h"
#include "base/mutex.h"
#include "base/tenant.h"
#include "base/units.h"
#include "base/version.h"
#include "server/logs_store.h"
#include "server/traces_store.h"

namespace strata::server {
namespace bhttp = boost::beast::http;

StrataServer::StrataServer(Config config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {
  metrics_ = std::make_unique<SelfMetrics>(registry_);
  bucket_metrics_ = std::make_shared<objstore::BucketMetrics>(*registry_);
  distributor_ = std::make_unique<ingest::Distributor>(config_.limits, *registry_);
  log_distributor_ = std::make_unique<ingest::LogDistributor>(config_.limits, *registry_);
  trace_distributor_ = std::make_unique<ingest::TraceDistributor>(config_.limits, *registry_);
  push_api_ = std::make_unique<api::PushApi>(config_.push, *distributor_, *log_distributor_,
                                             *trace_distributor_, *registry_);
  if (config_.generator.enabled) {
    generator_ = std::make_unique<generator::Generator>(config_.generator, registry_.get());
    trace_distributor_->SetOnStored(
        [gen = generator_.get()](const std::string& tenant,
                                 std::span<const traces::Fragment> fragments) {
          // Copied now (the fragments are borrowed), read on the generator's thread.
          std::vector<std::string> resource_spans;
          uint64_t spans = 0;
          for (const traces::Fragment& f : fragments) {
            resource_spans.emplace_back(f.resource_spans);
            spans += f.spans;
          }
          return std::function<void()>(
              [gen, tenant, spans, resource_spans = std::move(resource_spans)]() mutable {
                gen->Enqueue(tenant, std::move(resource_spans), spans, NowMillis());
              });
        });
  }
  auto cache = frontend::OpenCache(config_.results_cache);
  if (!cache.ok()) init_error_ = cache.status().Annotate("results cache");
  scheduler_ = std::make_unique<frontend::FairScheduler>(config_.query.scheduler, registry_.get());
  range_runner_ = std::make_unique<frontend::RangeRunner>(
      config_.query.frontend, *scheduler_, cache.ok() ? std::move(cache).value() : nullptr,
      registry_.get());
  api_ = std::make_unique<api::PromApi>(config_.query, queryable_, config_.limits, *scheduler_,
                                        *range_runner_);
  api::LokiApiOptions loki;
  loki.engine = config_.query.engine;
  loki.tenants = config_.query.tenants;
  loki_api_ = std::make_unique<api::LokiApi>(loki, log_queryable_, log_followers_, config_.limits,
                                             *scheduler_, *range_runner_);
  tempo_api_ =
      std::make_unique<api::TempoApi>(config_.query.tenants, trace_queryable_, *scheduler_);
  http::ServerOptions hopts;
  hopts.listen = config_.listen;
  hopts.threads = config_.threads;
  hopts.max_body_bytes = config_.max_request_body_bytes;
  hopts.idle_timeout_ms = config_.idle_timeout_ms;
  hopts.observe = [m = metrics_.get()](const std::string& route, unsigned code, double secs) {
    m->ObserveHttp(route, code, secs);
  };
  http_ = std::make_unique<http::Server>(hopts);
  RegisterRoutes();
}

StrataServer::~StrataServer() { Shutdown(); }

void StrataServer::RegisterRoutes() {
  push_api_->Register(*http_);
  tempo_api_->Register(*http_);
  http_->Route("/-/healthy", {bhttp::verb::get, bhttp::verb::head},
               [](http::Request& req, const http::Responder& r) {
                 r.Send(http::TextResponse(req, http::Status::ok, "Strata is Healthy."));
               });
  http_->Route("/-/ready", {bhttp::verb::get, bhttp::verb::head},
               [this](http::Request& req, const http::Responder& r) {
                 if (ready_.load(std::memory_order_acquire)) {
                   r.Send(http::TextResponse(req, http::Status::ok, "Strata is Ready."));
                 } else {
                   r.Send(http::TextResponse(req, http::Status::service_unavailable,
                                             "Service Unavailable: WAL replay in progress."));
                 }
               });
  http_->Route(
      "/metrics", {bhttp::verb::get}, [this](http::Request& req, const http::Responder& r) {
        const tsdb::Storage* st = ready_.load(std::memory_order_acquire) ? storage_.get() : nullptr;
        http::Response res = http::TextResponse(req, http::Status::ok, metrics_->Render(st));
        res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        r.Send(std::move(res));
      });
  api_->Register(*http_);
  loki_api_->Register(*http_);
  http_->Route("/", {bhttp::verb::get}, [this](http::Request& req, const http::Responder& r) {
    http::Response res = http::TextResponse(req, http::Status::ok, StatusPage());
    res.set(bhttp::field::content_type, "text/html; charset=utf-8");
    r.Send(std::move(res));
  });
  http_->Route("/api/v1/status/config", {bhttp::verb::get},
               [this](http::Request& req, const http::Responder& r) {
                 JsonWriter w;
                 w.BeginObject().Key("status").String("success").Key("data").BeginObject();
                 w.Key("yaml").String(RedactedSource(config_)).EndObject().EndObject();
                 r.Send(http::JsonResponse(req, http::Status::ok, std::move(w.str())));
               });
  // Cuts and uploads every signal's heads now (logs: all they hold; metrics: every complete
  // block range), answering when done, as Loki's and Mimir's ingesters' flush endpoints do.
  http_->Route("/flush", {bhttp::verb::post}, [this](http::Request& req, const http::Responder& r) {
    if (!ready_.load(std::memory_order_acquire)) {
      r.Send(http::TextResponse(req, http::Status::service_unavailable,
                                "Service Unavailable: WAL replay in progress."));
      return;
    }
    MutexLock lk(mu_);
    if (stopping_) {
      r.Send(http::TextResponse(req, http::Status::service_unavailable,
                                "Service Unavailable: shutting down."));
      return;
    }
    flushes_.push_back([req = std::move(req), r](const Status& st) mutable {
      if (st.ok()) {
        r.Send(http::TextResponse(req, http::Status::no_content, ""));
      } else {
        r.Send(http::TextResponse(req, http::Status::internal_server_error,
                                  "flush failed: " + st.ToString()));
      }
    });
    cv_.notify_all();
  });
  http_->Route(
      "/api/v1/status/buildinfo", {bhttp::verb::get},
      [](http::Request& req, const http::Responder& r) {
        r.Send(http::JsonResponse(req, http::Status::ok,
                                  R"({"status":"success","data":)" + api::BuildInfoJson() + "}"));
      });
}

std::string StrataServer::StatusPage() const {
  const bool ready = ready_.load(std::memory_order_acquire);
  std::string tenants;
  if (ready) {
    for (const auto& [tenant, db] : storage_->Tenants()) {
      tenants += fmt::format("<li>{} ({} series in the head)</li>", XmlEscape(tenant),
                             db->head().Stats().series);
    }
  }
  if (tenants.empty()) tenants = "<li>none yet</li>";
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                 started_at_);
  return fmt::format(
      R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Strata</title></head>
<body>
<h1>Strata {version}</h1>
<p>Revision {revision}, up {uptime}. {state}</p>
<h2>Tenants</h2>
<ul>{tenants}</ul>
<h2>APIs</h2>
<ul>
<li>Prometheus query API: <a href="/api/v1/query?query=up">/api/v1/query</a>, /api/v1/query_range, <a href="/api/v1/labels">/api/v1/labels</a>, /api/v1/series, <a href="/api/v1/metadata">/api/v1/metadata</a>, <a href="/api/v1/status/tsdb">/api/v1/status/tsdb</a>, <a href="/api/v1/status/buildinfo">/api/v1/status/buildinfo</a></li>
<li>Ingest: POST /api/v1/push (Prometheus remote write), POST /otlp/v1/metrics (OTLP/HTTP), POST /loki/api/v1/push (Loki push)</li>
<li>Loki query API: /loki/api/v1/query_range, /loki/api/v1/query, <a href="/loki/api/v1/labels">/loki/api/v1/labels</a>, /loki/api/v1/label/&lt;name&gt;/values, /loki/api/v1/series, /loki/api/v1/format_query, <a href="/loki/api/v1/status/buildinfo">/loki/api/v1/status/buildinfo</a></li>
<li>Tenants are named by the X-Scope-OrgID header{tenant_note}.</li>
</ul>
<h2>Operations</h2>
<ul>
<li><a href="/metrics">/metrics</a>: Strata's own metrics</li>
<li><a href="/api/v1/status/config">/api/v1/status/config</a>: the running configuration (secrets hidden)</li>
<li><a href="/-/ready">/-/ready</a>, <a href="/-/healthy">/-/healthy</a></li>
</ul>
</body></html>
)",
      fmt::arg("version", XmlEscape(kVersion)), fmt::arg("revision", XmlEscape(kRevision)),
      fmt::arg("uptime", FormatDurationMillis(uptime.count() * 1000)),
      fmt::arg("state", ready ? "Ready." : "Not ready: WAL replay in progress."),
      fmt::arg("tenants", tenants),
      fmt::arg("tenant_note", config_.push.tenants.require
                                  ? " (required: auth.require_tenant is on)"
                                  : fmt::format(" (without it: \"{}\")",
                                                XmlEscape(config_.push.tenants.default_tenant))));
}

Status StrataServer::Start() {
  RETURN_IF_ERROR(init_error_);
  RETURN_IF_ERROR(http_->Start());
  if (!config_.grpc_listen.empty()) {
    grpc_ = std::make_unique<otlpgrpc::Server>(
        [this](proto::OtlpSignal signal, std::optional<std::string> tenant,
               const std::string& request, std::function<void(otlpgrpc::Reply)> done) {
          push_api_->HandleOtlpGrpc(signal, std::move(tenant), request, std::move(done));
        },
        config_.push.max_decompressed_body_bytes);
    if (Status st = grpc_->Start(config_.grpc_listen); !st.ok()) {
      http_->Shutdown(1'000);
      return st;
    }
  }
  spdlog::info("msg=\"listening\" address={} port={} grpc_port={} version={}", config_.listen,
               http_->port(), grpc_ ? grpc_->port() : 0, kVersion);
  opener_ = std::thread([this] { OpenStorage(); });
  return Status::Ok();
}

void StrataServer::OpenStorage() {
  tsdb::StorageOptions opts;
  opts.data_dir = config_.data_dir;
  opts.db.wal.sync_on_commit = config_.wal_fsync_always;
  opts.db.wal.fsync_interval_ms = config_.wal_fsync_interval_ms;
  opts.db.wal.segment_size = config_.wal_segment_size;
  opts.db.checkpoint_min_bytes = config_.wal_checkpoint_min_bytes;
  opts.db.block_range_ms = config_.block_range_ms;
  opts.db.max_exemplars = config_.max_exemplars;
  auto buckets = objstore::BucketRegistry::Open(config_.bucket, config_.tenant_buckets,
                                                config_.data_dir, bucket_metrics_);
  Result<std::unique_ptr<tsdb::Storage>> storage =
      buckets.ok() ? tsdb::Storage::Open(opts) : buckets.status();
  // Logs: a Db per tenant under <data_dir>/logs, on a WAL configured as the metrics one.
  logs::StorageOptions log_opts;
  log_opts.dir = config_.data_dir + "/logs";
  log_opts.db.wal = opts.db.wal;
  log_opts.db.cut_bytes = config_.log_block_bytes;
  log_opts.db.cut_age_ms = config_.log_block_age_ms;
  log_opts.db.followers = &log_followers_;
  // A head that reaches its block size is cut now, not at the next tick: at a high rate it
  // would grow by a tick's worth of lines meanwhile.
  log_opts.db.on_cut_due = [this] {
    MutexLock lk(mu_);
    ship_due_ = true;
    cv_.notify_all();
  };
  Result<std::unique_ptr<logs::Storage>> log_storage =
      storage.ok() ? logs::Storage::Open(log_opts) : storage.status();
  if (!log_storage.ok()) storage = log_storage.status();
  // Traces: a Db per tenant under <data_dir>/traces, on a WAL configured as the metrics one.
  traces::StorageOptions trace_opts;
  trace_opts.dir = config_.data_dir + "/traces";
  trace_opts.db.wal = opts.db.wal;
  trace_opts.db.cut_bytes = config_.trace_block_bytes;
  trace_opts.db.cut_age_ms = config_.trace_block_age_ms;
  trace_opts.db.idle_ms = config_.trace_idle_period_ms;
  Result<std::unique_ptr<traces::Storage>> trace_storage =
      storage.ok() ? traces::Storage::Open(trace_opts) : storage.status();
  if (!trace_storage.ok()) storage = trace_storage.status();
  if (buckets.ok() && storage.ok()) {
    log_storage_ = std::move(*log_storage);
    trace_storage_ = std::move(*trace_storage);
    buckets_ = std::move(*buckets);
    store::GatewayOptions gopts = config_.store_gateway;
    gopts.disk_cache_dir = config_.data_dir + "/cache";
    // The disk tier saves requests to remote buckets; a filesystem bucket is a local disk
    // already, and copying its pages into the cache only costs time and memory.
    bool remote = config_.bucket.type == "s3";
    for (const auto& [tenant, b] : config_.tenant_buckets) remote = remote || b.type == "s3";
    if (!remote) gopts.disk_cache_bytes = 0;
    // The block-index budget is shared: half for metrics, half for logs.
    store::GatewayOptions metrics_gopts = gopts;
    metrics_gopts.index_max_bytes = gopts.index_max_bytes / 2;
    gateway_ = std::make_unique<store::StoreGateway>(
        metrics_gopts,
        [b = buckets_.get()](const std::string& tenant) {
          return b->For(tenant, objstore::Component::kStoreGateway, Signal::kMetrics);
        },
        registry_.get());
    log_gateway_ = std::make_unique<logs::Gateway>(
        gateway_->page_cache(), gopts.reader, [b = buckets_.get()](const std::string& tenant) {
          return b->For(tenant, objstore::Component::kStoreGateway, Signal::kLogs);
        });
    trace_gateway_ = std::make_unique<traces::Gateway>(
        gateway_->page_cache(), gopts.reader, [b = buckets_.get()](const std::string& tenant) {
          return b->For(tenant, objstore::Component::kStoreGateway, Signal::kTraces);
        });
    storage_ = std::move(*storage);
    signals_.push_back(std::make_unique<MetricsStore>(*storage_, *gateway_, *buckets_, markers_,
                                                      config_.data_dir + "/staging"));
    LogsStoreOptions lopts;
    lopts.staging_dir = config_.data_dir + "/staging";
    lopts.index_idle_ms = gopts.index_idle_ms;
    lopts.index_max_bytes = gopts.index_max_bytes / 2;
    signals_.push_back(
        std::make_unique<LogsStore>(*log_storage_, *log_gateway_, *buckets_, markers_, lopts));
    signals_.push_back(std::make_unique<TracesStore>(*trace_storage_, *trace_gateway_, *buckets_,
                                                     markers_, config_.data_dir + "/staging"));
    // Blocks must be known before queries are served; a bucket outage only delays that.
    for (const auto& s : signals_) s->Sync();
  }
  MutexLock lk(mu_);
  opened_ = true;
  if (!storage.ok()) {
    open_status_ = storage.status();
    spdlog::error("msg=\"cannot open storage\" err=\"{}\"", open_status_.ToString());
  } else {
    distributor_->SetStorage(storage_.get());
    log_distributor_->SetStorage(log_storage_.get());
    log_queryable_.SetGateway(log_gateway_.get());
    log_queryable_.SetStorage(log_storage_.get());
    trace_distributor_->SetStorage(trace_storage_.get());
    trace_queryable_.SetGateway(trace_gateway_.get());
    trace_queryable_.SetStorage(trace_storage_.get());
    queryable_.SetStoreGateway(gateway_.get());
    queryable_.SetStorage(storage_.get());
    ready_.store(true, std::memory_order_release);
    metrics_->SetReady(true);
    spdlog::info("msg=\"ready\"");
    maintenance_ = std::thread([this] { Maintenance(); });
    if (generator_) generate_ = std::thread([this] { Generate(); });
    if (config_.compactor_enabled) {
      compactor_ = std::make_unique<CompactorService>(config_, *buckets_, registry_.get());
      compactor_->Start();
    }
  }
  cv_.notify_all();
}

Status StrataServer::WaitReady() {
  UniqueLock lk(mu_);
  lk.Wait(cv_, [this]() REQUIRES(mu_) { return opened_; });
  return open_status_;
}

void StrataServer::Maintenance() {
  UniqueLock lk(mu_);
  auto next_sync =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.store_sync_interval_ms);
  while (!stopping_) {
    lk.WaitFor(cv_, std::chrono::milliseconds(config_.maintenance_interval_ms),
               [this]() REQUIRES(mu_) { return stopping_ || ship_due_ || !flushes_.empty(); });
    if (stopping_) break;
    ship_due_ = false;
    auto flushes = std::move(flushes_);
    flushes_.clear();
    lk.unlock();
    if (!flushes.empty()) {
      Status first;
      for (const auto& s : signals_) {
        Status st = s->Flush();
        if (first.ok()) first = st;
      }
      for (auto& done : flushes) done(first);
    }
    for (const auto& s : signals_) s->Ship();
    if (std::chrono::steady_clock::now() >= next_sync) {
      for (const auto& s : signals_) s->Sync();
      next_sync = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(config_.store_sync_interval_ms);
    }
    for (const auto& s : signals_) s->EvictIdle(NowMillis());
    lk.lock();
  }
}

void StrataServer::Generate() {
  // The queue is drained often (observing is the generator's costly part and happens on this
  // thread, not the WAL's); series are collected and written every collection interval.
  constexpr int64_t kDrainIntervalMs = 500;
  int64_t next_collection = NowMillis() + config_.generator.collection_interval_ms;
  UniqueLock lk(mu_);
  while (!stopping_) {
    lk.WaitFor(cv_, std::chrono::milliseconds(kDrainIntervalMs),
               [this]() REQUIRES(mu_) { return stopping_; });
    if (stopping_) break;
    lk.unlock();
    generator_->Drain();
    if (const int64_t now = NowMillis(); now >= next_collection) {
      next_collection = now + config_.generator.collection_interval_ms;
      for (auto& [tenant, req] : generator_->Collect(now)) {
        distributor_->Push(
            tenant, proto::AsView(req), {}, [name = tenant](const ingest::PushOutcome& o) {
              if (!o.status.ok() || o.refused > 0) {
                spdlog::warn(
                    "msg=\"generated metrics not all stored\" tenant={} "
                    "err=\"{}\" refused={}",
                    name, o.status.ok() ? o.message : o.status.ToString(), o.refused);
              }
            });
      }
    }
    lk.lock();
  }
}

void StrataServer::Shutdown() {
  {
    MutexLock lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  spdlog::info("msg=\"shutting down: draining in-flight requests\"");
  {
    MutexLock lk(mu_);
    for (auto& done : flushes_) done(Status::Unavailable("shutting down"));
    flushes_.clear();
  }
  ready_.store(false);
  distributor_->SetStorage(nullptr);
  log_distributor_->SetStorage(nullptr);
  trace_distributor_->SetStorage(nullptr);
  queryable_.SetStorage(nullptr);
  queryable_.SetStoreGateway(nullptr);
  log_queryable_.SetStorage(nullptr);
  trace_queryable_.SetStorage(nullptr);
  trace_queryable_.SetGateway(nullptr);
  http_->Shutdown(config_.shutdown_timeout_ms);
  if (grpc_) grpc_->Shutdown();
  // Queries still queued or running hold responders and read the storage: finish them first.
  scheduler_.reset();
  api_.reset();
  loki_api_.reset();
  tempo_api_.reset();
  if (opener_.joinable()) opener_.join();
  if (maintenance_.joinable()) maintenance_.join();
  if (generate_.joinable()) generate_.join();
  if (compactor_) compactor_->Stop();
  signals_.clear();
  if (log_storage_) {
    Status st = log_storage_->Close();
    if (!st.ok()) spdlog::error("msg=\"closing log storage\" err=\"{}\"", st.ToString());
    log_storage_.reset();
  }
  if (trace_storage_) {
    Status st = trace_storage_->Close();
    if (!st.ok()) spdlog::error("msg=\"closing trace storage\" err=\"{}\"", st.ToString());
    trace_storage_.reset();
  }
  if (storage_) {
    Status st = storage_->Close();
    if (!st.ok()) spdlog::error("msg=\"closing storage\" err=\"{}\"", st.ToString());
    storage_.reset();
  }
  spdlog::info("msg=\"shutdown complete\"");
}

}  // namespace strata::server
