#include "tsdb/head/head.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <thread>
#include <tuple>

namespace strata::tsdb {
namespace {

std::vector<Sample> SamplesOf(const Head& h, const MemSeries& s, int64_t mint = INT64_MIN,
                              int64_t maxt = INT64_MAX) {
  std::vector<Sample> out;
  h.WithSeriesLocked(s, [&](const MemSeries& ms) {
    ms.ForEachSample(mint, maxt, [&](int64_t t, double v) { out.push_back({t, v}); });
  });
  return out;
}

MemSeries* Create(Head& h, std::vector<LabelView> labels) {
  bool created;
  return h.GetOrCreate(HashLabels(labels), labels, &created);
}

TEST(Head, CreatesFindsAndInternsSeries) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "up"}, {"job", "node"}};
  std::vector<LabelView> b = {{"__name__", "up"}, {"job", "prom"}};
  bool created;
  MemSeries* sa = h.GetOrCreate(HashLabels(a), a, &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(h.GetOrCreate(HashLabels(a), a, &created), sa);
  EXPECT_FALSE(created);
  MemSeries* sb = Create(h, b);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(h.Find(HashLabels(b), b), sb);
  EXPECT_EQ(h.num_series(), 2u);
  EXPECT_EQ(h.SeriesForMetric("up"), 2u);
  EXPECT_EQ(h.ByRef(sa->ref()), sa);
  // "__name__", "up", "job", "node", "prom": shared strings are stored once.
  EXPECT_EQ(h.Stats().symbols, 5u);
  EXPECT_EQ(sa->labels()[0].name, sb->labels()[0].name);
}

TEST(Head, ReusedRefIsRefused) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "a"}};
  std::vector<LabelView> b = {{"__name__", "b"}};
  bool created;
  ASSERT_NE(h.GetOrCreate(HashLabels(a), a, &created, 7), nullptr);
  EXPECT_EQ(h.GetOrCreate(HashLabels(b), b, &created, 7), nullptr);
  EXPECT_EQ(h.GetOrCreate(HashLabels(a), a, &created, 7)->ref(), 7u);  // same labels: found
  // A corrupt, huge ref must not make the head allocate a table for it.
  EXPECT_EQ(h.GetOrCreate(HashLabels(b), b, &created, 4'000'000'000u), nullptr);
  EXPECT_EQ(h.GetOrCreate(HashLabels(b), b, &created, UINT32_MAX), nullptr);
}

TEST(Head, HashCollisionsAreResolvedByLabels) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "a"}};
  std::vector<LabelView> b = {{"__name__", "b"}};
  bool created;
  // Force both label sets onto the same hash.
  MemSeries* sa = h.GetOrCreate(42, a, &created);
  MemSeries* sb = h.GetOrCreate(42, b, &created);
  EXPECT_TRUE(created);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(h.Find(42, a), sa);
  EXPECT_EQ(h.Find(42, b), sb);
  EXPECT_EQ(h.Find(42, std::vector<LabelView>{{"__name__", "c"}}), nullptr);
}

TEST(Head, AppendRulesAndDuplicates) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 1000, 2, 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 999, 2, 0), AppendResult::kOutOfOrder);
  // Regression: a retried batch re-sends samples older than the newest one; exact duplicates
  // anywhere in the series are accepted, conflicting ones are not.
  EXPECT_EQ(h.Append(*s, 1500, 3, 0), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 1000, 4, 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 1200, 1, 0), AppendResult::kOutOfOrder);
  EXPECT_EQ(h.Append(*s, 2000, StaleNaN(), 0), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 2000, StaleNaN(), 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 2000, std::nan(""), 0), AppendResult::kDuplicateTimestamp);
  auto got = SamplesOf(h, *s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(IsStaleNaN(got[2].v));
}

TEST(Head, CutsChunksAndReadsRanges) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(h.Append(*s, int64_t{i} * 15000, i, 0), AppendResult::kAppended);
  EXPECT_EQ(h.Stats().chunks, (1000 + 119) / 120);
  auto all = SamplesOf(h, *s);
  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(all[i].t, int64_t{i} * 15000);
  auto part = SamplesOf(h, *s, int64_t{15000} * 100, int64_t{15000} * 300);
  ASSERT_EQ(part.size(), 201u);
  EXPECT_EQ(part.front().v, 100);
  EXPECT_EQ(part.back().v, 300);
}

TEST(Head, OutOfOrderWindow) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  const int64_t w = 10'000;
  ASSERT_EQ(h.Append(*s, 100'000, 1, w), AppendResult::kAppended);
  ASSERT_EQ(h.Append(*s, 110'000, 3, w), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 105'000, 2, w), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 105'000, 2, w), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 105'000, 9, w), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 100'000, 1, w), AppendResult::kDuplicate);  // in a chunk, in window
  EXPECT_EQ(h.Append(*s, 99'000, 1, w), AppendResult::kTooOld);
  auto got = SamplesOf(h, *s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].t, 100'000);
  EXPECT_EQ(got[1].t, 105'000);
  EXPECT_EQ(got[2].t, 110'000);
}

TEST(Head, SelectWithMatchers) {
  Head h;
  Create(h, {{"__name__", "node_cpu"}, {"cpu", "0"}, {"mode", "idle"}});
  Create(h, {{"__name__", "node_cpu"}, {"cpu", "1"}, {"mode", "user"}});
  Create(h, {{"__name__", "up"}, {"job", "node"}});
  using T = Matcher::Type;
  auto sel = [&](const std::vector<std::tuple<T, std::string, std::string>>& spec) {
    std::vector<Matcher> ms;
    ms.reserve(spec.size());
    for (const auto& [t, n, v] : spec) ms.push_back(Matcher::Make(t, n, v).value());
    return h.Select(ms).size();
  };
  EXPECT_EQ(sel({{T::kEqual, "__name__", "node_cpu"}}), 2u);
  EXPECT_EQ(sel({{T::kEqual, "__name__", "node_cpu"}, {T::kEqual, "mode", "idle"}}), 1u);
  EXPECT_EQ(sel({{T::kRegex, "__name__", "node_.*|up"}}), 3u);
  EXPECT_EQ(sel({{T::kNotEqual, "mode", "idle"}}), 2u);  // includes `up`, which lacks the label
  EXPECT_EQ(sel({{T::kEqual, "job", ""}}), 2u);
  EXPECT_EQ(sel({{T::kRegex, "cpu", "1|2"}}), 1u);
  EXPECT_EQ(sel({{T::kNotRegex, "cpu", ".+"}}), 1u);
  EXPECT_EQ(sel({{T::kEqual, "__name__", "missing"}}), 0u);
}

TEST(Head, ConcurrentCreateAndAppend) {
  Head h;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = std::to_string(i % 500);
        std::vector<LabelView> l = {{"__name__", "m"}, {"id", id}};
        bool created;
        MemSeries* s = h.GetOrCreate(HashLabels(l), l, &created);
        h.Append(*s, t * 100000 + i, i, 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.num_series(), 500u);
  EXPECT_EQ(h.SeriesForMetric("m"), 500u);
}

}  // namespace
}  // namespace strata::tsdb
