#include "server/logs_store.h"

#include <spdlog/spdlog.h>

#include "base/units.h"
#include "blocks/lifecycle.h"
#include "logs/block/writer.h"

namespace strata::server {

Status LogsStore::Cut(bool force) {
  Status first;
  for (const auto& [tenant, db] : storage_.Tenants()) {
    auto bucket = buckets_.For(tenant, objstore::Component::kIngest, Signal::kLogs);
    auto ship = [&, &tenant = tenant](const std::string& dir, const logs::block::BlockMeta& meta) {
      RETURN_IF_ERROR(markers_.Ensure(*bucket, tenant));
      RETURN_IF_ERROR(blocks::UploadBlock(*bucket, blocks::BlocksRoot(tenant, Signal::kLogs),
                                          meta.id, dir, logs::block::BlockWriter::Files(),
                                          logs::block::EncodeMeta(meta)));
      gateway_.AddBlock(tenant, meta);
      return Status::Ok();
    };
    auto cut = db->CutBlock(opts_.staging_dir, ship, force, NowMillis());
    // A forced cut that shipped entries sealed before (a retry) seals and ships the rest too.
    if (force && cut.ok() && cut->has_value()) {
      cut = db->CutBlock(opts_.staging_dir, ship, force, NowMillis());
    }
    if (!cut.ok()) {
      // The head keeps the entries and the WAL keeps them durable; the next tick retries.
      spdlog::warn("msg=\"block not shipped, will retry\" signal=logs tenant={} err=\"{}\"", tenant,
                   cut.status().ToString());
      if (first.ok()) first = cut.status();
    }
  }
  return first;
}

void LogsStore::Sync() {
  SyncTenants(buckets_, Signal::kLogs,
              [this](const std::string& tenant) { return gateway_.Sync(tenant); });
}

}  // namespace strata::server
