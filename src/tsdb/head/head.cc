#include "tsdb/head/head.h"

#include <algorithm>

#include "base/mutex.h"

namespace strata::tsdb {

MemSeries* Head::Find(uint64_t hash, std::span<const LabelView> labels) const {
  const Stripe& st = StripeFor(hash);
  MutexLock lk(st.mu);
  return st.series.Find(hash, labels);
}

MemSeries* Head::GetOrCreate(uint64_t hash, std::span<const LabelView> labels, bool* created,
                             std::optional<uint32_t> ref) {
  Stripe& st = StripeFor(hash);
  MutexLock lk(st.mu);
  if (MemSeries* s = st.series.Find(hash, labels)) {
    *created = false;
    if (ref && *ref != UINT32_MAX) {
      // A replayed ref the labels no longer have (see index::SeriesReplay): never reused.
      WriterLock ilk(index_mu_);
      next_ref_ = std::max(next_ref_, *ref + 1);
    }
    return s;
  }
  std::vector<index::LabelSym> syms;
  syms.reserve(labels.size());
  for (const auto& l : labels) syms.push_back({symbols_.Intern(l.name), symbols_.Intern(l.value)});

  MemSeries* s;
  {
    WriterLock ilk(index_mu_);
    uint32_t r = ref.value_or(next_ref_);
    if (r == UINT32_MAX || by_ref_.Get(r) != nullptr) return nullptr;
    next_ref_ = std::max(next_ref_, r + 1);
    auto owned = std::make_unique<MemSeries>(r, hash, syms);
    s = owned.get();
    by_ref_.Put(std::move(owned));
    for (const auto& l : syms) {
      postings_.Add(r, l.name, l.value);
      if (l.name.view() == kMetricNameLabel) per_metric_[l.value.view()]++;
    }
  }
  st.series.Insert(hash, s);
  num_series_.fetch_add(1, std::memory_order_relaxed);
  *created = true;
  return s;
}

MemSeries* Head::ByRef(uint32_t ref) const {
  ReaderLock lk(index_mu_);
  return by_ref_.Get(ref);
}

AppendResult Head::Append(MemSeries& s, int64_t t, double v, int64_t ooo_window_ms) {
  Stripe& st = StripeFor(s.hash());
  MutexLock lk(st.mu);
  // Checked under the series lock: a block cut raises the bound before it reads the series
  // under the same lock, so every sample is either in the block or refused.
  if (t < min_valid_time()) return AppendResult::kTooOld;
  AppendResult r = s.Append(t, v, ooo_window_ms);
  if (r == AppendResult::kAppended) ++st.samples_appended;
  return r;
}

AppendResult Head::AppendHistogram(MemSeries& s, int64_t t,
                                   std::shared_ptr<const histogram::FloatHistogram> h,
                                   int64_t ooo_window_ms) {
  Stripe& st = StripeFor(s.hash());
  MutexLock lk(st.mu);
  if (t < min_valid_time()) return AppendResult::kTooOld;
  AppendResult r = s.AppendHistogram(t, std::move(h), ooo_window_ms);
  if (r == AppendResult::kAppended) ++st.samples_appended;
  return r;
}

bool Head::AddClosedChunk(MemSeries& s, int64_t min_t, int64_t max_t,
                          std::span<const uint8_t> bytes) {
  MutexLock lk(StripeFor(s.hash()).mu);
  return s.AddClosedChunk(min_t, max_t, bytes);
}

std::vector<std::string> Head::LabelNames() const {
  ReaderLock lk(index_mu_);
  return postings_.LabelNames();
}

std::vector<std::string> Head::LabelValues(std::string_view name) const {
  ReaderLock lk(index_mu_);
  return postings_.LabelValues(name);
}

index::PostingsIndex::Cardinality Head::Cardinality(size_t limit) const {
  ReaderLock lk(index_mu_);
  return postings_.ComputeCardinality(limit);
}

std::vector<MemSeries*> Head::Select(std::span<const Matcher> matchers) const {
  ReaderLock lk(index_mu_);
  Roaring refs = postings_.Select(matchers);
  std::vector<MemSeries*> out;
  out.reserve(refs.cardinality());
  by_ref_.ForEach(refs, [&](MemSeries* s) { out.push_back(s); });
  return out;
}

void Head::WithSeriesLocked(const MemSeries& s,
                            const std::function<void(const MemSeries&)>& fn) const {
  MutexLock lk(StripeFor(s.hash()).mu);
  fn(s);
}

std::vector<MemSeries*> Head::AllSeries() const {
  std::vector<MemSeries*> all;
  ReaderLock lk(index_mu_);
  all.reserve(postings_.all().cardinality());
  by_ref_.ForEach(postings_.all(), [&](MemSeries* s) { all.push_back(s); });
  return all;
}

void Head::ForEachSeries(const std::function<void(const MemSeries&)>& fn) const {
  Pin pin = PinSeries();
  for (MemSeries* s : AllSeries()) WithSeriesLocked(*s, fn);
}

size_t Head::TruncateBefore(int64_t t, std::vector<MemSeries*>* emptied) {
  if (t > min_valid_time()) set_min_valid_time(t);
  size_t freed = 0;
  Pin pin = PinSeries();
  for (MemSeries* s : AllSeries()) {
    MutexLock lk(StripeFor(s->hash()).mu);
    freed += s->TruncateBefore(t);
    if (emptied != nullptr && s->empty()) emptied->push_back(s);
  }
  if (emptied != nullptr) {
    std::stable_sort(emptied->begin(), emptied->end(), [](const MemSeries* a, const MemSeries* b) {
      return StripeOf(a->hash()) < StripeOf(b->hash());
    });
  }
  return freed;
}

size_t Head::RemoveEmptySeries(const std::vector<MemSeries*>& candidates) {
  // Stripe by stripe (a run of candidates in one stripe at a time), taking the stripe lock
  // before the index lock as GetOrCreate does. Only this function frees series, so the
  // pointers stay valid throughout.
  auto stripe_of = [](const MemSeries* s) { return StripeOf(s->hash()); };
  std::vector<std::unique_ptr<MemSeries>> removed;
  std::vector<MemSeries*> gone;
  for (size_t i = 0, j = 0; i < candidates.size(); i = j) {
    while (j < candidates.size() && stripe_of(candidates[j]) == stripe_of(candidates[i])) ++j;
    Stripe& st = StripeFor(candidates[i]->hash());
    MutexLock lk(st.mu);
    gone.clear();
    for (size_t k = i; k < j; ++k) {
      if (!candidates[k]->empty()) continue;
      st.series.Erase(candidates[k]->hash(), candidates[k]);
      gone.push_back(candidates[k]);
    }
    if (gone.empty()) continue;
    WriterLock ilk(index_mu_);
    for (MemSeries* s : gone) {
      postings_.Remove(s->ref(), s->labels());
      for (const auto& l : s->labels()) {
        if (l.name.view() != kMetricNameLabel) continue;
        auto it = per_metric_.find(l.value.view());
        if (it != per_metric_.end() && --it->second == 0) per_metric_.erase(it);
      }
      removed.push_back(by_ref_.Take(s->ref()));
    }
  }
  if (removed.empty()) return 0;
  num_series_.fetch_sub(removed.size(), std::memory_order_relaxed);
  removals_.fetch_add(1, std::memory_order_release);
  size_t n = removed.size();
  reclaimer_.Retire(std::move(removed));
  return n;
}

Head::Pin Head::PinSeries() const { return reclaimer_.Take(); }

size_t Head::SeriesForMetric(std::string_view name) const {
  ReaderLock lk(index_mu_);
  auto it = per_metric_.find(name);
  return it == per_metric_.end() ? 0 : it->second;
}

HeadStats Head::Stats() const {
  HeadStats st;
  ForEachSeries([&](const MemSeries& s) {
    st.series_bytes += s.MemoryBytes();
    s.ForEachChunk([&](int64_t mint, int64_t maxt, std::span<const uint8_t>) {
      ++st.chunks;
      st.min_time = std::min(st.min_time, mint);
      st.max_time = std::max(st.max_time, maxt);
    });
    auto histograms = [&](int64_t mint, int64_t maxt) {
      st.min_time = std::min(st.min_time, mint);
      st.max_time = std::max(st.max_time, maxt);
    };
    s.ForEachHistogramChunk([&](int64_t mint, int64_t maxt, std::span<const uint8_t>) {
      ++st.chunks;
      histograms(mint, maxt);
    });
    if (const auto* ooo = s.ooo_histograms()) histograms(ooo->front().t, ooo->back().t);
  });
  st.series = num_series();
  st.symbols = symbols_.size();
  st.symbol_bytes = symbols_.bytes();
  {
    ReaderLock lk(index_mu_);
    st.index_bytes =
        postings_.MemoryBytes() + by_ref_.MemoryBytes() + per_metric_.size() * 4 * sizeof(void*);
  }
  for (const auto& stripe : stripes_) {
    MutexLock lk(stripe.mu);
    st.index_bytes += stripe.series.MemoryBytes();
    st.samples_appended += stripe.samples_appended;
  }
  return st;
}

}  // namespace strata::tsdb
