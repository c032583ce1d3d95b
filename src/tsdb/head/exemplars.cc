#include "tsdb/head/exemplars.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>

namespace strata::tsdb {
namespace {

// A label set as Prometheus's labels.Hash reads it: name 0xff value 0xff for each label.
std::string Key(std::span<const LabelView> labels) {
  std::string out;
  for (const auto& l : labels) {
    out += l.name;
    out += '\xff';
    out += l.value;
    out += '\xff';
  }
  return out;
}

// Prometheus's labels.Hash: xxHash64 of the Key.
uint64_t PrometheusHash(const Labels& labels) {
  const std::string key = Key(ViewOf(labels));
  return XXH64(key.data(), key.size(), 0);
}

}  // namespace

ExemplarResult ExemplarStore::Add(std::span<const LabelView> series, const Exemplar& e) {
  size_t runes = 0;
  for (const auto& l : e.labels) runes += Utf8Runes(l.name) + Utf8Runes(l.value);
  if (capacity_ == 0) return ExemplarResult::kDisabled;
  if (runes > kMaxExemplarLabelRunes) return ExemplarResult::kLabelsTooLong;
  const std::string key = Key(series);
  MutexLock lk(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    const Exemplar& newest = ring_[it->second.newest].exemplar;
    if (newest == e) return ExemplarResult::kDuplicate;
    if (e.t < newest.t || (e.t == newest.t && e.value < newest.value) ||
        (e.t == newest.t && e.value == newest.value &&
         PrometheusHash(e.labels) < PrometheusHash(newest.labels))) {
      return ExemplarResult::kOutOfOrder;
    }
  }
  // The ring grows to its capacity as exemplars come, then the oldest slot is taken.
  size_t at = ring_.size();
  if (at < capacity_) {
    ring_.emplace_back();
  } else {
    at = next_;
    next_ = (next_ + 1) % capacity_;
    Slot& old = ring_[at];
    // The oldest exemplar of all, so the oldest of its series.
    if (old.next == SIZE_MAX) {
      if (old.series == it) it = index_.end();
      index_.erase(old.series);
    } else {
      old.series->second.oldest = old.next;
    }
  }
  if (it == index_.end()) {
    it = index_.emplace(key, SeriesEntry{ToLabels(series), at, at}).first;
  } else {
    ring_[it->second.newest].next = at;
    it->second.newest = at;
  }
  Slot& slot = ring_[at];
  slot.exemplar = e;
  slot.series = it;
  slot.next = SIZE_MAX;
  return ExemplarResult::kAdded;
}

void ExemplarStore::Walk(const SeriesEntry& s,
                         const std::function<void(const Exemplar&)>& fn) const {
  for (size_t i = s.oldest; i != SIZE_MAX; i = ring_[i].next) fn(ring_[i].exemplar);
}

std::vector<SeriesExemplars> ExemplarStore::Select(std::span<const std::vector<Matcher>> sets,
                                                   int64_t mint, int64_t maxt) const {
  std::vector<SeriesExemplars> out;
  MutexLock lk(mu_);
  for (const auto& entry : index_) {
    const SeriesEntry& s = entry.second;
    if (ring_[s.oldest].exemplar.t > maxt || ring_[s.newest].exemplar.t < mint) continue;
    const bool matches = std::any_of(sets.begin(), sets.end(),
                                     [&s](const auto& ms) { return MatchesAll(ms, s.labels); });
    if (!matches) continue;
    SeriesExemplars se{s.labels, {}};
    Walk(s, [&](const Exemplar& e) {
      if (e.t >= mint && e.t <= maxt) se.exemplars.push_back(e);
    });
    if (!se.exemplars.empty()) out.push_back(std::move(se));
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesExemplars& a, const SeriesExemplars& b) { return a.series < b.series; });
  return out;
}

void ExemplarStore::ForEach(const std::function<void(const SeriesExemplars&)>& fn) const {
  MutexLock lk(mu_);
  for (const auto& [key, s] : index_) {
    SeriesExemplars se{s.labels, {}};
    Walk(s, [&](const Exemplar& e) { se.exemplars.push_back(e); });
    fn(se);
  }
}

size_t ExemplarStore::size() const {
  MutexLock lk(mu_);
  return ring_.size();
}

}  // namespace strata::tsdb
