#include "query/head_querier.h"

#include <algorithm>
#include <atomic>
#include <set>

#include "base/parallel.h"

namespace strata::query {

Result<std::vector<SeriesData>> HeadQuerier::Select(const SelectParams& params,
                                                    std::span<const Matcher> matchers) const {
  std::vector<SeriesData> out;
  if (matchers.empty()) return out;
  std::vector<tsdb::MemSeries*> series = head_.Select(matchers);
  out.resize(series.size());
  std::atomic<uint64_t> total{0};
  // Chunks are decoded in parallel: decoding dominates the cost of reading the head.
  ParallelFor(series.size(), 256, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end && total.load(std::memory_order_relaxed) <= params.max_samples;
         ++i) {
      SeriesData& d = out[i];
      head_.WithSeriesLocked(*series[i], [&](const tsdb::MemSeries& ms) {
        ms.AppendSamples(params.mint, params.maxt, d.samples);
      });
      if (d.samples.empty()) continue;
      total.fetch_add(d.samples.size(), std::memory_order_relaxed);
      d.labels = series[i]->OwnedLabels();
    }
  });
  if (total.load() > params.max_samples) {
    return Status::ResourceExhausted("too many samples selected");
  }
  std::erase_if(out, [](const SeriesData& d) { return d.samples.empty(); });
  std::sort(out.begin(), out.end(),
            [](const SeriesData& a, const SeriesData& b) { return a.labels < b.labels; });
  return out;
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
