#include "query/head_querier.h"

#include <algorithm>
#include <set>

namespace strata::query {

namespace {

// The head's series for one Select: labels copied up front, samples decoded under the
// series' lock when asked for.
class HeadSeriesSet : public SeriesSet {
 public:
  HeadSeriesSet(const tsdb::Head& head, tsdb::Head::Pin pin, const SelectParams& p,
                std::vector<tsdb::MemSeries*> s)
      : head_(head),
        pin_(std::move(pin)),
        params_(p),
        series_(std::move(s)),
        labels_(series_.size()) {
    for (size_t i = 0; i < series_.size(); ++i) labels_[i] = series_[i]->OwnedLabels();
    std::vector<size_t> order(series_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return labels_[a] < labels_[b]; });
    std::vector<tsdb::MemSeries*> series(order.size());
    std::vector<Labels> labels(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      series[i] = series_[order[i]];
      labels[i] = std::move(labels_[order[i]]);
    }
    series_ = std::move(series);
    labels_ = std::move(labels);
  }
  size_t size() const override { return series_.size(); }
  const Labels& labels(size_t i) const override { return labels_[i]; }
  void Samples(size_t i, std::vector<Sample>& out) const override {
    out.clear();
    head_.WithSeriesLocked(*series_[i], [&](const tsdb::MemSeries& ms) {
      ms.AppendSamples(params_.mint, params_.maxt, out);
    });
  }
  void Histograms(size_t i, std::vector<histogram::HistogramSample>& out) const override {
    out.clear();
    head_.WithSeriesLocked(*series_[i], [&](const tsdb::MemSeries& ms) {
      ms.AppendHistograms(params_.mint, params_.maxt, out);
    });
  }

 private:
  const tsdb::Head& head_;
  const tsdb::Head::Pin pin_;  // the series stay allocated while the set lives
  const SelectParams params_;
  std::vector<tsdb::MemSeries*> series_;
  std::vector<Labels> labels_;
};

}  // namespace

Result<std::unique_ptr<SeriesSet>> HeadQuerier::Select(const SelectParams& params,
                                                       std::span<const Matcher> matchers) const {
  std::vector<tsdb::MemSeries*> series;
  if (!matchers.empty()) series = head_.Select(matchers);
  return std::unique_ptr<SeriesSet>(
      std::make_unique<HeadSeriesSet>(head_, pin_, params, std::move(series)));
}

Result<std::vector<Labels>> HeadQuerier::Series(int64_t /*mint*/, int64_t /*maxt*/,
                                                std::span<const Matcher> matchers) const {
  std::vector<Labels> out;
  if (matchers.empty()) return out;
  for (const tsdb::MemSeries* s : head_.Select(matchers)) out.push_back(s->OwnedLabels());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> HeadQuerier::LabelNames(int64_t /*mint*/, int64_t /*maxt*/,
                                                         std::span<const Matcher> matchers) const {
  if (matchers.empty()) return head_.LabelNames();
  std::set<std::string> names;
  for (const tsdb::MemSeries* s : head_.Select(matchers)) {
    for (const auto& l : s->labels()) names.emplace(l.name.view());
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> HeadQuerier::LabelValues(std::string_view name, int64_t /*mint*/,
                                                          int64_t /*maxt*/,
                                                          std::span<const Matcher> matchers) const {
  if (matchers.empty()) return head_.LabelValues(name);
  std::set<std::string> values;
  for (const tsdb::MemSeries* s : head_.Select(matchers)) {
    for (const auto& l : s->labels()) {
      if (l.name.view() == name) values.emplace(l.value.view());
    }
  }
  return std::vector<std::string>(values.begin(), values.end());
}

}  // namespace strata::query
