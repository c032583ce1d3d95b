#pragma once

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/file.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/tenant.h"
#include "base/thread_annotations.h"

namespace strata {

// TenantStores owns one store per tenant (a metrics tsdb::Db, a logs::Db) in `<dir>/<tenant>/`,
// opened by `open` on first use or at start-up. Store needs `Status Close()`. Thread-safe;
// Store pointers stay valid until CloseAll.
template <typename Store>
class TenantStores {
 public:
  using OpenFn = std::function<Result<std::unique_ptr<Store>>(const std::string& dir,
                                                              const std::string& tenant)>;

  TenantStores(std::string dir, OpenFn open) : dir_(std::move(dir)), open_(std::move(open)) {}

  // Creates `root` (a directory holding `dir`), takes its exclusive lock for this process's
  // life (base/file.h's DirLock: kUnavailable when another process has it), then opens the
  // existing tenants as OpenExisting does.
  Status LockAndOpen(const std::string& root,
                     const std::function<void(const std::string&, const Store&)>& opened) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) return Status::IOError(fmt::format("creating {}: {}", root, ec.message()));
    ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(root));
    lock_ = std::make_unique<DirLock>(std::move(lock));
    return OpenExisting(opened);
  }

  // Creates `dir` and opens every tenant directory in it (names that are not tenant IDs are
  // skipped with a warning), calling `opened` for each.
  Status OpenExisting(const std::function<void(const std::string&, const Store&)>& opened)
      EXCLUDES(mu_) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return Status::IOError(fmt::format("creating {}: {}", dir_, ec.message()));
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
      if (!e.is_directory()) continue;
      std::string tenant = e.path().filename().string();
      if (!ValidateTenantId(tenant).ok()) {
        spdlog::warn("msg=\"ignoring a directory that is not a tenant\" path={}",
                     e.path().string());
        continue;
      }
      ASSIGN_OR_RETURN(std::unique_ptr<Store> store, open_(e.path().string(), tenant));
      opened(tenant, *store);
      WriterLock lk(mu_);
      stores_.emplace(tenant, std::move(store));
    }
    if (ec) return Status::IOError(fmt::format("listing {}: {}", dir_, ec.message()));
    return Status::Ok();
  }

  // The tenant's store, created on first use; the name must be a valid tenant ID.
  Result<Store*> GetOrCreate(const std::string& tenant) EXCLUDES(mu_) {
    if (Store* s = Find(tenant)) return s;
    RETURN_IF_ERROR(ValidateTenantId(tenant));
    WriterLock lk(mu_);
    auto it = stores_.find(tenant);
    if (it != stores_.end()) return it->second.get();
    ASSIGN_OR_RETURN(std::unique_ptr<Store> store, open_(dir_ + "/" + tenant, tenant));
    Store* raw = store.get();
    stores_.emplace(tenant, std::move(store));
    return raw;
  }

  // The tenant's store if it exists (reads must not create tenants), else nullptr.
  Store* Find(const std::string& tenant) const EXCLUDES(mu_) {
    ReaderLock lk(mu_);
    auto it = stores_.find(tenant);
    return it == stores_.end() ? nullptr : it->second.get();
  }

  std::vector<std::pair<std::string, Store*>> All() const EXCLUDES(mu_) {
    ReaderLock lk(mu_);
    std::vector<std::pair<std::string, Store*>> out;
    out.reserve(stores_.size());
    for (const auto& [name, s] : stores_) out.emplace_back(name, s.get());
    return out;
  }

  // Closes every store; the first failure is returned, annotated with its tenant.
  Status CloseAll() EXCLUDES(mu_) {
    WriterLock lk(mu_);
    Status first;
    for (auto& [name, s] : stores_) {
      Status st = s->Close();
      if (!st.ok() && first.ok()) first = st.Annotate(name);
    }
    return first;
  }

  const std::string& dir() const { return dir_; }

 private:
  const std::string dir_;
  const OpenFn open_;
  std::unique_ptr<DirLock> lock_;  // LockAndOpen's
  mutable SharedMutex mu_;
  std::map<std::string, std::unique_ptr<Store>> stores_ GUARDED_BY(mu_);
};

}  // namespace strata
