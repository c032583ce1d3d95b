#include "traces/head.h"

#include <algorithm>

#include "proto/otlp_traces.h"

namespace strata::traces {

Head::AppendResult Head::Append(const Fragment& f, uint64_t max_trace_bytes) {
  WriterLock lk(mu_);
  auto [it, added] = traces_by_id_.try_emplace(std::string(f.trace_id));
  Trace& t = it->second;
  const uint64_t size = f.resource_spans.size();
  if (max_trace_bytes > 0 && t.bytes + size > max_trace_bytes) {
    if (added) traces_by_id_.erase(it);
    return AppendResult::kTraceTooLarge;
  }
  if (added) {
    t.start_ns = f.start_ns;
    t.end_ns = f.end_ns;
    traces_.fetch_add(1, std::memory_order_relaxed);
  } else {
    t.start_ns = std::min(t.start_ns, f.start_ns);
    t.end_ns = std::max(t.end_ns, f.end_ns);
  }
  t.fragments.emplace_back(f.resource_spans);
  t.bytes += size;
  t.spans += f.spans;
  spans_.fetch_add(f.spans, std::memory_order_relaxed);
  bytes_.fetch_add(size, std::memory_order_relaxed);
  return AppendResult::kAppended;
}

bool Head::Read(std::string_view trace_id, FoundTrace* found) const {
  ReaderLock lk(mu_);
  auto it = traces_by_id_.find(std::string(trace_id));
  if (it == traces_by_id_.end()) return false;
  std::vector<std::string_view> fragments(it->second.fragments.begin(), it->second.fragments.end());
  found->traces_data = proto::AssembleTrace(fragments, &found->spans);
  found->bytes_read = it->second.bytes;
  return true;
}

}  // namespace strata::traces
