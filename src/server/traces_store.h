#pragma once

#include <cstdint>
#include <string>

#include "objstore/registry.h"
#include "server/signal_store.h"
#include "traces/gateway.h"
#include "traces/storage.h"

namespace strata::server {

// Traces as a SignalStore: each tenant's trace Db cuts a block when one is due
// (traces::DbOptions), uploaded to the tenant's bucket under its traces root and readable in
// the trace Gateway at once. The gateway keeps every block's index (the trace-ID filter and
// page ranges lookups need), so EvictIdle has nothing to drop.
class TracesStore : public SignalStore {
 public:
  // Everything passed outlives this.
  TracesStore(traces::Storage& storage, traces::Gateway& gateway, objstore::BucketRegistry& buckets,
              TenantMarkers& markers, std::string staging_dir)
      : storage_(storage),
        gateway_(gateway),
        buckets_(buckets),
        markers_(markers),
        staging_dir_(std::move(staging_dir)) {}

  Signal signal() const override { return Signal::kTraces; }
  void Ship() override { (void)Cut(false); }
  Status Flush() override { return Cut(true); }
  void Sync() override;
  void EvictIdle(int64_t) override {}

 private:
  // Cuts every tenant's due blocks (all traces when `force`); the first failure.
  Status Cut(bool force);

  traces::Storage& storage_;
  traces::Gateway& gateway_;
  objstore::BucketRegistry& buckets_;
  TenantMarkers& markers_;
  const std::string staging_dir_;
};

}  // namespace strata::server
