#include "logs/stream.h"

#include <algorithm>
#include <numeric>

#include "base/coding.h"

namespace strata::logs {

Stream::Stream(uint32_t ref, uint64_t hash, std::span<const index::LabelSym> labels)
    : ref_(ref),
      hash_(hash),
      num_labels_(static_cast<uint32_t>(labels.size())),
      labels_(std::make_unique<index::LabelSym[]>(labels.size())) {
  std::copy(labels.begin(), labels.end(), labels_.get());
}

bool Stream::LabelsEqual(std::span<const LabelView> other) const {
  if (other.size() != num_labels_) return false;
  for (size_t i = 0; i < other.size(); ++i) {
    if (labels_[i].name.view() != other[i].name || labels_[i].value.view() != other[i].value) {
      return false;
    }
  }
  return true;
}

Labels Stream::OwnedLabels() const {
  Labels out;
  out.reserve(num_labels_);
  for (const auto& l : labels())
    out.push_back({std::string(l.name.view()), std::string(l.value.view())});
  return out;
}

Entry Stream::Decode(const Chunk& c, size_t i) {
  Entry e;
  e.ts_ns = c.ts[i];
  ByteReader r(std::string_view(c.data).substr(c.offsets[i]));
  std::string_view line;
  uint64_t n = 0;
  // The bytes were written by Append: they decode.
  (void)r.ReadLengthPrefixed(&line);
  e.line = std::string(line);
  (void)r.ReadUvarint(&n);
  e.metadata.reserve(n);
  for (uint64_t k = 0; k < n; ++k) {
    std::string_view name, value;
    (void)r.ReadLengthPrefixed(&name);
    (void)r.ReadLengthPrefixed(&value);
    e.metadata.push_back({std::string(name), std::string(value)});
  }
  return e;
}

bool Stream::Contains(int64_t ts_ns, std::string_view line,
                      std::span<const LabelView> metadata) const {
  for (const Chunk& c : chunks_) {
    if (ts_ns < c.min_ts || ts_ns > c.max_ts) continue;
    for (size_t i = 0; i < c.ts.size(); ++i) {
      if (c.ts[i] != ts_ns) continue;
      Entry e = Decode(c, i);
      if (e.line != line || e.metadata.size() != metadata.size()) continue;
      bool same = true;
      for (size_t k = 0; k < metadata.size() && same; ++k) {
        same = e.metadata[k].name == metadata[k].name && e.metadata[k].value == metadata[k].value;
      }
      if (same) return true;
    }
  }
  return false;
}

AppendResult Stream::Append(int64_t ts_ns, std::string_view line,
                            std::span<const LabelView> metadata, int64_t window_ns) {
  if (num_entries_ > 0 && ts_ns <= max_ts_) {
    if (max_ts_ - ts_ns > window_ns) return AppendResult::kTooOld;
    if (Contains(ts_ns, line, metadata)) return AppendResult::kDuplicate;
  }
  if (chunks_.empty() || chunks_.back().data.size() >= kChunkBytes) {
    if (!chunks_.empty()) chunks_.back().data.shrink_to_fit();
    chunks_.emplace_back();
  }
  Chunk& c = chunks_.back();
  if (!c.ts.empty() && ts_ns < c.ts.back()) c.ordered = false;
  c.ts.push_back(ts_ns);
  c.offsets.push_back(static_cast<uint32_t>(c.data.size()));
  PutLengthPrefixed(c.data, line);
  PutUvarint(c.data, metadata.size());
  for (const auto& m : metadata) {
    PutLengthPrefixed(c.data, m.name);
    PutLengthPrefixed(c.data, m.value);
  }
  c.min_ts = std::min(c.min_ts, ts_ns);
  c.max_ts = std::max(c.max_ts, ts_ns);
  min_ts_ = std::min(min_ts_, ts_ns);
  max_ts_ = std::max(max_ts_, ts_ns);
  ++num_entries_;
  return AppendResult::kAppended;
}

void Stream::Entries(int64_t mint, int64_t maxt, std::vector<Entry>& out) const {
  if (mint > max_ts_ || maxt < min_ts_) return;
  const size_t first = out.size();
  bool ordered = true;
  int64_t last = INT64_MIN;
  for (const Chunk& c : chunks_) {
    if (c.max_ts < mint || c.min_ts > maxt) continue;
    ordered = ordered && c.ordered && c.min_ts >= last;
    last = std::max(last, c.max_ts);
    for (size_t i = 0; i < c.ts.size(); ++i) {
      if (c.ts[i] >= mint && c.ts[i] <= maxt) out.push_back(Decode(c, i));
    }
  }
  if (!ordered) {
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                     [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
  }
}

size_t Stream::MemoryBytes() const {
  size_t n = sizeof(Stream) + num_labels_ * sizeof(index::LabelSym);
  for (const Chunk& c : chunks_) {
    n += sizeof(Chunk) + c.ts.capacity() * sizeof(int64_t) +
         c.offsets.capacity() * sizeof(uint32_t) + c.data.capacity();
  }
  return n;
}

}  // namespace strata::logs
