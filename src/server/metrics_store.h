#pragma once

#include <cstdint>
#include <string>

#include "objstore/registry.h"
#include "server/signal_store.h"
#include "store/gateway.h"
#include "tsdb/storage.h"

namespace strata::server {

// Metrics as a SignalStore: the tenants' heads (tsdb::Storage) cut blocks under `staging_dir`,
// uploaded to each tenant's bucket and made visible in the store gateway at once.
class MetricsStore : public SignalStore {
 public:
  // Everything passed outlives this.
  MetricsStore(tsdb::Storage& storage, store::StoreGateway& gateway,
               objstore::BucketRegistry& buckets, TenantMarkers& markers, std::string staging_dir)
      : storage_(storage),
        gateway_(gateway),
        buckets_(buckets),
        markers_(markers),
        staging_dir_(std::move(staging_dir)) {}

  Signal signal() const override { return Signal::kMetrics; }
  void Ship() override;
  // Metrics blocks cover aligned ranges (block_range_ms): a flush ships every complete one
  // now; the open range stays in the head, as in Prometheus.
  Status Flush() override;
  void Sync() override;
  void EvictIdle(int64_t now_ms) override { gateway_.EvictIndexes(now_ms); }

 private:
  Status ShipAll();

  tsdb::Storage& storage_;
  store::StoreGateway& gateway_;
  objstore::BucketRegistry& buckets_;
  TenantMarkers& markers_;
  const std::string staging_dir_;
};

}  // namespace strata::server
