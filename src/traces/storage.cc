#include "traces/storage.h"

#include <spdlog/spdlog.h>

namespace strata::traces {

Storage::Storage(const StorageOptions& opts)
    : dbs_(opts.dir + "/tenants",
           [db_opts = opts.db](const std::string& dir, const std::string& tenant) {
             return Db::Open(dir, db_opts, tenant);
           }) {}

Result<std::unique_ptr<Storage>> Storage::Open(const StorageOptions& opts) {
  std::unique_ptr<Storage> s(new Storage(opts));
  RETURN_IF_ERROR(s->dbs_.LockAndOpen(opts.dir, [](const std::string& tenant, const Db& db) {
    const auto& rs = db.replay_stats();
    spdlog::info(
        "msg=\"tenant trace WAL replayed\" tenant={} traces={} spans={} records={} bytes={} "
        "truncated_bytes={}",
        tenant, db.head().num_traces(), db.head().num_spans(), rs.records, rs.bytes,
        rs.truncated_bytes);
  }));
  return s;
}

}  // namespace strata::traces
