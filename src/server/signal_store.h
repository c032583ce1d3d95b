#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "base/mutex.h"
#include "base/signal.h"
#include "base/status.h"
#include "base/thread_annotations.h"
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

}  // namespace strata::server
