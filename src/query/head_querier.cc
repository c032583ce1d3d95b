#include "query/head_querier.h"

#include <algorithm>
#include <set>

namespace strata::query {

Result<std::vector<SeriesData>> HeadQuerier::Select(const SelectParams& params,
                                                    std::span<const Matcher> matchers) const {
  std::vector<SeriesData> out;
  if (matchers.empty()) return out;
  uint64_t total = 0;
  for (const tsdb::MemSeries* s : head_.Select(matchers)) {
    SeriesData d;
    head_.WithSeriesLocked(*s, [&](const tsdb::MemSeries& ms) {
      ms.ForEachSample(params.mint, params.maxt, [&](int64_t t, double v) {
        d.samples.push_back({t, v});
      });
    });
    if (d.samples.empty()) continue;
    total += d.samples.size();
    if (total > params.max_samples) {
      return Status::ResourceExhausted("too many samples selected");
    }
    d.labels = s->OwnedLabels();
    out.push_back(std::move(d));
  }
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
