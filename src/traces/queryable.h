#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "traces/head.h"
#include "traces/storage.h"

namespace strata::traces {

// What trace queries read: a tenant's traces, wherever they are stored. Thread-safe.
class Queryable {
 public:
  virtual ~Queryable() = default;
  // The tenant's trace with this 16-byte ID; nullopt when no span of it is stored.
  virtual Result<std::optional<FoundTrace>> TraceById(const std::string& tenant,
                                                      std::string_view trace_id) const = 0;
};

// The trace Queryable of `strata serve`, the one place where trace heads are put together
// for queries. Without storage, queries are refused with kUnavailable. Thread-safe.
class StorageQueryable : public Queryable {
 public:
  // Must outlive this object or be detached (null) first.
  void SetStorage(const Storage* storage) { storage_.store(storage, std::memory_order_release); }

  Result<std::optional<FoundTrace>> TraceById(const std::string& tenant,
                                              std::string_view trace_id) const override {
    const Storage* storage = storage_.load(std::memory_order_acquire);
    if (storage == nullptr) {
      return Status::Unavailable("trace storage is not open (starting up or shutting down)");
    }
    const Db* db = storage->Find(tenant);
    FoundTrace found;
    if (db == nullptr || !db->head().Read(trace_id, &found)) return std::optional<FoundTrace>();
    return std::optional<FoundTrace>(std::move(found));
  }

 private:
  std::atomic<const Storage*> storage_{nullptr};
};

}  // namespace strata::traces
