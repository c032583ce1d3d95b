#include "server/signal_store.h"

#include <spdlog/spdlog.h>

#include "base/tenant.h"
#include "blocks/lifecycle.h"

namespace strata::server {

Status TenantMarkers::Ensure(objstore::Bucket& bucket, const std::string& tenant) {
  {
    MutexLock lk(mu_);
    if (written_.count(tenant) != 0) return Status::Ok();
  }
  RETURN_IF_ERROR(blocks::EnsureTenantMarker(bucket, tenant));
  MutexLock lk(mu_);
  written_.insert(tenant);
  return Status::Ok();
}

void SyncTenants(objstore::BucketRegistry& buckets, Signal signal,
                 const std::function<Status(const std::string& tenant)>& sync) {
  auto tenants = buckets.Tenants(objstore::Component::kStoreGateway, signal);
  if (!tenants.ok()) {
    spdlog::warn("msg=\"cannot list tenants in the bucket\" signal={} err=\"{}\"",
                 SignalName(signal), tenants.status().ToString());
    return;
  }
  for (const auto& t : *tenants) {
    if (!ValidateTenantId(t).ok()) continue;
    Status st = sync(t);
    if (!st.ok()) {
      spdlog::warn("msg=\"cannot sync blocks\" signal={} tenant={} err=\"{}\"", SignalName(signal),
                   t, st.ToString());
    }
  }
}

}  // namespace strata::server
