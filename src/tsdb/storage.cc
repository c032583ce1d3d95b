#include "tsdb/storage.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace strata::tsdb {

Storage::Storage(const StorageOptions& opts)
    : dbs_(TenantsDir(opts.data_dir),
           [db_opts = opts.db](const std::string& dir, const std::string& tenant) {
             return Db::Open(dir, db_opts, tenant);
           }) {}

Result<std::unique_ptr<Storage>> Storage::Open(const StorageOptions& opts) {
  std::unique_ptr<Storage> s(new Storage(opts));
  auto start = std::chrono::steady_clock::now();
  size_t series = 0, tenants = 0;
  RETURN_IF_ERROR(s->dbs_.LockAndOpen(opts.data_dir, [&](const std::string& tenant, const Db& db) {
    const auto& rs = db.replay_stats();
    series += db.head().num_series();
    ++tenants;
    spdlog::info(
        "msg=\"tenant WAL replayed\" tenant={} series={} records={} bytes={} checkpoint={} "
        "truncated_bytes={}",
        tenant, db.head().num_series(), rs.records, rs.bytes, rs.from_checkpoint,
        rs.truncated_bytes);
  }));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  spdlog::info("msg=\"storage opened\" data_dir={} tenants={} series={} replay_ms={}",
               opts.data_dir, tenants, series, ms);
  return s;
}

Storage::~Storage() { (void)Close(); }

void Storage::MaybeCheckpointAll() {
  for (auto& [name, db] : Tenants()) {
    Status st = db->MaybeCheckpoint();
    if (!st.ok()) {
      spdlog::error("msg=\"WAL checkpoint failed\" tenant={} err=\"{}\"", name, st.ToString());
    }
  }
}

}  // namespace strata::tsdb
