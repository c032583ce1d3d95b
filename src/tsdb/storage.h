#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "base/status.h"
#include "base/tenant_stores.h"
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

  // The tenant's Db, created on first use. The name must be a valid tenant ID.
  Result<Db*> GetOrCreate(const std::string& tenant) { return dbs_.GetOrCreate(tenant); }
  // The tenant's Db if it exists (reads must not create tenants), else nullptr.
  Db* Find(const std::string& tenant) const { return dbs_.Find(tenant); }
  std::vector<std::pair<std::string, Db*>> Tenants() const { return dbs_.All(); }
  // Checkpoints every tenant whose WAL has grown enough; logs failures.
  void MaybeCheckpointAll();
  Status Close() { return dbs_.CloseAll(); }
  static std::string TenantsDir(const std::string& data_dir) { return data_dir + "/tenants"; }

 private:
  explicit Storage(const StorageOptions& opts);

  TenantStores<Db> dbs_;
};

}  // namespace strata::tsdb
