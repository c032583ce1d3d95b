#include "query/merge_querier.h"

#include <algorithm>

namespace strata::query {
namespace {

class MergedSeriesSet : public SeriesSet {
 public:
  explicit MergedSeriesSet(std::vector<std::unique_ptr<SeriesSet>> sets) : sets_(std::move(sets)) {
    std::vector<size_t> pos(sets_.size(), 0);
    while (true) {
      const Labels* min = nullptr;
      for (size_t s = 0; s < sets_.size(); ++s) {
        if (pos[s] < sets_[s]->size() && (!min || sets_[s]->labels(pos[s]) < *min)) {
          min = &sets_[s]->labels(pos[s]);
        }
      }
      if (!min) break;
      Entry e{min, {}};
      for (size_t s = 0; s < sets_.size(); ++s) {
        if (pos[s] < sets_[s]->size() && sets_[s]->labels(pos[s]) == *min) {
          e.parts.emplace_back(s, pos[s]++);
        }
      }
      entries_.push_back(std::move(e));
    }
  }
  size_t size() const override { return entries_.size(); }
  const Labels& labels(size_t i) const override { return *entries_[i].labels; }
  void Samples(size_t i, std::vector<Sample>& out) const override {
    Merge(i, out, &SeriesSet::Samples);
  }
  void Histograms(size_t i, std::vector<histogram::HistogramSample>& out) const override {
    Merge(i, out, &SeriesSet::Histograms);
  }

 private:
  struct Entry {
    const Labels* labels;
    std::vector<std::pair<size_t, size_t>> parts;  // (set, index in set)
  };
  // Reads series i's points from every part, merged by time; at equal times the first
  // part's point is kept.
  template <typename T>
  void Merge(size_t i, std::vector<T>& out,
             void (SeriesSet::*read)(size_t, std::vector<T>&) const) const {
    const Entry& e = entries_[i];
    (sets_[e.parts[0].first].get()->*read)(e.parts[0].second, out);
    if (e.parts.size() == 1) return;
    std::vector<T> more;
    std::vector<T> scratch;
    for (size_t p = 1; p < e.parts.size(); ++p) {
      (sets_[e.parts[p].first].get()->*read)(e.parts[p].second, more);
      MergeByTime(out, more, scratch);
    }
  }

  std::vector<std::unique_ptr<SeriesSet>> sets_;
  std::vector<Entry> entries_;
};

template <typename T>
std::vector<T> Union(std::vector<std::vector<T>> lists) {
  std::vector<T> out;
  for (auto& l : lists) {
    std::vector<T> merged;
    merged.reserve(out.size() + l.size());
    std::set_union(std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()),
                   std::make_move_iterator(l.begin()), std::make_move_iterator(l.end()),
                   std::back_inserter(merged));
    out.swap(merged);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SeriesSet>> MergeQuerier::Select(const SelectParams& params,
                                                        std::span<const Matcher> matchers) const {
  std::vector<std::unique_ptr<SeriesSet>> sets;
  for (const auto& p : parts_) {
    ASSIGN_OR_RETURN(std::unique_ptr<SeriesSet> s, p->Select(params, matchers));
    sets.push_back(std::move(s));
  }
  if (sets.size() == 1) return std::move(sets[0]);
  return std::unique_ptr<SeriesSet>(std::make_unique<MergedSeriesSet>(std::move(sets)));
}

Result<std::vector<Labels>> MergeQuerier::Series(int64_t mint, int64_t maxt,
                                                 std::span<const Matcher> matchers) const {
  std::vector<std::vector<Labels>> lists;
  for (const auto& p : parts_) {
    ASSIGN_OR_RETURN(std::vector<Labels> l, p->Series(mint, maxt, matchers));
    lists.push_back(std::move(l));
  }
  return Union(std::move(lists));
}

Result<std::vector<std::string>> MergeQuerier::LabelNames(int64_t mint, int64_t maxt,
                                                          std::span<const Matcher> matchers) const {
  std::vector<std::vector<std::string>> lists;
  for (const auto& p : parts_) {
    ASSIGN_OR_RETURN(std::vector<std::string> l, p->LabelNames(mint, maxt, matchers));
    lists.push_back(std::move(l));
  }
  return Union(std::move(lists));
}

Result<std::vector<std::string>> MergeQuerier::LabelValues(
    std::string_view name, int64_t mint, int64_t maxt, std::span<const Matcher> matchers) const {
  std::vector<std::vector<std::string>> lists;
  for (const auto& p : parts_) {
    ASSIGN_OR_RETURN(std::vector<std::string> l, p->LabelValues(name, mint, maxt, matchers));
    lists.push_back(std::move(l));
  }
  return Union(std::move(lists));
}

}  // namespace strata::query
