#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/tenant_stores.h"
#include "traces/db.h"

namespace strata::traces {

struct StorageOptions {
  std::string dir = "./data/traces";  // the server uses <data_dir>/traces
  DbOptions db;
};

// Storage owns one trace Db per tenant under <dir>/tenants/<tenant>/ and an exclusive lock
// on <dir>. Thread-safe; Db pointers stay valid until Close.
class Storage {
 public:
  // Locks the directory and opens (replays) every tenant found in it.
  static Result<std::unique_ptr<Storage>> Open(const StorageOptions& opts);
  ~Storage() { (void)Close(); }

  Result<Db*> GetOrCreate(const std::string& tenant) { return dbs_.GetOrCreate(tenant); }
  Db* Find(const std::string& tenant) const { return dbs_.Find(tenant); }
  std::vector<std::pair<std::string, Db*>> Tenants() const { return dbs_.All(); }
  Status Close() { return dbs_.CloseAll(); }

 private:
  explicit Storage(const StorageOptions& opts);

  TenantStores<Db> dbs_;
};

}  // namespace strata::traces
