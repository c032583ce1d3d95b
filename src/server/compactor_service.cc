#include "server/compactor_service.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/tenant.h"
#include "base/units.h"
#include "tsdb/storage.h"

namespace strata::server {
namespace {

tsdb::compact::CompactorOptions WithWorkDir(tsdb::compact::CompactorOptions o,
                                            const std::string& data_dir) {
  o.work_dir = data_dir + "/compactor";
  return o;
}

// A log or trace compactor's options: the defaults, with the configured lifecycle delays and
// the work directory.
template <typename Options>
Options SignalOptions(const Config& config) {
  Options o;
  o.tidy = {config.compactor.deletion_delay_ms, config.compactor.abandoned_upload_ms};
  o.work_dir = config.data_dir + "/compactor";
  return o;
}

// The compactor's buckets of a signal, by tenant.
std::function<std::shared_ptr<objstore::Bucket>(const std::string&)> BucketsFor(
    objstore::BucketRegistry& buckets, Signal signal) {
  return [&buckets, signal](const std::string& tenant) {
    return buckets.For(tenant, objstore::Component::kCompactor, signal);
  };
}

}  // namespace

CompactorService::CompactorService(const Config& config, objstore::BucketRegistry& buckets,
                                   prometheus::Registry* registry)
    : interval_ms_(config.compactor_interval_ms),
      buckets_(buckets),
      compactor_(WithWorkDir(config.compactor, config.data_dir), config.limits,
                 BucketsFor(buckets, Signal::kMetrics), registry),
      log_compactor_(SignalOptions<logs::CompactorOptions>(config), config.limits,
                     BucketsFor(buckets, Signal::kLogs)),
      trace_compactor_(SignalOptions<traces::CompactorOptions>(config), config.limits,
                       BucketsFor(buckets, Signal::kTraces)) {}

CompactorService::~CompactorService() { Stop(); }

void CompactorService::Start() {
  thread_ = std::thread([this] {
    UniqueLock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      RunOnce();
      lk.lock();
      lk.WaitFor(cv_, std::chrono::milliseconds(interval_ms_),
                 [this]() REQUIRES(mu_) { return stopping_; });
    }
  });
}

void CompactorService::Stop() {
  {
    MutexLock lk(mu_);
    stopping_ = true;
  }
  compactor_.Stop();
  log_compactor_.Stop();
  trace_compactor_.Stop();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool CompactorService::RunOnce() {
  bool ok = true;
  for (Signal signal : {Signal::kMetrics, Signal::kLogs, Signal::kTraces}) {
    auto tenants = buckets_.Tenants(objstore::Component::kCompactor, signal);
    if (!tenants.ok()) {
      spdlog::warn("msg=\"compactor cannot list tenants\" signal={} err=\"{}\"", SignalName(signal),
                   tenants.status().ToString());
      ok = false;
      continue;
    }
    for (const auto& t : *tenants) {
      if (!ValidateTenantId(t).ok()) continue;
      Status st;
      switch (signal) {
        case Signal::kMetrics:
          st = compactor_.Run(t, NowMillis()).status();
          break;
        case Signal::kLogs:
          st = log_compactor_.Run(t, NowMillis()).status();
          break;
        case Signal::kTraces:
          st = trace_compactor_.Run(t, NowMillis()).status();
          break;
      }
      if (st.code() == Status::Code::kCancelled) return false;
      if (!st.ok()) {
        spdlog::warn("msg=\"compactor pass failed\" signal={} tenant={} err=\"{}\"",
                     SignalName(signal), t, st.ToString());
        ok = false;
      }
    }
  }
  return ok;
}

}  // namespace strata::server
