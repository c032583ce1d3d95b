#include "tsdb/storage.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/mutex.h"
#include "base/tenant.h"

namespace strata::tsdb {
namespace fs = std::filesystem;

Result<std::unique_ptr<Storage>> Storage::Open(const StorageOptions& opts) {
  std::unique_ptr<Storage> s(new Storage(opts));
  std::error_code ec;
  fs::create_directories(TenantsDir(opts.data_dir), ec);
  if (ec)
    return Status::IOError(fmt::format("creating data dir {}: {}", opts.data_dir, ec.message()));
  auto lock = DirLock::Acquire(opts.data_dir);
  if (!lock.ok()) return lock.status();
  s->lock_ = std::make_unique<DirLock>(std::move(*lock));
  auto start = std::chrono::steady_clock::now();
  size_t series = 0;
  for (const auto& e : fs::directory_iterator(TenantsDir(opts.data_dir), ec)) {
    if (!e.is_directory()) continue;
    std::string tenant = e.path().filename().string();
    if (!ValidateTenantId(tenant).ok()) {
      spdlog::warn("msg=\"ignoring a directory that is not a tenant\" path={}", e.path().string());
      continue;
    }
    auto db = Db::Open(e.path().string(), opts.db, tenant);
    if (!db.ok()) return db.status();
    const auto& rs = (*db)->replay_stats();
    series += (*db)->head().num_series();
    spdlog::info(
        "msg=\"tenant WAL replayed\" tenant={} series={} records={} bytes={} checkpoint={} "
        "truncated_bytes={}",
        tenant, (*db)->head().num_series(), rs.records, rs.bytes, rs.from_checkpoint,
        rs.truncated_bytes);
    WriterLock lk(s->mu_);
    s->dbs_.emplace(tenant, std::move(db).value());
  }
  if (ec)
    return Status::IOError(fmt::format("listing {}: {}", TenantsDir(opts.data_dir), ec.message()));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  size_t tenants = 0;
  {
    ReaderLock lk(s->mu_);
    tenants = s->dbs_.size();
  }
  spdlog::info("msg=\"storage opened\" data_dir={} tenants={} series={} replay_ms={}",
               opts.data_dir, tenants, series, ms);
  return s;
}

Storage::~Storage() { (void)Close(); }

Result<Db*> Storage::GetOrCreate(const std::string& tenant) {
  {
    ReaderLock lk(mu_);
    auto it = dbs_.find(tenant);
    if (it != dbs_.end()) return it->second.get();
  }
  RETURN_IF_ERROR(ValidateTenantId(tenant));
  WriterLock lk(mu_);
  auto it = dbs_.find(tenant);
  if (it != dbs_.end()) return it->second.get();
  ASSIGN_OR_RETURN(auto db, Db::Open(TenantsDir(opts_.data_dir) + "/" + tenant, opts_.db, tenant));
  Db* raw = db.get();
  dbs_.emplace(tenant, std::move(db));
  return raw;
}

Db* Storage::Find(const std::string& tenant) const {
  ReaderLock lk(mu_);
  auto it = dbs_.find(tenant);
  return it == dbs_.end() ? nullptr : it->second.get();
}

std::vector<std::pair<std::string, Db*>> Storage::Tenants() const {
  ReaderLock lk(mu_);
  std::vector<std::pair<std::string, Db*>> out;
  out.reserve(dbs_.size());
  for (const auto& [name, db] : dbs_) out.emplace_back(name, db.get());
  return out;
}

void Storage::MaybeCheckpointAll() {
  for (auto& [name, db] : Tenants()) {
    Status st = db->MaybeCheckpoint();
    if (!st.ok()) {
      spdlog::error("msg=\"WAL checkpoint failed\" tenant={} err=\"{}\"", name, st.ToString());
    }
  }
}

Status Storage::Close() {
  WriterLock lk(mu_);
  Status first;
  for (auto& [name, db] : dbs_) {
    Status st = db->Close();
    if (!st.ok() && first.ok()) first = st.Annotate(name);
  }
  return first;
}

}  // namespace strata::tsdb
