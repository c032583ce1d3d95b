#include "tsdb/head/series.h"

#include <algorithm>
#include <bit>

namespace strata::tsdb {

MemSeries::MemSeries(uint32_t ref, uint64_t hash, std::span<const index::LabelSym> labels)
    : ref_(ref),
      hash_(hash),
      num_labels_(static_cast<uint16_t>(labels.size())),
      labels_(std::make_unique<index::LabelSym[]>(labels.size())) {
  std::copy(labels.begin(), labels.end(), labels_.get());
}

void MemSeries::CutChunk() {
  ClosedChunk c;
  c.min_t = head_min_t_;
  c.max_t = app_->last_timestamp();
  c.size = static_cast<uint32_t>(head_chunk_.size());
  c.data = std::make_unique<uint8_t[]>(c.size);
  std::copy(head_chunk_.begin(), head_chunk_.end(), c.data.get());
  chunks_.push_back(std::move(c));
  app_.reset();
  head_chunk_.clear();
}

size_t MemSeries::TruncateBefore(int64_t t) {
  size_t before = MemoryBytes();
  std::erase_if(chunks_, [t](const ClosedChunk& c) { return c.max_t < t; });
  if (app_ && max_t_ < t) {
    app_.reset();
    head_chunk_ = {};
  }
  if (ooo_) {
    std::erase_if(*ooo_, [t](const Sample& s) { return s.t < t; });
    if (ooo_->empty()) ooo_.reset();
  }
  if (histograms_) {
    HistogramStore& hs = *histograms_;
    std::erase_if(hs.closed, [t](const ClosedChunk& c) { return c.max_t < t; });
    if (hs.app && hs.app->last_timestamp() < t) {
      hs.app.reset();
      hs.open = {};
    }
    std::erase_if(hs.ooo, [t](const histogram::HistogramSample& s) { return s.t < t; });
    if (hs.empty()) histograms_.reset();
  }
  return before - MemoryBytes();
}

namespace {

template <typename Vec>
auto HistogramAt(Vec& hs, int64_t t) {
  return std::lower_bound(hs.begin(), hs.end(), t,
                          [](const histogram::HistogramSample& s, int64_t x) { return s.t < x; });
}

// Decodes the samples of a histogram chunk in [mint, maxt] into `out`.
void DecodeHistograms(std::span<const uint8_t> bytes, int64_t mint, int64_t maxt,
                      std::vector<histogram::HistogramSample>& out) {
  chunkenc::FloatHistogramIterator it(bytes);
  while (it.Next()) {
    if (it.t() > maxt) break;
    if (it.t() >= mint) {
      out.push_back({it.t(), std::make_shared<const histogram::FloatHistogram>(it.h())});
    }
  }
}

}  // namespace

bool MemSeries::HasHistogramAt(int64_t t) const {
  std::vector<histogram::HistogramSample> found;
  AppendHistograms(t, t, found);
  return !found.empty();
}

bool MemSeries::HasSampleAt(int64_t t, double* v) const {
  if (ooo_) {
    auto it = std::lower_bound(ooo_->begin(), ooo_->end(), t,
                               [](const Sample& s, int64_t x) { return s.t < x; });
    if (it != ooo_->end() && it->t == t) {
      *v = it->v;
      return true;
    }
  }
  bool found = false;
  ForEachSample(t, t, [&](int64_t, double sv) {
    *v = sv;
    found = true;
  });
  return found;
}

AppendResult MemSeries::Append(int64_t t, double v, int64_t ooo_window_ms) {
  if ((app_ || !chunks_.empty() || histograms_) && t <= max_t_) {
    if (HasHistogramAt(t)) return AppendResult::kDuplicateTimestamp;
    // A sample already stored is accepted again wherever it lies, so that retried batches
    // are idempotent; only this rare path decodes a chunk.
    double existing;
    if (HasSampleAt(t, &existing)) {
      return std::bit_cast<uint64_t>(existing) == std::bit_cast<uint64_t>(v)
                 ? AppendResult::kDuplicate
                 : AppendResult::kDuplicateTimestamp;
    }
    if (ooo_window_ms <= 0) return AppendResult::kOutOfOrder;
    if (t < max_t_ - ooo_window_ms) return AppendResult::kTooOld;
    if (!ooo_) ooo_ = std::make_unique<std::vector<Sample>>();
    auto it = std::lower_bound(ooo_->begin(), ooo_->end(), t,
                               [](const Sample& s, int64_t x) { return s.t < x; });
    ooo_->insert(it, Sample{t, v});
    return AppendResult::kAppended;
  }
  if (app_ && app_->num_samples() >= chunkenc::kSamplesPerChunk) CutChunk();
  if (!app_) {
    head_chunk_.reserve(128);
    app_.emplace(head_chunk_);
    head_min_t_ = t;
  }
  app_->Append(t, v);
  max_t_ = t;
  return AppendResult::kAppended;
}

AppendResult MemSeries::AppendHistogram(int64_t t,
                                        std::shared_ptr<const histogram::FloatHistogram> h,
                                        int64_t ooo_window_ms) {
  const bool late = t <= max_t_;
  if (late) {
    // A histogram already stored is accepted again, so that retried batches are idempotent;
    // only this rare path decodes chunks.
    std::vector<histogram::HistogramSample> found;
    AppendHistograms(t, t, found);
    if (!found.empty()) {
      return found[0].h->Equals(*h) ? AppendResult::kDuplicate : AppendResult::kDuplicateTimestamp;
    }
    double unused;
    if (HasSampleAt(t, &unused)) return AppendResult::kDuplicateTimestamp;
    if (ooo_window_ms <= 0) return AppendResult::kOutOfOrder;
    if (t < max_t_ - ooo_window_ms) return AppendResult::kTooOld;
  }
  // Made only for a histogram taken: an empty store would make the series look non-empty.
  if (!histograms_) histograms_ = std::make_unique<HistogramStore>();
  HistogramStore& hs = *histograms_;
  int64_t last =
      hs.app ? hs.app->last_timestamp() : (hs.closed.empty() ? INT64_MIN : hs.closed.back().max_t);
  if (t <= last) {
    hs.ooo.insert(HistogramAt(hs.ooo, t), {t, std::move(h)});
  } else {
    // After every chunked histogram (if behind a float): appended to the open chunk, or to a
    // new one when the layout changes or the chunk is full.
    if (hs.app && (hs.app->num_samples() >= chunkenc::kSamplesPerChunk || !hs.app->Append(t, *h))) {
      CutHistogramChunk();
    }
    if (!hs.app) {
      hs.open.reserve(256);
      hs.app.emplace(hs.open, *h);
      hs.open_min_t = t;
      if (!hs.app->Append(t, *h)) {
        // One no chunk holds (ingest refuses those; tests load anything) is kept decoded.
        hs.app.reset();
        hs.open.clear();
        hs.ooo.insert(HistogramAt(hs.ooo, t), {t, std::move(h)});
      }
    }
  }
  max_t_ = std::max(max_t_, t);
  return AppendResult::kAppended;
}

void MemSeries::CutHistogramChunk() {
  HistogramStore& hs = *histograms_;
  ClosedChunk c;
  c.min_t = hs.open_min_t;
  c.max_t = hs.app->last_timestamp();
  c.size = static_cast<uint32_t>(hs.open.size());
  c.data = std::make_unique<uint8_t[]>(c.size);
  std::copy(hs.open.begin(), hs.open.end(), c.data.get());
  hs.closed.push_back(std::move(c));
  hs.app.reset();
  hs.open.clear();
}

void MemSeries::AppendHistograms(int64_t mint, int64_t maxt,
                                 std::vector<histogram::HistogramSample>& out) const {
  if (!histograms_) return;
  const HistogramStore& hs = *histograms_;
  const size_t begin = out.size();
  for (const auto& c : hs.closed) {
    if (c.max_t >= mint && c.min_t <= maxt) DecodeHistograms(c.bytes(), mint, maxt, out);
  }
  if (hs.app && hs.open_min_t <= maxt && hs.app->last_timestamp() >= mint) {
    DecodeHistograms(hs.open, mint, maxt, out);
  }
  if (hs.ooo.empty()) return;
  const size_t chunked = out.size();
  for (auto it = HistogramAt(hs.ooo, mint); it != hs.ooo.end() && it->t <= maxt; ++it) {
    out.push_back(*it);
  }
  std::inplace_merge(out.begin() + static_cast<ptrdiff_t>(begin),
                     out.begin() + static_cast<ptrdiff_t>(chunked), out.end(),
                     [](const auto& a, const auto& b) { return a.t < b.t; });
}

void MemSeries::ForEachHistogramChunk(
    const std::function<void(int64_t, int64_t, std::span<const uint8_t>)>& fn) const {
  if (!histograms_) return;
  for (const auto& c : histograms_->closed) fn(c.min_t, c.max_t, c.bytes());
  if (histograms_->app) {
    fn(histograms_->open_min_t, histograms_->app->last_timestamp(), histograms_->open);
  }
}

bool MemSeries::AddClosedChunk(int64_t min_t, int64_t max_t, std::span<const uint8_t> bytes) {
  if (app_ || min_t <= max_t_ || max_t < min_t) return false;
  ClosedChunk c{min_t, max_t, static_cast<uint32_t>(bytes.size()),
                std::make_unique<uint8_t[]>(bytes.size())};
  std::copy(bytes.begin(), bytes.end(), c.data.get());
  chunks_.push_back(std::move(c));
  max_t_ = max_t;
  return true;
}

void MemSeries::ForEachSample(int64_t mint, int64_t maxt,
                              const std::function<void(int64_t, double)>& fn) const {
  VisitSamples(mint, maxt, fn);
}

void MemSeries::AppendSamples(int64_t mint, int64_t maxt, std::vector<Sample>& out) const {
  VisitSamples(mint, maxt, [&out](int64_t t, double v) { out.push_back({t, v}); });
}

void MemSeries::ForEachChunk(
    const std::function<void(int64_t, int64_t, std::span<const uint8_t>)>& fn) const {
  for (const auto& c : chunks_) fn(c.min_t, c.max_t, c.bytes());
  if (app_) fn(head_min_t_, app_->last_timestamp(), head_chunk_);
}

size_t MemSeries::MemoryBytes() const {
  size_t n = sizeof(MemSeries) + num_labels_ * sizeof(index::LabelSym) +
             chunks_.capacity() * sizeof(ClosedChunk) + head_chunk_.capacity();
  for (const auto& c : chunks_) n += c.size;
  if (ooo_) {
    // NOLINTNEXTLINE(bugprone-sizeof-container): the object's own size is what is counted.
    n += sizeof(*ooo_) + ooo_->capacity() * sizeof(Sample);
  }
  if (histograms_) {
    const HistogramStore& hs = *histograms_;
    n += sizeof(hs) + hs.closed.capacity() * sizeof(ClosedChunk) + hs.open.capacity() +
         hs.ooo.capacity() * sizeof(histogram::HistogramSample);
    for (const auto& c : hs.closed) n += c.size;
    for (const auto& s : hs.ooo) {
      n += sizeof(histogram::FloatHistogram) +
           (s.h->positive_buckets.size() + s.h->negative_buckets.size()) * sizeof(double);
    }
  }
  return n;
}

}  // namespace strata::tsdb
