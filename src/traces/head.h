#pragma once

#include <atomic>
#include <cstdint>
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

// Head holds a tenant's recent spans in memory, grouped by trace: each trace is the list of
// fragments (serialized ResourceSpans, proto/otlp_traces.h) appended to it, in the order they
// came. Appends are serialized by the owner (Db's commit lock); reads run beside them.
class Head {
 public:
  enum class AppendResult {
    kAppended,
    kTraceTooLarge,  // the trace would be over the per-trace byte limit
  };

  // Appends a copy of `f` to its trace unless the trace's fragments would then hold more than
  // `max_trace_bytes` bytes (0: no limit).
  AppendResult Append(const Fragment& f, uint64_t max_trace_bytes) EXCLUDES(mu_);

  // Fills `found` and returns true; false when the head holds no span of the trace.
  bool Read(std::string_view trace_id, FoundTrace* found) const EXCLUDES(mu_);

  uint64_t num_traces() const { return traces_.load(std::memory_order_relaxed); }
  uint64_t num_spans() const { return spans_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  struct Trace {
    std::vector<std::string> fragments;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    uint64_t bytes = 0;
    uint32_t spans = 0;
  };

  mutable SharedMutex mu_;
  std::unordered_map<std::string, Trace> traces_by_id_ GUARDED_BY(mu_);
  std::atomic<uint64_t> traces_{0};
  std::atomic<uint64_t> spans_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace strata::traces
