#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace strata::tsdb {

// Prometheus's exemplar storage size (storage.exemplars.max_exemplars), per tenant here.
inline constexpr size_t kDefaultMaxExemplars = 100'000;

// An exemplar: its labels (sorted by name, e.g. trace_id), value and time (ms).
struct Exemplar {
  Labels labels;
  double value = 0;
  int64_t t = 0;
  bool operator==(const Exemplar&) const = default;
};

// A series' exemplars, oldest first.
struct SeriesExemplars {
  Labels series;
  std::vector<Exemplar> exemplars;
};

enum class ExemplarResult {
  kAdded,
  kDuplicate,      // the same as the series' newest: nothing to do
  kOutOfOrder,     // before the series' newest (Prometheus 3.5's order, below)
  kLabelsTooLong,  // over kMaxExemplarLabelRunes
  kDisabled,       // a store of capacity 0
};

// ExemplarStore keeps a tenant's newest exemplars as Prometheus 3.5's
// CircularExemplarStorage does: one ring of `capacity` entries shared by every series, the
// oldest overwritten first (the ring grows to its capacity as exemplars come), each series'
// entries linked oldest to newest. A series' exemplars
// come in order: one older than its newest is refused, and so, at the same time, is one of a
// smaller value, or of the same value and labels whose Prometheus hash is smaller; one equal
// to its newest is a duplicate. Series are known by their labels, so exemplars outlive the
// head's series until overwritten. Thread-safe.
class ExemplarStore {
 public:
  explicit ExemplarStore(size_t capacity) : capacity_(capacity) {}

  // Adds `e` to the series with `series` labels (sorted by name).
  ExemplarResult Add(std::span<const LabelView> series, const Exemplar& e) EXCLUDES(mu_);
  // The exemplars with times in [mint, maxt] of the series matching all the matchers of any
  // of `sets`, series sorted by their labels; series without one left out.
  std::vector<SeriesExemplars> Select(std::span<const std::vector<Matcher>> sets, int64_t mint,
                                      int64_t maxt) const EXCLUDES(mu_);
  // Calls `fn` with every series and its exemplars, oldest first (a checkpoint's view).
  void ForEach(const std::function<void(const SeriesExemplars&)>& fn) const EXCLUDES(mu_);
  size_t size() const EXCLUDES(mu_);
  size_t capacity() const { return capacity_; }

 private:
  struct SeriesEntry {
    Labels labels;
    size_t oldest = 0, newest = 0;  // ring slots
  };
  using Index = std::map<std::string, SeriesEntry>;  // by the labels' encoding
  struct Slot {
    Exemplar exemplar;
    Index::iterator series;
    size_t next = SIZE_MAX;  // the series' next newer slot
  };
  // Calls `fn` with each exemplar of `s`, oldest first.
  void Walk(const SeriesEntry& s, const std::function<void(const Exemplar&)>& fn) const
      REQUIRES(mu_);

  const size_t capacity_;
  mutable Mutex mu_;
  std::vector<Slot> ring_ GUARDED_BY(mu_);
  size_t next_ GUARDED_BY(mu_) = 0;  // once the ring is full: the slot written next
  Index index_ GUARDED_BY(mu_);
};

}  // namespace strata::tsdb
