#include "logs/querier.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "logs/head.h"

namespace strata::logs {

namespace {

class HeadStreamSet : public StreamSet {
 public:
  HeadStreamSet(const Head& head, Head::Pin pin,
                std::vector<std::pair<Labels, const Stream*>> streams, int64_t mint, int64_t maxt)
      : head_(head), pin_(std::move(pin)), streams_(std::move(streams)), mint_(mint), maxt_(maxt) {}

  size_t size() const override { return streams_.size(); }
  const Labels& labels(size_t i) const override { return streams_[i].first; }
  Status Entries(size_t i, std::vector<Entry>& out) const override {
    out.clear();
    head_.Entries(*streams_[i].second, mint_, maxt_, out);
    return Status::Ok();
  }

 private:
  const Head& head_;
  const Head::Pin pin_;  // the streams stay allocated while the set lives
  std::vector<std::pair<Labels, const Stream*>> streams_;
  int64_t mint_, maxt_;
};

class HeadQuerier : public Querier {
 public:
  explicit HeadQuerier(const Head& head) : head_(head), pin_(head.PinStreams()) {}

  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                            int64_t maxt, const SelectHints&) const override {
    std::vector<std::pair<Labels, const Stream*>> streams;
    for (const Stream* s : Matching(matchers, mint, maxt)) {
      streams.emplace_back(s->OwnedLabels(), s);
    }
    std::sort(streams.begin(), streams.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return std::unique_ptr<StreamSet>(
        std::make_unique<HeadStreamSet>(head_, pin_, std::move(streams), mint, maxt));
  }

  Result<std::vector<std::string>> LabelNames(std::span<const Matcher> matchers, int64_t mint,
                                              int64_t maxt) const override {
    std::set<std::string> names;
    for (const Stream* s : Matching(matchers, mint, maxt)) {
      for (const auto& l : s->OwnedLabels()) names.insert(l.name);
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               std::span<const Matcher> matchers, int64_t mint,
                                               int64_t maxt) const override {
    std::set<std::string> values;
    for (const Stream* s : Matching(matchers, mint, maxt)) {
      for (const auto& l : s->OwnedLabels()) {
        if (l.name == name) values.insert(l.value);
      }
    }
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  // The streams matching all matchers (every stream when there are none) with entries in
  // [mint, maxt].
  std::vector<const Stream*> Matching(std::span<const Matcher> matchers, int64_t mint,
                                      int64_t maxt) const {
    std::vector<const Stream*> out;
    for (const Stream* s : head_.Select(matchers)) {
      if (head_.Overlaps(*s, mint, maxt)) out.push_back(s);
    }
    return out;
  }

  const Head& head_;
  const Head::Pin pin_;
};

class EmptyQuerier : public Querier {
 public:
  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher>, int64_t, int64_t,
                                            const SelectHints&) const override {
    return std::unique_ptr<StreamSet>(std::make_unique<EmptyStreamSet>());
  }
  Result<std::vector<std::string>> LabelNames(std::span<const Matcher>, int64_t,
                                              int64_t) const override {
    return std::vector<std::string>{};
  }
  Result<std::vector<std::string>> LabelValues(std::string_view, std::span<const Matcher>, int64_t,
                                               int64_t) const override {
    return std::vector<std::string>{};
  }

 private:
  class EmptyStreamSet : public StreamSet {
   public:
    size_t size() const override { return 0; }
    const Labels& labels(size_t) const override { return empty_; }
    Status Entries(size_t, std::vector<Entry>& out) const override {
      out.clear();
      return Status::Ok();
    }

   private:
    Labels empty_;
  };
};

// The union of several sources' stream sets: per output stream, the (set, index) pairs that
// hold it.
class MergeStreamSet : public StreamSet {
 public:
  explicit MergeStreamSet(std::vector<std::unique_ptr<StreamSet>> sets) : sets_(std::move(sets)) {
    std::map<Labels, std::vector<std::pair<size_t, size_t>>> by_labels;
    for (size_t k = 0; k < sets_.size(); ++k) {
      for (size_t i = 0; i < sets_[k]->size(); ++i) {
        by_labels[sets_[k]->labels(i)].emplace_back(k, i);
      }
    }
    for (auto& [labels, parts] : by_labels) streams_.emplace_back(labels, std::move(parts));
  }

  size_t size() const override { return streams_.size(); }
  const Labels& labels(size_t i) const override { return streams_[i].first; }

  Status Entries(size_t i, std::vector<Entry>& out) const override {
    out.clear();
    const auto& parts = streams_[i].second;
    if (parts.size() == 1) return sets_[parts[0].first]->Entries(parts[0].second, out);
    std::vector<Entry> part;
    for (const auto& [k, j] : parts) {
      RETURN_IF_ERROR(sets_[k]->Entries(j, part));
      size_t mid = out.size();
      std::move(part.begin(), part.end(), std::back_inserter(out));
      std::inplace_merge(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(mid), out.end(),
                         [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
    }
    RemoveDuplicates(out);
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<StreamSet>> sets_;
  std::vector<std::pair<Labels, std::vector<std::pair<size_t, size_t>>>> streams_;
};

class MergeQuerier : public Querier {
 public:
  explicit MergeQuerier(std::vector<std::unique_ptr<Querier>> queriers)
      : queriers_(std::move(queriers)) {}

  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                            int64_t maxt, const SelectHints& hints) const override {
    std::vector<std::unique_ptr<StreamSet>> sets;
    for (const auto& q : queriers_) {
      ASSIGN_OR_RETURN(auto set, q->Select(matchers, mint, maxt, hints));
      if (set->size() > 0) sets.push_back(std::move(set));
    }
    // Usually one source holds the range (the head, or no block in it): no merging then.
    if (sets.size() == 1) return std::move(sets[0]);
    return std::unique_ptr<StreamSet>(std::make_unique<MergeStreamSet>(std::move(sets)));
  }

  Result<std::vector<std::string>> LabelNames(std::span<const Matcher> matchers, int64_t mint,
                                              int64_t maxt) const override {
    return Union([&](const Querier& q) { return q.LabelNames(matchers, mint, maxt); });
  }
  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               std::span<const Matcher> matchers, int64_t mint,
                                               int64_t maxt) const override {
    return Union([&](const Querier& q) { return q.LabelValues(name, matchers, mint, maxt); });
  }

 private:
  template <typename Fn>
  Result<std::vector<std::string>> Union(Fn fn) const {
    std::set<std::string> all;
    for (const auto& q : queriers_) {
      ASSIGN_OR_RETURN(auto part, fn(*q));
      all.insert(std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return std::vector<std::string>(all.begin(), all.end());
  }

  std::vector<std::unique_ptr<Querier>> queriers_;
};

}  // namespace

std::unique_ptr<Querier> NewHeadQuerier(const Head& head) {
  return std::make_unique<HeadQuerier>(head);
}

std::unique_ptr<Querier> NewEmptyQuerier() { return std::make_unique<EmptyQuerier>(); }

std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers) {
  if (queriers.size() == 1) return std::move(queriers[0]);
  return std::make_unique<MergeQuerier>(std::move(queriers));
}

}  // namespace strata::logs
