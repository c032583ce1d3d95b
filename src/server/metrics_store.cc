#include "server/metrics_store.h"

#include <spdlog/spdlog.h>

#include "tsdb/block/bucket_io.h"

namespace strata::server {

void MetricsStore::Ship() { (void)ShipAll(); }

Status MetricsStore::Flush() { return ShipAll(); }

Status MetricsStore::ShipAll() {
  storage_.MaybeCheckpointAll();
  Status first;
  for (const auto& [tenant, db] : storage_.Tenants()) {
    auto bucket = buckets_.For(tenant, objstore::Component::kIngest, Signal::kMetrics);
    auto shipped = db->CutBlocks(
        staging_dir_,
        [&, &tenant = tenant](const std::string& dir, const tsdb::block::BlockMeta& meta) {
          RETURN_IF_ERROR(markers_.Ensure(*bucket, tenant));
          RETURN_IF_ERROR(tsdb::block::UploadBlock(*bucket, tenant, dir, meta));
          gateway_.AddBlock(tenant, meta);
          return Status::Ok();
        });
    if (!shipped.ok()) {
      // The head keeps the samples and the WAL keeps them durable; the next tick retries.
      spdlog::warn("msg=\"block not shipped, will retry\" signal=metrics tenant={} err=\"{}\"",
                   tenant, shipped.status().ToString());
      if (first.ok()) first = shipped.status();
    }
  }
  return first;
}

void MetricsStore::Sync() {
  SyncTenants(buckets_, Signal::kMetrics,
              [this](const std::string& tenant) { return gateway_.Sync(tenant); });
}

}  // namespace strata::server
