#include "logs/querier.h"

#include <algorithm>
#include <set>
#include <utility>

#include "logs/head.h"
#include "logs/storage.h"

namespace strata::logs {

namespace {

class HeadStreamSet : public StreamSet {
 public:
  HeadStreamSet(const Head& head, std::vector<std::pair<Labels, const Stream*>> streams,
                int64_t mint, int64_t maxt)
      : head_(head), streams_(std::move(streams)), mint_(mint), maxt_(maxt) {}

  size_t size() const override { return streams_.size(); }
  const Labels& labels(size_t i) const override { return streams_[i].first; }
  void Entries(size_t i, std::vector<Entry>& out) const override {
    out.clear();
    head_.Entries(*streams_[i].second, mint_, maxt_, out);
  }

 private:
  const Head& head_;
  std::vector<std::pair<Labels, const Stream*>> streams_;
  int64_t mint_, maxt_;
};

class HeadQuerier : public Querier {
 public:
  explicit HeadQuerier(const Head& head) : head_(head) {}

  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher> matchers, int64_t mint,
                                            int64_t maxt) const override {
    std::vector<std::pair<Labels, const Stream*>> streams;
    for (const Stream* s : Matching(matchers, mint, maxt)) {
      streams.emplace_back(s->OwnedLabels(), s);
    }
    std::sort(streams.begin(), streams.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return std::unique_ptr<StreamSet>(
        std::make_unique<HeadStreamSet>(head_, std::move(streams), mint, maxt));
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
};

class EmptyQuerier : public Querier {
 public:
  Result<std::unique_ptr<StreamSet>> Select(std::span<const Matcher>, int64_t,
                                            int64_t) const override {
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
    void Entries(size_t, std::vector<Entry>& out) const override { out.clear(); }

   private:
    Labels empty_;
  };
};

}  // namespace

std::unique_ptr<Querier> NewHeadQuerier(const Head& head) {
  return std::make_unique<HeadQuerier>(head);
}

std::unique_ptr<Querier> NewEmptyQuerier() { return std::make_unique<EmptyQuerier>(); }

Result<std::unique_ptr<Querier>> StorageQueryable::TenantQuerier(
    const std::string& tenant, const query::ReadHints& /*hints*/) const {
  const Storage* st = storage_.load(std::memory_order_acquire);
  if (st == nullptr) return Status::Unavailable("log storage is not ready: WAL replay in progress");
  const Db* db = st->Find(tenant);
  if (db == nullptr) return NewEmptyQuerier();
  return NewHeadQuerier(db->head());
}

}  // namespace strata::logs
