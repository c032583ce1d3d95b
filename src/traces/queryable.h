#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "traces/block/columns.h"
#include "traces/gateway.h"
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
  // Calls `fn` with each of the tenant's traces that has spans stored in [start_ns, end_ns],
  // as TraceById finds it (each span once, wherever stored; `spans` not counted; `bytes_read`
  // its stored size), once. With a `filter`, traces that it rules out from a block's columns
  // are left out: it decides on a trace only where the trace is stored whole (in one block),
  // which the blocks' fingerprints tell.
  //
  // Traces stored in one block are given as their block is read, newest block first; a trace
  // in the head or in several blocks is held until all are read, then given (in ID order).
  // At most `max_bytes` of traces are held: past that the search fails (kLimitExceeded) or,
  // with `truncated`, stops reading, gives what it holds and sets *truncated. `fn` returning
  // false stops the search.
  virtual Status Search(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                        uint64_t max_bytes, const std::function<bool(const FoundTrace&)>& fn,
                        bool* truncated = nullptr, block::TraceFilter* filter = nullptr) const = 0;
};

// The trace Queryable of `strata serve`, the one place where trace heads and blocks are put
// together for queries: a trace is what the tenant's head and its blocks in the Gateway hold
// of it, each span once. The head is read first: a block cut drops spans from the head only
// once their block is in the gateway, so they are found in one or the other. Without storage,
// queries are refused with kUnavailable. Thread-safe.
class StorageQueryable : public Queryable {
 public:
  // Each must outlive this object or be detached (null) first.
  void SetStorage(const Storage* storage) { storage_.store(storage, std::memory_order_release); }
  void SetGateway(const Gateway* gateway) { gateway_.store(gateway, std::memory_order_release); }

  Result<std::optional<FoundTrace>> TraceById(const std::string& tenant,
                                              std::string_view trace_id) const override;
  Status Search(const std::string& tenant, int64_t start_ns, int64_t end_ns, uint64_t max_bytes,
                const std::function<bool(const FoundTrace&)>& fn, bool* truncated = nullptr,
                block::TraceFilter* filter = nullptr) const override;

 private:
  std::atomic<const Storage*> storage_{nullptr};
  std::atomic<const Gateway*> gateway_{nullptr};
};

}  // namespace strata::traces
