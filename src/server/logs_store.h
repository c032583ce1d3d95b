#pragma once

#include <cstdint>
#include <string>

#include "logs/gateway.h"
#include "logs/storage.h"
#include "objstore/registry.h"
#include "server/signal_store.h"

namespace strata::server {

struct LogsStoreOptions {
  std::string staging_dir;
  int64_t index_idle_ms = 3'600'000;      // block indexes unused this long are dropped
  uint64_t index_max_bytes = 256u << 20;  // and the least recently used beyond this
};

// Logs as a SignalStore: each tenant's log Db cuts a block when one is due (logs::DbOptions),
// uploaded to the tenant's bucket under its logs root and visible in the log Gateway at once.
class LogsStore : public SignalStore {
 public:
  // Everything passed outlives this.
  LogsStore(logs::Storage& storage, logs::Gateway& gateway, objstore::BucketRegistry& buckets,
            TenantMarkers& markers, LogsStoreOptions opts)
      : storage_(storage),
        gateway_(gateway),
        buckets_(buckets),
        markers_(markers),
        opts_(std::move(opts)) {}

  Signal signal() const override { return Signal::kLogs; }
  void Ship() override { (void)Cut(false); }
  Status Flush() override { return Cut(true); }
  void Sync() override;
  void EvictIdle(int64_t now_ms) override {
    gateway_.EvictIndexes(now_ms, opts_.index_idle_ms, opts_.index_max_bytes);
  }

 private:
  // Cuts every tenant's due blocks (all non-empty heads when `force`); the first failure.
  Status Cut(bool force);

  logs::Storage& storage_;
  logs::Gateway& gateway_;
  objstore::BucketRegistry& buckets_;
  TenantMarkers& markers_;
  const LogsStoreOptions opts_;
};

}  // namespace strata::server
