#include "server/traces_store.h"

#include "traces/block/writer.h"

namespace strata::server {

Status TracesStore::Cut(bool force) {
  return CutTenantBlocks<traces::Storage, traces::block::BlockMeta>(
      storage_, buckets_, markers_, Signal::kTraces, staging_dir_, force,
      traces::block::BlockWriter::Files(), traces::block::EncodeMeta,
      [this](const std::string& tenant, const traces::block::BlockMeta& meta) {
        return gateway_.AddBlock(tenant, meta);
      });
}

void TracesStore::Sync() {
  SyncTenants(buckets_, Signal::kTraces,
              [this](const std::string& tenant) { return gateway_.Sync(tenant); });
}

}  // namespace strata::server
