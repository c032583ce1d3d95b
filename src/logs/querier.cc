#include "logs/querier.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "logs/head.h"

namespace strata::logs {

Status StreamSet::Visit(size_t i, bool, const EntryVisitor& fn) const {
  std::vector<Entry> entries;
  RETURN_IF_ERROR(Entries(i, entries));
  std::vector<LabelView> metadata;
  for (const Entry& e : entries) {
    metadata.clear();
    for (const auto& m : e.metadata) metadata.push_back({m.name, m.value});
    RETURN_IF_ERROR(fn(EntryRef{e.ts_ns, e.line, metadata}));
  }
  return Status::Ok();
}

Status StreamSet::Spans(size_t i, std::vector<Span>& out) const {
  std::vector<Entry> entries;
  RETURN_IF_ERROR(Entries(i, entries));
  for (const Entry& e : entries) {
    uint64_t bytes = e.line.size();
    for (const auto& m : e.metadata) bytes += m.name.size() + m.value.size();
    out.push_back({e.ts_ns, e.ts_ns, 1, bytes});
  }
  return Status::Ok();
}

namespace {

class HeadStreamSet : public StreamSet {
 public:
  HeadStreamSet(const Head& head, Head::Pin pin,
                std::vector<std::pair<Labels, const Stream*>> streams, int64_t mint, int64_t maxt,
                uint64_t shipped)
      : head_(head),
        pin_(std::move(pin)),
        streams_(std::move(streams)),
        mint_(mint),
        maxt_(maxt),
        shipped_(shipped) {}

  size_t size() const override { return streams_.size(); }
  const Labels& labels(size_t i) const override { return streams_[i].first; }
  Status Entries(size_t i, std::vector<Entry>& out) const override {
    out.clear();
    head_.Entries(*streams_[i].second, mint_, maxt_, shipped_, out);
    return Status::Ok();
  }
  Status Spans(size_t i, std::vector<Span>& out) const override {
    head_.Spans(*streams_[i].second, mint_, maxt_, shipped_, out);
    return Status::Ok();
  }

 private:
  const Head& head_;
  const Head::Pin pin_;  // the streams stay allocated while the set lives
  std::vector<std::pair<Labels, const Stream*>> streams_;
  int64_t mint_, maxt_;
  uint64_t shipped_;
};

class HeadQuerier : public Querier {
 public:
  HeadQuerier(const Head& head, uint64_t shipped)
      : head_(head), pin_(head.PinStreams()), shipped_(shipped) {}

  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                            int64_t maxt, const SelectHints&) const override {
    std::vector<std::pair<Labels, const Stream*>> streams;
    for (const Stream* s : Matching(matchers, mint, maxt)) {
      streams.emplace_back(s->OwnedLabels(), s);
    }
    std::sort(streams.begin(), streams.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return std::unique_ptr<StreamSet>(
        std::make_unique<HeadStreamSet>(head_, pin_, std::move(streams), mint, maxt, shipped_));
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
  const uint64_t shipped_;
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

  Status Spans(size_t i, std::vector<Span>& out) const override {
    for (const auto& [k, j] : streams_[i].second) RETURN_IF_ERROR(sets_[k]->Spans(j, out));
    return Status::Ok();
  }

  // The union of the parts' bounds, when they know them.
  std::pair<int64_t, int64_t> Bounds(size_t i) const override {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const auto& [k, j] : streams_[i].second) {
      auto [plo, phi] = sets_[k]->Bounds(j);
      if (plo == INT64_MIN && phi == INT64_MAX) return {INT64_MIN, INT64_MAX};
      lo = std::min(lo, plo);
      hi = std::max(hi, phi);
    }
    return {lo, hi};
  }

  // Parts with known bounds that do not meet each other's (blocks of different times) are
  // streamed one after another; the others (the head's, blocks overlapping those) are read
  // whole, merged, and their entries woven in by time. An entry identical to one from another
  // part is visited once (each part holds an entry once, as the head and blocks do).
  Status Visit(size_t i, bool lines, const EntryVisitor& fn) const override {
    const auto& parts = streams_[i].second;
    if (parts.size() == 1) return sets_[parts[0].first]->Visit(parts[0].second, lines, fn);
    struct Part {
      size_t k, j;
      int64_t lo, hi;
    };
    std::vector<Part> all;
    for (const auto& [k, j] : parts) {
      auto [lo, hi] = sets_[k]->Bounds(j);
      all.push_back({k, j, lo, hi});
    }
    std::sort(all.begin(), all.end(), [](const Part& a, const Part& b) { return a.lo < b.lo; });
    std::vector<Part> streamed;
    std::vector<Entry> rest, part;
    for (const Part& p : all) {
      if (p.lo > p.hi) continue;  // no entry in the range
      const bool known = p.lo != INT64_MIN || p.hi != INT64_MAX;
      if (known && (streamed.empty() || streamed.back().hi < p.lo)) {
        streamed.push_back(p);
        continue;
      }
      RETURN_IF_ERROR(sets_[p.k]->Entries(p.j, part));
      size_t mid = rest.size();
      std::move(part.begin(), part.end(), std::back_inserter(rest));
      std::inplace_merge(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(mid), rest.end(),
                         [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
    }
    RemoveDuplicates(rest);
    std::vector<bool> dropped(rest.size());
    size_t next = 0;
    std::vector<LabelView> metadata;
    // Visits the read entries older than `t` (all with nullopt).
    auto emit_rest_before = [&](std::optional<int64_t> t) -> Status {
      for (; next < rest.size() && (!t || rest[next].ts_ns < *t); ++next) {
        if (dropped[next]) continue;
        metadata.clear();
        for (const auto& m : rest[next].metadata) metadata.push_back({m.name, m.value});
        RETURN_IF_ERROR(fn(EntryRef{rest[next].ts_ns, rest[next].line, metadata}));
      }
      return Status::Ok();
    };
    // Telling a streamed entry from a read one takes the lines.
    if (!rest.empty()) lines = true;
    for (const Part& p : streamed) {
      auto visit = [&](const EntryRef& e) -> Status {
        RETURN_IF_ERROR(emit_rest_before(e.ts_ns));
        // The read entries of this time wait until time moves on, so those identical to a
        // streamed one are dropped first.
        for (size_t m = next; m < rest.size() && rest[m].ts_ns == e.ts_ns; ++m) {
          if (!dropped[m] && rest[m].line == e.line &&
              std::equal(rest[m].metadata.begin(), rest[m].metadata.end(), e.metadata.begin(),
                         e.metadata.end(), [](const Label& a, const LabelView& b) {
                           return a.name == b.name && a.value == b.value;
                         })) {
            dropped[m] = true;
          }
        }
        return fn(e);
      };
      RETURN_IF_ERROR(sets_[p.k]->Visit(p.j, lines, visit));
    }
    return emit_rest_before(std::nullopt);
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

std::unique_ptr<Querier> NewHeadQuerier(const Head& head, uint64_t shipped) {
  return std::make_unique<HeadQuerier>(head, shipped);
}

std::unique_ptr<Querier> NewEmptyQuerier() { return std::make_unique<EmptyQuerier>(); }

std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers) {
  if (queriers.size() == 1) return std::move(queriers[0]);
  return std::make_unique<MergeQuerier>(std::move(queriers));
}

}  // namespace strata::logs
