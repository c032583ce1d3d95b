#include "server/compactor_service.h"

#include <spdlog/spdlog.h>

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

}  // namespace

CompactorService::CompactorService(const Config& config, objstore::BucketRegistry& buckets,
                                   prometheus::Registry* registry)
    : interval_ms_(config.compactor_interval_ms),
      buckets_(buckets),
      compactor_(
          WithWorkDir(config.compactor, config.data_dir), config.limits,
          [&buckets](const std::string& tenant) {
            return buckets.For(tenant, objstore::Component::kCompactor, Signal::kMetrics);
          },
          registry) {}

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
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool CompactorService::RunOnce() {
  auto tenants = buckets_.Tenants(objstore::Component::kCompactor, Signal::kMetrics);
  if (!tenants.ok()) {
    spdlog::warn("msg=\"compactor cannot list tenants\" err=\"{}\"", tenants.status().ToString());
    return false;
  }
  bool ok = true;
  for (const auto& t : *tenants) {
    if (!ValidateTenantId(t).ok()) continue;
    auto stats = compactor_.Run(t, NowMillis());
    if (stats.status().code() == Status::Code::kCancelled) return false;
    if (!stats.ok()) {
      spdlog::warn("msg=\"compactor pass failed\" tenant={} err=\"{}\"", t,
                   stats.status().ToString());
      ok = false;
    }
  }
  return ok;
}

}  // namespace strata::server
