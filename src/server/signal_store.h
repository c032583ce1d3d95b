#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/signal.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/units.h"
#include "blocks/lifecycle.h"
#include "objstore/bucket.h"
#include "objstore/registry.h"

namespace strata::server {

// One signal's storage as `strata serve`'s maintenance thread drives it: each tick its heads
// checkpoint their WALs and cut complete blocks, which are shipped to the bucket; every sync
// interval its store gateway is brought in line with the bucket; then idle indexes are
// dropped. Metrics implement it in MetricsStore; each further signal adds its own. Failures
// are logged and retried on the next call: the WAL keeps unshipped data durable.
class SignalStore {
 public:
  virtual ~SignalStore() = default;
  virtual Signal signal() const = 0;
  // Checkpoints WALs, cuts and uploads every tenant's complete blocks.
  virtual void Ship() = 0;
  // Cuts and uploads what the heads hold now (POST /flush); the first failure.
  virtual Status Flush() = 0;
  // Rediscovers every tenant's blocks in the bucket.
  virtual void Sync() = 0;
  // Drops in-memory indexes of blocks idle at `now_ms` beyond the gateway's limits.
  virtual void EvictIdle(int64_t now_ms) = 0;
};

// The tenant markers this process has written ("<tenant>/tenant.json", one per tenant for all
// signals), so each is written once. Thread-safe.
class TenantMarkers {
 public:
  // Writes the tenant's marker into `bucket` unless this process already did.
  Status Ensure(objstore::Bucket& bucket, const std::string& tenant) EXCLUDES(mu_);

 private:
  Mutex mu_;
  std::set<std::string> written_ GUARDED_BY(mu_);
};

// Calls `sync` for every tenant with blocks of `signal` in the bucket(s), skipping names that
// are not valid tenant IDs; failures are logged.
void SyncTenants(objstore::BucketRegistry& buckets, Signal signal,
                 const std::function<Status(const std::string& tenant)>& sync);

// Cuts every tenant's due block of a signal whose heads cut blocks one at a time (logs,
// traces): `storage.Tenants()` gives each tenant's Db, whose CutBlock(staging_dir, ship,
// force, now_ms) writes a block and calls `ship`, which writes the tenant's marker, uploads
// the block's `files` and `encode(meta)` as meta.json, and calls `visible` to make it
// readable at once. A forced cut that shipped what an earlier cut sealed (a retry) cuts
// again for the rest. Failures are logged (the head and WAL keep the data and the next tick
// retries); the first is returned.
template <typename Storage, typename Meta>
Status CutTenantBlocks(Storage& storage, objstore::BucketRegistry& buckets, TenantMarkers& markers,
                       Signal signal, const std::string& staging_dir, bool force,
                       const std::vector<std::string>& files,
                       const std::function<std::string(const Meta&)>& encode,
                       const std::function<Status(const std::string&, const Meta&)>& visible) {
  Status first;
  for (const auto& [tenant, db] : storage.Tenants()) {
    auto bucket = buckets.For(tenant, objstore::Component::kIngest, signal);
    auto ship = [&, &tenant = tenant](const std::string& dir, const Meta& meta) {
      RETURN_IF_ERROR(markers.Ensure(*bucket, tenant));
      RETURN_IF_ERROR(blocks::UploadBlock(*bucket, blocks::BlocksRoot(tenant, signal), meta.id, dir,
                                          files, encode(meta)));
      return visible(tenant, meta);
    };
    auto cut = db->CutBlock(staging_dir, ship, force, NowMillis());
    if (force && cut.ok() && cut->has_value()) {
      cut = db->CutBlock(staging_dir, ship, force, NowMillis());
    }
    if (!cut.ok()) {
      spdlog::warn("msg=\"block not shipped, will retry\" signal={} tenant={} err=\"{}\"",
                   SignalName(signal), tenant, cut.status().ToString());
      if (first.ok()) first = cut.status();
    }
  }
  return first;
}

}  // namespace strata::server
