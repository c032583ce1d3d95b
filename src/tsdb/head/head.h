#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/thread_annotations.h"
#include "tsdb/head/postings.h"
#include "tsdb/head/series.h"
#include "tsdb/head/series_map.h"
#include "tsdb/head/symbols.h"

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
// Thread-safe. Series are never removed yet (blocks, which will let the head shrink, come
// with object storage); a MemSeries* stays valid for the Head's lifetime.
class Head {
 public:
  static constexpr int kStripeBits = 9;
  static constexpr size_t kStripes = size_t{1} << kStripeBits;
  static constexpr uint32_t kMaxRefGap = 1u << 24;

  Head() = default;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // The series with exactly `labels` (sorted by name), or nullptr.
  MemSeries* Find(uint64_t hash, std::span<const LabelView> labels) const;
  // Returns the series with `labels`, creating it if needed; `created` says which. A WAL
  // replay passes the ref the series had; otherwise the next free ref is used. Returns
  // nullptr if `ref` already belongs to a series with other labels, or lies implausibly far
  // beyond the refs in use (refs are dense): both mean corrupt input.
  MemSeries* GetOrCreate(uint64_t hash, std::span<const LabelView> labels, bool* created,
                         std::optional<uint32_t> ref = std::nullopt);
  MemSeries* ByRef(uint32_t ref) const;

  // Samples older than min_valid_time() are refused as kTooOld: they belong to a block.
  AppendResult Append(MemSeries& s, int64_t t, double v, int64_t ooo_window_ms);
  bool AddClosedChunk(MemSeries& s, int64_t min_t, int64_t max_t, std::span<const uint8_t> bytes);

  // Series matching all matchers, in ref order.
  std::vector<MemSeries*> Select(std::span<const Matcher> matchers) const;
  // Sorted label names / values of `name` over all series.
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(std::string_view name) const;
  PostingsIndex::Cardinality Cardinality(size_t limit) const;
  // Calls fn under the series' stripe lock so it may read sample data consistently.
  void WithSeriesLocked(const MemSeries& s, const std::function<void(const MemSeries&)>& fn) const;
  // Calls fn for every series (under its lock), in ref order.
  void ForEachSeries(const std::function<void(const MemSeries&)>& fn) const;

  // Raises the minimum valid time to `t` and drops the data before it from every series.
  // Returns the bytes freed.
  size_t TruncateBefore(int64_t t);
  int64_t min_valid_time() const { return min_valid_time_.load(std::memory_order_acquire); }
  void set_min_valid_time(int64_t t) { min_valid_time_.store(t, std::memory_order_release); }

  size_t num_series() const { return num_series_.load(std::memory_order_relaxed); }
  size_t SeriesForMetric(std::string_view name) const;
  HeadStats Stats() const;

 private:
  struct Stripe {
    mutable std::mutex mu;
    SeriesMap series GUARDED_BY(mu);
    // Counted under the lock Append holds anyway: no shared atomic on the hot path.
    uint64_t samples_appended GUARDED_BY(mu) = 0;
  };
  // The stripe comes from the top bits; SeriesMap probes with the low bits.
  Stripe& StripeFor(uint64_t hash) const { return stripes_[hash >> (64 - kStripeBits)]; }
  std::vector<MemSeries*> AllSeries() const EXCLUDES(index_mu_);

  mutable std::array<Stripe, kStripes> stripes_;
  SymbolTable symbols_;

  mutable std::shared_mutex index_mu_;  // series table, postings and per-metric counts
  std::vector<std::unique_ptr<MemSeries>> by_ref_ GUARDED_BY(index_mu_);  // index = ref
  PostingsIndex postings_ GUARDED_BY(index_mu_);
  std::unordered_map<std::string_view, uint32_t> per_metric_
      GUARDED_BY(index_mu_);  // interned names
  uint32_t next_ref_ GUARDED_BY(index_mu_) = 1;

  std::atomic<size_t> num_series_{0};
  std::atomic<int64_t> min_valid_time_{INT64_MIN};
};

}  // namespace strata::tsdb
