#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "index/postings.h"
#include "index/reclaimer.h"
#include "index/ref_table.h"
#include "index/series_map.h"
#include "index/symbols.h"
#include "logs/stream.h"

namespace strata::logs {

struct HeadStats {
  uint64_t streams = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;  // streams, labels, entry data and index, approximately
};

// Head holds one tenant's recent log streams in memory, indexed by their labels with the
// label index metrics use (src/index): interned labels, postings, a hash map from label set
// to stream. Thread-safe: the index has one reader/writer lock, entry data a lock per stripe
// of streams. Streams whose entries all went to a block leave the head (RemoveEmptyStreams);
// a Stream* from GetOrCreate, ByRef or Select stays valid until then, and longer for a
// reader that took a Pin before it looked the stream up (index/reclaimer.h).
class Head {
 public:
  static constexpr size_t kStripes = 64;
  using Pin = index::Reclaimer<Stream>::Pin;

  Head() = default;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // The stream with exactly `labels` (sorted by name), or nullptr.
  Stream* Find(uint64_t hash, std::span<const LabelView> labels) const EXCLUDES(index_mu_);
  // Returns the stream with `labels`, creating it if needed; `created` says which. A WAL
  // replay passes the ref the stream had; otherwise the next unused ref is taken. nullptr if
  // `ref` belongs to another stream (corrupt input) or the refs are used up.
  Stream* GetOrCreate(uint64_t hash, std::span<const LabelView> labels, bool* created,
                      std::optional<uint32_t> ref = std::nullopt) EXCLUDES(index_mu_);
  Stream* ByRef(uint32_t ref) const EXCLUDES(index_mu_);

  AppendResult Append(Stream& s, int64_t ts_ns, std::string_view line,
                      std::span<const LabelView> metadata, int64_t window_ns,
                      Stream::UnpackCache& cache);
  // The stream's entries in [mint, maxt], oldest first, but those sealed by seal `shipped` or
  // before (Stream::Entries under its lock).
  void Entries(const Stream& s, int64_t mint, int64_t maxt, uint64_t shipped,
               std::vector<Entry>& out) const;

  // Appends the stream's chunks that meet [mint, maxt] as Spans, but those Entries leaves out.
  void Spans(const Stream& s, int64_t mint, int64_t maxt, uint64_t shipped,
             std::vector<Span>& out) const;
  // Whether the stream has entries in [mint, maxt] (by its oldest and newest).
  bool Overlaps(const Stream& s, int64_t mint, int64_t maxt) const;
  // Streams matching all matchers, in ref order.
  std::vector<Stream*> Select(std::span<const Matcher> matchers) const EXCLUDES(index_mu_);
  // Sorted label names / values of `name` over all streams.
  std::vector<std::string> LabelNames() const EXCLUDES(index_mu_);
  std::vector<std::string> LabelValues(std::string_view name) const EXCLUDES(index_mu_);

  // Block cutting (Stream::Seal): seals every stream's chunks and returns the seal's number
  // (1, 2, ...); the streams holding sealed entries, in ref order; a stream's sealed entries
  // in batches, oldest first.
  uint64_t SealAll() EXCLUDES(index_mu_);
  std::vector<Stream*> Sealed() const EXCLUDES(index_mu_);
  size_t SealedBatches(const Stream& s) const;
  void SealedBatch(const Stream& s, size_t k, std::vector<Entry>& out) const;
  // Drops every sealed entry; `emptied` receives the streams left without entries. Returns the
  // bytes freed.
  size_t DropSealed(std::vector<Stream*>& emptied) EXCLUDES(index_mu_);
  // Removes those of `candidates` still without entries from the index and frees them once
  // no older pin is left. The caller keeps appends out (a Db holds its commit lock).
  size_t RemoveEmptyStreams(const std::vector<Stream*>& candidates) EXCLUDES(index_mu_);
  // Bumped by every RemoveEmptyStreams that removed something: stream pointers looked up
  // before a change may be gone.
  uint64_t removals() const { return removals_.load(std::memory_order_acquire); }
  Pin PinStreams() const { return reclaimer_.Take(); }
  // Readers that pinned the head before AdvanceEpoch may still be reading what a block now
  // holds too: the cut drops it once PinsDrained(epoch).
  uint64_t AdvanceEpoch() { return reclaimer_.Advance(); }
  bool PinsDrained(uint64_t epoch) const { return reclaimer_.Drained(epoch); }

  size_t num_streams() const { return num_streams_.load(std::memory_order_relaxed); }
  HeadStats Stats() const EXCLUDES(index_mu_);

 private:
  Mutex& StripeOf(const Stream& s) const { return stripes_[s.ref() % kStripes]; }
  std::vector<Stream*> All() const EXCLUDES(index_mu_);

  index::SymbolTable symbols_;
  mutable SharedMutex index_mu_;
  index::SeriesMap<Stream> by_hash_ GUARDED_BY(index_mu_);
  index::RefTable<Stream> by_ref_ GUARDED_BY(index_mu_);
  index::PostingsIndex postings_ GUARDED_BY(index_mu_);
  uint32_t next_ref_ GUARDED_BY(index_mu_) = 1;
  mutable std::array<Mutex, kStripes> stripes_;  // entry data of the streams whose ref % kStripes
  std::atomic<size_t> num_streams_{0};
  std::atomic<uint64_t> removals_{0};
  std::atomic<uint64_t> seals_{0};
  index::Reclaimer<Stream> reclaimer_;
};

}  // namespace strata::logs
