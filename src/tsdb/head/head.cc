#include "tsdb/head/head.h"

#include <algorithm>

namespace strata::tsdb {

MemSeries* Head::Find(uint64_t hash, std::span<const LabelView> labels) const {
  const Stripe& st = StripeFor(hash);
  std::lock_guard lk(st.mu);
  return st.series.Find(hash, labels);
}

MemSeries* Head::GetOrCreate(uint64_t hash, std::span<const LabelView> labels, bool* created,
                             std::optional<uint32_t> ref) {
  Stripe& st = StripeFor(hash);
  std::lock_guard lk(st.mu);
  if (MemSeries* s = st.series.Find(hash, labels)) {
    *created = false;
    return s;
  }
  std::vector<LabelSym> syms;
  syms.reserve(labels.size());
  for (const auto& l : labels) syms.push_back({symbols_.Intern(l.name), symbols_.Intern(l.value)});

  MemSeries* s;
  {
    std::unique_lock ilk(index_mu_);
    uint32_t r = ref.value_or(next_ref_);
    bool taken = r < by_ref_.size() && by_ref_[r];
    bool too_far = r >= next_ref_ && (r == UINT32_MAX || r - next_ref_ > kMaxRefGap);
    if (taken || too_far) return nullptr;
    next_ref_ = std::max(next_ref_, r + 1);
    if (by_ref_.size() <= r) by_ref_.resize(std::max<size_t>(r + 1, by_ref_.size() * 3 / 2));
    by_ref_[r] = std::make_unique<MemSeries>(r, hash, syms);
    s = by_ref_[r].get();
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
  std::shared_lock lk(index_mu_);
  return ref < by_ref_.size() ? by_ref_[ref].get() : nullptr;
}

AppendResult Head::Append(MemSeries& s, int64_t t, double v, int64_t ooo_window_ms) {
  Stripe& st = StripeFor(s.hash());
  std::lock_guard lk(st.mu);
  // Checked under the series lock: a block cut raises the bound before it reads the series
  // under the same lock, so every sample is either in the block or refused.
  if (t < min_valid_time()) return AppendResult::kTooOld;
  AppendResult r = s.Append(t, v, ooo_window_ms);
  if (r == AppendResult::kAppended) ++st.samples_appended;
  return r;
}

bool Head::AddClosedChunk(MemSeries& s, int64_t min_t, int64_t max_t,
                          std::span<const uint8_t> bytes) {
  std::lock_guard lk(StripeFor(s.hash()).mu);
  return s.AddClosedChunk(min_t, max_t, bytes);
}

std::vector<std::string> Head::LabelNames() const {
  std::shared_lock lk(index_mu_);
  return postings_.LabelNames();
}

std::vector<std::string> Head::LabelValues(std::string_view name) const {
  std::shared_lock lk(index_mu_);
  return postings_.LabelValues(name);
}

PostingsIndex::Cardinality Head::Cardinality(size_t limit) const {
  std::shared_lock lk(index_mu_);
  return postings_.ComputeCardinality(limit);
}

std::vector<MemSeries*> Head::Select(std::span<const Matcher> matchers) const {
  std::shared_lock lk(index_mu_);
  Roaring refs = postings_.Select(matchers);
  std::vector<MemSeries*> out;
  out.reserve(refs.cardinality());
  for (uint32_t r : refs) {
    if (r < by_ref_.size() && by_ref_[r]) out.push_back(by_ref_[r].get());
  }
  return out;
}

void Head::WithSeriesLocked(const MemSeries& s,
                            const std::function<void(const MemSeries&)>& fn) const {
  std::lock_guard lk(StripeFor(s.hash()).mu);
  fn(s);
}

std::vector<MemSeries*> Head::AllSeries() const {
  std::vector<MemSeries*> all;
  std::shared_lock lk(index_mu_);
  all.reserve(by_ref_.size());
  for (const auto& s : by_ref_) {
    if (s) all.push_back(s.get());
  }
  return all;
}

void Head::ForEachSeries(const std::function<void(const MemSeries&)>& fn) const {
  for (MemSeries* s : AllSeries()) WithSeriesLocked(*s, fn);
}

size_t Head::TruncateBefore(int64_t t) {
  if (t > min_valid_time()) set_min_valid_time(t);
  size_t freed = 0;
  for (MemSeries* s : AllSeries()) {
    std::lock_guard lk(StripeFor(s->hash()).mu);
    freed += s->TruncateBefore(t);
  }
  return freed;
}

size_t Head::SeriesForMetric(std::string_view name) const {
  std::shared_lock lk(index_mu_);
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
  });
  st.series = num_series();
  st.symbols = symbols_.size();
  st.symbol_bytes = symbols_.bytes();
  {
    std::shared_lock lk(index_mu_);
    st.index_bytes = postings_.MemoryBytes() + by_ref_.capacity() * sizeof(void*) +
                     per_metric_.size() * 4 * sizeof(void*);
  }
  for (const auto& stripe : stripes_) {
    std::lock_guard lk(stripe.mu);
    st.index_bytes += stripe.series.MemoryBytes();
    st.samples_appended += stripe.samples_appended;
  }
  return st;
}

}  // namespace strata::tsdb
