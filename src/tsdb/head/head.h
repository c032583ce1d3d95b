#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
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
#include "tsdb/head/exemplars.h"
#include "tsdb/head/series.h"

namespace strata::tsdb {

struct HeadStats {
  uint64_t series = 0;
  uint64_t chunks = 0;
  uint64_t samples_appended = 0;
  uint64_t series_bytes = 0;  // series structs, labels and chunk data
  uint64_t symbols = 0;
  uint64_t symbol_bytes = 0;
  uint64_t index_bytes = 0;      // series map and postings
  int64_t min_time = INT64_MAX;  // of any chunk; INT64_MAX when empty
  int64_t max_time = INT64_MIN;
  uint64_t total_bytes() const { return series_bytes + symbol_bytes + index_bytes; }
};

// Head holds one tenant's recent series in memory: a striped hash map from label-set hash
// to series (collisions resolved by comparing labels), interned labels, and a postings index.
// Thread-safe. Series whose samples are all in uploaded blocks leave the head
// (RemoveEmptySeries, after a block cut), so series that stopped reporting stop counting
// against limits and free their memory; refs are not reused. Interned label strings stay
// until the Head is dropped.
//
// A MemSeries* from Find, GetOrCreate, ByRef or Select stays valid until the next
// RemoveEmptySeries; a reader that keeps one longer (a querier) holds a Pin taken before it
// got the pointer: removed series are freed only once every older pin is released.
class Head {
 public:
  // 64 stripes. A lookup batch (FindMany) overlaps the cache misses of one stripe's share
  // at a time: a 2,000-series request gives each of 64 stripes ~31, enough to keep the
  // memory system busy (with 512, ~4 each, lookups waited on memory one after another). Appends
  // to one Db are serialized by its commit lock anyway, so more stripes bought little.
  static constexpr int kStripeBits = 6;
  static constexpr size_t kStripes = size_t{1} << kStripeBits;
  using Pin = index::Reclaimer<MemSeries>::Pin;

  explicit Head(size_t max_exemplars = kDefaultMaxExemplars) : exemplars_(max_exemplars) {}
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // The series with exactly `labels` (sorted by name), or nullptr.
  MemSeries* Find(uint64_t hash, std::span<const LabelView> labels) const;
  // A series FindMany found, with what the appends that follow want to know of it.
  struct Found {
    MemSeries* series = nullptr;
    MemSeries::AppendSpots at;    // its AppendPosition, for the appends to prefetch
    bool labels_checked = false;  // its labels_checked()
  };
  // Find for a batch: out[i].series is the series with in[i].labels (whose hash is
  // in[i].hash), or nullptr. Each stripe's part of the batch is looked up under one hold of
  // its lock, in stages whose cache misses overlap: the slots, then the series, then their
  // labels.
  template <typename Input>
  void FindMany(std::span<const Input> in, std::vector<Found>& out) const;
  // Returns the series with `labels`, creating it if needed; `created` says which. A WAL
  // replay passes the ref the series had; otherwise the next unused ref is taken. Returns
  // nullptr if `ref` already belongs to a series with other labels (corrupt input) or if the
  // refs are used up.
  MemSeries* GetOrCreate(uint64_t hash, std::span<const LabelView> labels, bool* created,
                         std::optional<uint32_t> ref = std::nullopt);
  MemSeries* ByRef(uint32_t ref) const;

  // Samples older than min_valid_time() are refused as kTooOld: they belong to a block.
  AppendResult Append(MemSeries& s, int64_t t, double v, int64_t ooo_window_ms);
  AppendResult AppendHistogram(MemSeries& s, int64_t t,
                               std::shared_ptr<const histogram::FloatHistogram> h,
                               int64_t ooo_window_ms);
  bool AddClosedChunk(MemSeries& s, int64_t min_t, int64_t max_t, std::span<const uint8_t> bytes);

  // Series matching all matchers, in ref order.
  std::vector<MemSeries*> Select(std::span<const Matcher> matchers) const;
  // Sorted label names / values of `name` over all series.
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(std::string_view name) const;
  index::PostingsIndex::Cardinality Cardinality(size_t limit) const;
  // Calls fn under the series' stripe lock so it may read sample data consistently.
  void WithSeriesLocked(const MemSeries& s, const std::function<void(const MemSeries&)>& fn) const;
  // Calls fn for every series (under its lock), in ref order.
  void ForEachSeries(const std::function<void(const MemSeries&)>& fn) const;

  // Raises the minimum valid time to `t` and drops the data before it from every series.
  // Returns the bytes freed. `emptied`, if given, receives the series left without samples
  // (grouped by stripe): the candidates for RemoveEmptySeries.
  size_t TruncateBefore(int64_t t, std::vector<MemSeries*>* emptied = nullptr);
  // Removes those of `candidates` that still hold no samples (their data is in blocks) from
  // the series map, the index and the limits' counts, and frees each once no pin older than
  // its removal is left. Candidates are series of this head found since the last removal
  // (TruncateBefore's). The caller keeps appends out while it runs (a Db holds its commit
  // lock); only the candidates are looked at, so that is brief. Returns how many were
  // removed.
  size_t RemoveEmptySeries(const std::vector<MemSeries*>& candidates);
  // Bumped by every RemoveEmptySeries that removed something: a change tells an appender
  // that series pointers it looked up earlier may be gone.
  uint64_t removals() const { return removals_.load(std::memory_order_acquire); }
  // Holds off freeing removed series while it (or a copy) lives; see the class comment.
  Pin PinSeries() const;

  int64_t min_valid_time() const { return min_valid_time_.load(std::memory_order_acquire); }
  void set_min_valid_time(int64_t t) { min_valid_time_.store(t, std::memory_order_release); }

  size_t num_series() const { return num_series_.load(std::memory_order_relaxed); }
  // The series' exemplars (kept by series labels: they outlive the series in the head).
  ExemplarStore& exemplars() { return exemplars_; }
  const ExemplarStore& exemplars() const { return exemplars_; }
  size_t SeriesForMetric(std::string_view name) const;
  HeadStats Stats() const;

 private:
  struct Stripe {
    mutable Mutex mu;
    index::SeriesMap<MemSeries> series GUARDED_BY(mu);
    // Counted under the lock Append holds anyway: no shared atomic on the hot path.
    uint64_t samples_appended GUARDED_BY(mu) = 0;
  };
  // The stripe comes from the top bits; SeriesMap probes with the low bits.
  static size_t StripeOf(uint64_t hash) { return hash >> (64 - kStripeBits); }
  Stripe& StripeFor(uint64_t hash) const { return stripes_[StripeOf(hash)]; }
  std::vector<MemSeries*> AllSeries() const EXCLUDES(index_mu_);

  mutable std::array<Stripe, kStripes> stripes_;
  index::SymbolTable symbols_;

  mutable SharedMutex index_mu_;  // series table, postings and per-metric counts
  index::RefTable<MemSeries> by_ref_ GUARDED_BY(index_mu_);
  index::PostingsIndex postings_ GUARDED_BY(index_mu_);
  std::unordered_map<std::string_view, uint32_t> per_metric_
      GUARDED_BY(index_mu_);  // interned names
  uint32_t next_ref_ GUARDED_BY(index_mu_) = 1;

  // Removed series wait here until no pin taken before their removal is left.
  index::Reclaimer<MemSeries> reclaimer_;
  std::atomic<uint64_t> removals_{0};

  std::atomic<size_t> num_series_{0};
  std::atomic<int64_t> min_valid_time_{INT64_MIN};
  ExemplarStore exemplars_;
};

template <typename Input>
void Head::FindMany(std::span<const Input> in, std::vector<Found>& out) const {
  out.assign(in.size(), {});
  // The batch's indexes grouped by stripe (a counting sort).
  std::vector<uint32_t> begin(kStripes + 1, 0);
  for (const Input& x : in) ++begin[StripeOf(x.hash) + 1];
  for (size_t s = 0; s < kStripes; ++s) begin[s + 1] += begin[s];
  std::vector<uint32_t> order(in.size());
  {
    std::vector<uint32_t> next(begin.begin(), begin.end() - 1);
    for (size_t i = 0; i < in.size(); ++i) {
      order[next[StripeOf(in[i].hash)]++] = static_cast<uint32_t>(i);
    }
  }
  for (size_t s = 0; s < kStripes; ++s) {
    if (begin[s] == begin[s + 1]) continue;
    const std::span<const uint32_t> part(order.data() + begin[s], begin[s + 1] - begin[s]);
    const Stripe& st = stripes_[s];
    MutexLock lk(st.mu);
    for (uint32_t i : part) st.series.PrefetchSlot(in[i].hash);
    for (uint32_t i : part) {
      out[i].series = st.series.FirstWithHash(in[i].hash);
      if (out[i].series != nullptr) __builtin_prefetch(out[i].series);
    }
    for (uint32_t i : part) {
      if (out[i].series != nullptr) __builtin_prefetch(out[i].series->labels().data());
    }
    for (uint32_t i : part) {
      MemSeries*& s = out[i].series;
      if (s == nullptr) continue;
      if (!s->LabelsEqual(in[i].labels)) {
        s = st.series.Find(in[i].hash, in[i].labels);  // a hash collision
        if (s == nullptr) continue;
      }
      out[i].at = s->AppendPosition();
      out[i].labels_checked = s->labels_checked();
    }
  }
}

}  // namespace strata::tsdb
