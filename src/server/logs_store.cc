#include "server/logs_store.h"

#include "logs/block/writer.h"

namespace strata::server {

Status LogsStore::Cut(bool force) {
  return CutTenantBlocks<logs::Storage, logs::block::BlockMeta>(
      storage_, buckets_, markers_, Signal::kLogs, opts_.staging_dir, force,
      logs::block::BlockWriter::Files(), logs::block::EncodeMeta,
      [this](const std::string& tenant, const logs::block::BlockMeta& meta) {
        gateway_.AddBlock(tenant, meta);
        return Status::Ok();
      });
}

void LogsStore::Sync() {
  SyncTenants(buckets_, Signal::kLogs,
              [this](const std::string& tenant) { return gateway_.Sync(tenant); });
}

}  // namespace strata::server
