#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "traces/wal_record.h"

namespace strata::traces {

// A trace as a read finds it: a serialized TracesData with each span once
// (proto::AssembleTrace), its span count and the bytes read to assemble it.
struct FoundTrace {
  std::string traces_data;
  uint64_t spans = 0;
  uint64_t bytes_read = 0;
};

// A sealed trace as a block takes it: its sealed fragments assembled, their span count and
// time bounds.
struct SealedTrace {
  std::string traces_data;
  uint64_t spans = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

// Head holds a tenant's recent spans in memory, grouped by trace: each trace is the list of
// fragments (serialized ResourceSpans, proto/otlp_traces.h) appended to it, in the order they
// came, each numbered in append order. A block cut seals the fragments of the traces idle
// long enough (Seal), writes them (SealedIds, ReadSealed) and, once the block is visible,
// drops them (DropSealed); fragments appended meanwhile stay. Appends and seals are serialized
// by the owner (Db's commit lock); reads run beside them.
class Head {
 public:
  enum class AppendResult {
    kAppended,
    kDuplicate,      // the trace holds an identical fragment (a retried request): kept once
    kTraceTooLarge,  // the trace would be over the per-trace byte limit
  };

  // Appends a copy of `f` to its trace, at `now_ms`, unless the trace holds an identical
  // fragment or its fragments would then hold more than `max_trace_bytes` bytes (0: no
  // limit).
  AppendResult Append(const Fragment& f, uint64_t max_trace_bytes, int64_t now_ms) EXCLUDES(mu_);

  // Fills `found` with every fragment of the trace and returns true; false when the head
  // holds no span of it.
  bool Read(std::string_view trace_id, FoundTrace* found) const EXCLUDES(mu_);

  // The IDs of the traces with a fragment whose spans meet [start_ns, end_ns], sorted.
  std::vector<std::string> TraceIdsIn(int64_t start_ns, int64_t end_ns) const EXCLUDES(mu_);

  // Seals the fragments of every trace that had no append for `idle_ms` at `now_ms` (every
  // trace when `all`); returns how many traces have sealed fragments.
  size_t Seal(int64_t now_ms, int64_t idle_ms, bool all) EXCLUDES(mu_);
  // The IDs of the traces with sealed fragments, sorted.
  std::vector<std::string> SealedIds() const EXCLUDES(mu_);
  // The sealed part of a trace; false when it has none.
  bool ReadSealed(std::string_view trace_id, SealedTrace* out) const EXCLUDES(mu_);
  // Drops every sealed fragment, and the traces left without fragments; returns the bytes
  // freed.
  uint64_t DropSealed() EXCLUDES(mu_);
  // The number the next appended fragment gets: fragments numbered below it were appended
  // before.
  uint64_t next_seq() const EXCLUDES(mu_);
  // Calls `fn` with every fragment numbered below `seq`, trace by trace, without holding the
  // head's lock.
  void ForEachFragmentBefore(uint64_t seq, const std::function<void(const Fragment&)>& fn) const
      EXCLUDES(mu_);

  uint64_t num_traces() const { return traces_.load(std::memory_order_relaxed); }
  uint64_t num_spans() const { return spans_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  struct Stored {
    std::string data;  // a serialized ResourceSpans
    uint64_t seq = 0;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    uint32_t spans = 0;
  };
  struct Trace {
    std::vector<Stored> fragments;
    size_t sealed = 0;  // fragments [0, sealed) are sealed
    uint64_t bytes = 0;
    int64_t last_append_ms = 0;
  };

  mutable SharedMutex mu_;
  std::unordered_map<std::string, Trace> traces_by_id_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> traces_{0};
  std::atomic<uint64_t> spans_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace strata::traces
