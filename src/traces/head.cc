#include "traces/head.h"

#include <algorithm>
#include <limits>

#include "proto/otlp_traces.h"

namespace strata::traces {

Head::AppendResult Head::Append(const Fragment& f, uint64_t max_trace_bytes, int64_t now_ms) {
  WriterLock lk(mu_);
  auto [it, added] = traces_by_id_.try_emplace(std::string(f.trace_id));
  Trace& t = it->second;
  const uint64_t size = f.resource_spans.size();
  for (const Stored& s : t.fragments) {
    if (s.data == f.resource_spans) return AppendResult::kDuplicate;
  }
  if (max_trace_bytes > 0 && t.bytes + size > max_trace_bytes) {
    if (added) traces_by_id_.erase(it);
    return AppendResult::kTraceTooLarge;
  }
  if (added) traces_.fetch_add(1, std::memory_order_relaxed);
  t.fragments.push_back(
      {std::string(f.resource_spans), next_seq_++, f.start_ns, f.end_ns, f.spans});
  t.bytes += size;
  t.last_append_ms = now_ms;
  spans_.fetch_add(f.spans, std::memory_order_relaxed);
  bytes_.fetch_add(size, std::memory_order_relaxed);
  return AppendResult::kAppended;
}

bool Head::Read(std::string_view trace_id, FoundTrace* found) const {
  ReaderLock lk(mu_);
  auto it = traces_by_id_.find(std::string(trace_id));
  if (it == traces_by_id_.end()) return false;
  std::vector<std::string_view> fragments;
  for (const Stored& s : it->second.fragments) fragments.push_back(s.data);
  found->traces_data = proto::AssembleTrace(fragments, &found->spans);
  found->bytes_read = it->second.bytes;
  return true;
}

std::vector<std::string> Head::TraceIdsIn(int64_t start_ns, int64_t end_ns) const {
  std::vector<std::string> out;
  ReaderLock lk(mu_);
  for (const auto& [id, t] : traces_by_id_) {
    for (const Stored& f : t.fragments) {
      if (f.start_ns <= end_ns && f.end_ns >= start_ns) {
        out.push_back(id);
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Head::Seal(int64_t now_ms, int64_t idle_ms, bool all) {
  WriterLock lk(mu_);
  size_t sealed = 0;
  for (auto& [id, t] : traces_by_id_) {
    if (all || now_ms - t.last_append_ms >= idle_ms) t.sealed = t.fragments.size();
    if (t.sealed > 0) ++sealed;
  }
  return sealed;
}

std::vector<std::string> Head::SealedIds() const {
  std::vector<std::string> out;
  ReaderLock lk(mu_);
  for (const auto& [id, t] : traces_by_id_) {
    if (t.sealed > 0) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Head::ReadSealed(std::string_view trace_id, SealedTrace* out) const {
  ReaderLock lk(mu_);
  auto it = traces_by_id_.find(std::string(trace_id));
  if (it == traces_by_id_.end() || it->second.sealed == 0) return false;
  std::vector<std::string_view> fragments;
  out->start_ns = std::numeric_limits<int64_t>::max();
  out->end_ns = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < it->second.sealed; ++i) {
    const Stored& s = it->second.fragments[i];
    fragments.push_back(s.data);
    out->start_ns = std::min(out->start_ns, s.start_ns);
    out->end_ns = std::max(out->end_ns, s.end_ns);
  }
  out->traces_data = proto::AssembleTrace(fragments, &out->spans);
  return true;
}

uint64_t Head::DropSealed() {
  WriterLock lk(mu_);
  uint64_t freed = 0;
  for (auto it = traces_by_id_.begin(); it != traces_by_id_.end();) {
    Trace& t = it->second;
    uint64_t spans = 0, bytes = 0;
    for (size_t i = 0; i < t.sealed; ++i) {
      spans += t.fragments[i].spans;
      bytes += t.fragments[i].data.size();
    }
    t.fragments.erase(t.fragments.begin(), t.fragments.begin() + static_cast<ptrdiff_t>(t.sealed));
    t.sealed = 0;
    t.bytes -= bytes;
    freed += bytes;
    spans_.fetch_sub(spans, std::memory_order_relaxed);
    bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    if (t.fragments.empty()) {
      it = traces_by_id_.erase(it);
      traces_.fetch_sub(1, std::memory_order_relaxed);
    } else {
      ++it;
    }
  }
  return freed;
}

uint64_t Head::next_seq() const {
  ReaderLock lk(mu_);
  return next_seq_;
}

void Head::ForEachFragmentBefore(uint64_t seq,
                                 const std::function<void(const Fragment&)>& fn) const {
  // A trace at a time, copied out: appends wait for the lock only as long as one copy.
  std::vector<std::string> ids;
  {
    ReaderLock lk(mu_);
    ids.reserve(traces_by_id_.size());
    for (const auto& [id, t] : traces_by_id_) ids.push_back(id);
  }
  std::vector<Stored> copy;
  for (const std::string& id : ids) {
    copy.clear();
    {
      ReaderLock lk(mu_);
      auto it = traces_by_id_.find(id);
      if (it == traces_by_id_.end()) continue;
      for (const Stored& s : it->second.fragments) {
        if (s.seq < seq) copy.push_back(s);
      }
    }
    for (const Stored& s : copy) fn({id, s.data, s.start_ns, s.end_ns, s.spans});
  }
}

}  // namespace strata::traces
