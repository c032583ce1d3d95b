#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "tsdb/db.h"

namespace strata::tsdb {

struct StorageOptions {
  std::string data_dir = "./data";
  DbOptions db;
};

// Storage owns one Db per tenant under <data_dir>/tenants/<tenant>/ and an exclusive lock on
// the data directory. Thread-safe; Db pointers stay valid until Close.
class Storage {
 public:
  // Locks the data directory and opens (replays) every tenant found in it.
  static Result<std::unique_ptr<Storage>> Open(const StorageOptions& opts);
  ~Storage();

  // The tenant's Db, created on first use. The name must satisfy IsValidTenantName.
  Result<Db*> GetOrCreate(const std::string& tenant) EXCLUDES(mu_);
  // The tenant's Db if it exists (reads must not create tenants), else nullptr.
  Db* Find(const std::string& tenant) const EXCLUDES(mu_);
  std::vector<std::pair<std::string, Db*>> Tenants() const EXCLUDES(mu_);
  // Checkpoints every tenant whose WAL has grown enough; logs failures.
  void MaybeCheckpointAll();
  Status Close();
  static std::string TenantsDir(const std::string& data_dir) { return data_dir + "/tenants"; }

 private:
  explicit Storage(StorageOptions opts) : opts_(std::move(opts)) {}

  const StorageOptions opts_;
  std::unique_ptr<DirLock> lock_;
  mutable SharedMutex mu_;
  std::map<std::string, std::unique_ptr<Db>> dbs_ GUARDED_BY(mu_);
};

}  // namespace strata::tsdb
