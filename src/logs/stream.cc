#include "logs/stream.h"

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "base/coding.h"

namespace strata::logs {

Stream::Stream(uint32_t ref, uint64_t hash, std::span<const index::LabelSym> labels)
    : ref_(ref),
      hash_(hash),
      num_labels_(static_cast<uint32_t>(labels.size())),
      labels_(std::make_unique<index::LabelSym[]>(labels.size())) {
  std::copy(labels.begin(), labels.end(), labels_.get());
}

Entry Stream::Decode(const View& v, size_t i) {
  Entry e;
  e.ts_ns = v.ts[i];
  ByteReader r(v.data.substr(v.offsets[i]));
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

namespace {

// The duplicate-detection key of an entry: timestamp, line and metadata, length-delimited.
uint64_t EntryKey(int64_t ts_ns, std::string_view line, std::span<const LabelView> metadata) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  auto add = [&](std::string_view s) {
    uint64_t n = s.size();
    XXH3_64bits_update(&st, &n, sizeof(n));
    XXH3_64bits_update(&st, s.data(), s.size());
  };
  XXH3_64bits_update(&st, &ts_ns, sizeof(ts_ns));
  add(line);
  for (const auto& m : metadata) {
    add(m.name);
    add(m.value);
  }
  return XXH3_64bits_digest(&st);
}

}  // namespace

Entry ToEntry(const EntryRef& e) {
  return Entry{e.ts_ns, std::string(e.line), ToLabels(e.metadata)};
}

void RemoveDuplicates(std::vector<Entry>& entries) {
  // Identical entries have the same time: each run of one time keeps the first of each.
  size_t w = 0;
  std::unordered_multimap<uint64_t, size_t> kept;  // key -> index in entries
  for (size_t g = 0, e = 0; g < entries.size(); g = e) {
    while (e < entries.size() && entries[e].ts_ns == entries[g].ts_ns) ++e;
    if (e - g == 1) {
      if (w != g) entries[w] = std::move(entries[g]);
      ++w;
      continue;
    }
    kept.clear();
    for (size_t r = g; r < e; ++r) {
      uint64_t k = EntryKey(entries[r].ts_ns, entries[r].line, ViewOf(entries[r].metadata));
      auto [lo, hi] = kept.equal_range(k);
      if (std::any_of(lo, hi, [&](const auto& p) { return entries[p.second] == entries[r]; })) {
        continue;
      }
      if (w != r) entries[w] = std::move(entries[r]);
      kept.emplace(k, w++);
    }
  }
  entries.resize(w);
}

bool Stream::Equals(const View& v, size_t i, std::string_view line,
                    std::span<const LabelView> metadata) {
  ByteReader r(v.data.substr(v.offsets[i]));
  std::string_view stored;
  uint64_t n = 0;
  if (!r.ReadLengthPrefixed(&stored) || stored != line || !r.ReadUvarint(&n) ||
      n != metadata.size()) {
    return false;
  }
  for (const auto& m : metadata) {
    std::string_view name, value;
    if (!r.ReadLengthPrefixed(&name) || !r.ReadLengthPrefixed(&value) || name != m.name ||
        value != m.value) {
      return false;
    }
  }
  return true;
}

bool Stream::Contains(int64_t ts_ns, uint64_t key, std::string_view line,
                      std::span<const LabelView> metadata, UnpackCache& cache) const {
  for (const Chunk& c : chunks_) {
    if (ts_ns < c.min_ts || ts_ns > c.max_ts) continue;
    // A key matches: the entry is confirmed byte for byte (a hash collision is no duplicate).
    if (!c.closed) {
      const View v = ViewChunk(c, cache);
      auto [b, e] = c.open_keys.equal_range(key);
      for (auto it = b; it != e; ++it) {
        if (v.ts[it->second] == ts_ns && Equals(v, it->second, line, metadata)) return true;
      }
    } else {
      auto it =
          std::lower_bound(c.keys.begin(), c.keys.end(), std::pair<uint64_t, uint32_t>{key, 0});
      if (it == c.keys.end() || it->first != key) continue;
      const View v = ViewChunk(c, cache);
      for (; it != c.keys.end() && it->first == key; ++it) {
        if (v.ts[it->second] == ts_ns && Equals(v, it->second, line, metadata)) return true;
      }
    }
  }
  return false;
}

AppendResult Stream::Append(int64_t ts_ns, std::string_view line,
                            std::span<const LabelView> metadata, int64_t window_ns,
                            UnpackCache& cache) {
  const uint64_t key = EntryKey(ts_ns, line, metadata);
  if (num_entries_ > 0 && ts_ns <= max_ts_) {
    if (max_ts_ - ts_ns > window_ns) return AppendResult::kTooOld;
    if (Contains(ts_ns, key, line, metadata, cache)) return AppendResult::kDuplicate;
  }
  if (chunks_.empty() || chunks_.back().closed || chunks_.back().data.size() >= kChunkBytes) {
    if (!chunks_.empty() && !chunks_.back().closed) Close(chunks_.back());
    chunks_.emplace_back().seq = next_seq_++;
  }
  Chunk& c = chunks_.back();
  c.open_keys.emplace(key, c.count);
  if (!c.ts.empty() && ts_ns < c.ts.back()) c.ordered = false;
  c.ts.push_back(ts_ns);
  c.offsets.push_back(static_cast<uint32_t>(c.data.size()));
  PutLengthPrefixed(c.data, line);
  PutUvarint(c.data, metadata.size());
  for (const auto& m : metadata) {
    PutLengthPrefixed(c.data, m.name);
    PutLengthPrefixed(c.data, m.value);
  }
  ++c.count;
  c.bytes += line.size();
  for (const auto& m : metadata) c.bytes += m.name.size() + m.value.size();
  c.min_ts = std::min(c.min_ts, ts_ns);
  c.max_ts = std::max(c.max_ts, ts_ns);
  min_ts_ = std::min(min_ts_, ts_ns);
  max_ts_ = std::max(max_ts_, ts_ns);
  ++num_entries_;
  return AppendResult::kAppended;
}

void Stream::Close(Chunk& c) {
  c.keys.assign(c.open_keys.begin(), c.open_keys.end());
  std::sort(c.keys.begin(), c.keys.end());
  // Swapping with empty ones frees the memory (`= {}` would keep the capacity).
  decltype(c.open_keys)().swap(c.open_keys);
  c.closed = true;
  std::string raw;
  raw.reserve(c.ts.size() * 2 + c.data.size());
  int64_t prev = 0;
  for (int64_t t : c.ts) {
    // Deltas of out-of-order entries are negative; wrapping keeps them exact.
    PutVarint(raw, static_cast<int64_t>(static_cast<uint64_t>(t) - static_cast<uint64_t>(prev)));
    prev = t;
  }
  raw += c.data;
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 1);
  if (ZSTD_isError(n)) return;  // out of memory: the entries stay unpacked
  packed.resize(n);
  packed.shrink_to_fit();
  c.packed = std::move(packed);
  std::vector<int64_t>().swap(c.ts);
  std::vector<uint32_t>().swap(c.offsets);
  std::string().swap(c.data);
}

namespace {

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

}  // namespace

Stream::View Stream::ViewChunk(const Chunk& c, UnpackCache& cache) const {
  if (c.packed.empty()) return {c.ts, c.offsets, c.data};
  if (cache.ref != ref_ || cache.chunk != c.seq) {
    thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
    cache.ref = 0;
    unsigned long long size = ZSTD_getFrameContentSize(c.packed.data(), c.packed.size());
    cache.raw.resize(size);
    size_t n = ZSTD_decompressDCtx(dctx.get(), cache.raw.data(), cache.raw.size(), c.packed.data(),
                                   c.packed.size());
    if (ZSTD_isError(n) || n != size) {
      // Bytes this process packed do not unpack: its memory is corrupt.
      spdlog::critical("msg=\"a packed log head chunk does not unpack\" stream={} err=\"{}\"", ref_,
                       ZSTD_getErrorName(n));
      std::abort();
    }
    // Packed by Close: it parses.
    ByteReader r(cache.raw);
    cache.ts.resize(c.count);
    int64_t t = 0;
    for (int64_t& ts : cache.ts) {
      int64_t d = 0;
      (void)r.ReadVarint(&d);
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(d));
      ts = t;
    }
    cache.data_begin = cache.raw.size() - r.remaining();
    cache.offsets.resize(c.count);
    for (uint32_t& off : cache.offsets) {
      off = static_cast<uint32_t>(cache.raw.size() - r.remaining() - cache.data_begin);
      std::string_view skip;
      uint64_t pairs = 0;
      (void)r.ReadLengthPrefixed(&skip);
      (void)r.ReadUvarint(&pairs);
      for (uint64_t k = 0; k < 2 * pairs; ++k) (void)r.ReadLengthPrefixed(&skip);
    }
    cache.ref = ref_;
    cache.chunk = c.seq;
  }
  return {cache.ts, cache.offsets, std::string_view(cache.raw).substr(cache.data_begin)};
}

void Stream::Seal(uint64_t seal) {
  if (chunks_.size() == sealed_) return;
  if (!chunks_.back().closed) Close(chunks_.back());
  sealed_ = chunks_.size();
  seal_ = seal;
}

size_t Stream::SealedBatches() const {
  int64_t last = INT64_MIN;
  for (size_t k = 0; k < sealed_; ++k) {
    if (!chunks_[k].ordered || chunks_[k].min_ts < last) return 1;
    last = chunks_[k].max_ts;
  }
  return sealed_;
}

void Stream::SealedBatch(size_t k, std::vector<Entry>& out) const {
  if (SealedBatches() == 1) {
    EntriesOf(0, sealed_, INT64_MIN, INT64_MAX, out);
  } else if (k < sealed_) {
    EntriesOf(k, k + 1, INT64_MIN, INT64_MAX, out);
  }
}

size_t Stream::DropSealed() {
  size_t before = MemoryBytes();
  chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(sealed_));
  sealed_ = 0;
  num_entries_ = 0;
  min_ts_ = INT64_MAX;
  for (const Chunk& c : chunks_) {
    num_entries_ += c.count;
    min_ts_ = std::min(min_ts_, c.min_ts);
  }
  return before - MemoryBytes();
}

void Stream::Entries(int64_t mint, int64_t maxt, uint64_t shipped, std::vector<Entry>& out) const {
  if (mint > max_ts_ || maxt < min_ts_) return;
  EntriesOf(FirstUnshipped(shipped), chunks_.size(), mint, maxt, out);
}

void Stream::Spans(int64_t mint, int64_t maxt, uint64_t shipped, std::vector<Span>& out) const {
  for (size_t k = FirstUnshipped(shipped); k < chunks_.size(); ++k) {
    const Chunk& c = chunks_[k];
    if (c.max_ts >= mint && c.min_ts <= maxt) out.push_back({c.min_ts, c.max_ts, c.count, c.bytes});
  }
}

void Stream::EntriesOf(size_t first_chunk, size_t last_chunk, int64_t mint, int64_t maxt,
                       std::vector<Entry>& out) const {
  const size_t first = out.size();
  bool ordered = true;
  int64_t last = INT64_MIN;
  UnpackCache cache;
  for (size_t k = first_chunk; k < last_chunk; ++k) {
    const Chunk& c = chunks_[k];
    if (c.max_ts < mint || c.min_ts > maxt) continue;
    ordered = ordered && c.ordered && c.min_ts >= last;
    last = std::max(last, c.max_ts);
    const View v = ViewChunk(c, cache);
    for (size_t i = 0; i < v.ts.size(); ++i) {
      if (v.ts[i] >= mint && v.ts[i] <= maxt) out.push_back(Decode(v, i));
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
         c.offsets.capacity() * sizeof(uint32_t) + c.data.capacity() + c.packed.capacity() +
         c.keys.capacity() * sizeof(c.keys[0]) +
         c.open_keys.size() * (sizeof(uint64_t) + 3 * sizeof(void*)) +
         c.open_keys.bucket_count() * sizeof(void*);
  }
  return n;
}

}  // namespace strata::logs
