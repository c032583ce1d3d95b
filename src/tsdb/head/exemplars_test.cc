#include "tsdb/head/exemplars.h"

#include <gtest/gtest.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <array>
#include <string>
#include <vector>

namespace strata::tsdb {
namespace {

Exemplar Ex(std::string trace, double v, int64_t t) { return {{{"trace_id", trace}}, v, t}; }

std::vector<Matcher> Eq(const std::string& name, const std::string& value) {
  return {*Matcher::Make(Matcher::Type::kEqual, name, value)};
}

constexpr std::array<LabelView, 2> kA = {{{"__name__", "req"}, {"job", "a"}}};
constexpr std::array<LabelView, 2> kB = {{{"__name__", "req"}, {"job", "b"}}};

// Prometheus 3.5's order: newest first decides; ties at one time are broken by value, then by
// the labels' hash; the newest again is a duplicate.
TEST(ExemplarStore, TakesExemplarsInPrometheusOrder) {
  ExemplarStore store(10);
  EXPECT_EQ(store.Add(kA, Ex("1", 1, 100)), ExemplarResult::kAdded);
  EXPECT_EQ(store.Add(kA, Ex("1", 1, 100)), ExemplarResult::kDuplicate);
  EXPECT_EQ(store.Add(kA, Ex("2", 1, 99)), ExemplarResult::kOutOfOrder);
  EXPECT_EQ(store.Add(kA, Ex("2", 0.5, 100)), ExemplarResult::kOutOfOrder);
  EXPECT_EQ(store.Add(kA, Ex("2", 2, 100)), ExemplarResult::kAdded);
  // The same time and value: Prometheus's labels.Hash (xxHash64 of name 0xff value 0xff)
  // orders them.
  auto hash = [](const std::string& trace) {
    const std::string bytes = "trace_id\xff" + trace + "\xff";
    return XXH64(bytes.data(), bytes.size(), 0);
  };
  const bool x_first = hash("x") < hash("y");
  EXPECT_EQ(store.Add(kA, Ex(x_first ? "x" : "y", 3, 200)), ExemplarResult::kAdded);
  EXPECT_EQ(store.Add(kA, Ex(x_first ? "y" : "x", 3, 200)), ExemplarResult::kAdded);
  EXPECT_EQ(store.Add(kA, Ex(x_first ? "x" : "y", 3, 200)), ExemplarResult::kOutOfOrder);
  // Another series has its own order.
  EXPECT_EQ(store.Add(kB, Ex("b", 1, 50)), ExemplarResult::kAdded);
  EXPECT_EQ(store.size(), 5u);
}

// At most 128 characters of label names and values together, counted as runes.
TEST(ExemplarStore, BoundsLabelLength) {
  ExemplarStore store(10);
  std::string value(128 - 8, 'a');  // "trace_id" is 8
  EXPECT_EQ(store.Add(kA, {{{"trace_id", value}}, 1, 1}), ExemplarResult::kAdded);
  EXPECT_EQ(store.Add(kA, {{{"trace_id", value + "a"}}, 1, 2}), ExemplarResult::kLabelsTooLong);
  std::string wide;
  for (int i = 0; i < 120; ++i) wide += "\u00e9";  // 120 runes, 240 bytes
  EXPECT_EQ(store.Add(kA, {{{"trace_id", wide}}, 1, 3}), ExemplarResult::kAdded);
  ExemplarStore none(0);
  EXPECT_EQ(none.Add(kA, Ex("1", 1, 1)), ExemplarResult::kDisabled);
}

// One ring for all series: the oldest exemplar goes first, and a series whose last exemplar
// went is gone.
TEST(ExemplarStore, OverwritesTheOldest) {
  ExemplarStore store(3);
  ASSERT_EQ(store.Add(kB, Ex("b1", 1, 10)), ExemplarResult::kAdded);
  ASSERT_EQ(store.Add(kA, Ex("a1", 1, 20)), ExemplarResult::kAdded);
  ASSERT_EQ(store.Add(kA, Ex("a2", 1, 30)), ExemplarResult::kAdded);
  ASSERT_EQ(store.Add(kA, Ex("a3", 1, 40)), ExemplarResult::kAdded);  // b1 goes
  EXPECT_EQ(store.size(), 3u);
  std::vector<std::vector<Matcher>> all = {Eq("__name__", "req")};
  auto got = store.Select(all, INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].series, ToLabels(kA));
  EXPECT_EQ(got[0].exemplars,
            (std::vector<Exemplar>{Ex("a1", 1, 20), Ex("a2", 1, 30), Ex("a3", 1, 40)}));
  ASSERT_EQ(store.Add(kA, Ex("a4", 1, 50)), ExemplarResult::kAdded);  // a1 goes
  got = store.Select(all, INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].exemplars.front(), Ex("a2", 1, 30));
  // The series can start again after it went.
  ExemplarStore one(1);
  ASSERT_EQ(one.Add(kA, Ex("1", 1, 10)), ExemplarResult::kAdded);
  ASSERT_EQ(one.Add(kA, Ex("2", 1, 5)), ExemplarResult::kOutOfOrder);
  ASSERT_EQ(one.Add(kB, Ex("3", 1, 1)), ExemplarResult::kAdded);
  ASSERT_EQ(one.Add(kA, Ex("2", 1, 5)), ExemplarResult::kAdded);
}

// Select: any matcher set, both ends of the range included, series sorted by labels.
TEST(ExemplarStore, SelectsByMatchersAndTime) {
  ExemplarStore store(10);
  store.Add(kB, Ex("b1", 1, 10));
  store.Add(kA, Ex("a1", 2, 10));
  store.Add(kA, Ex("a2", 3, 20));
  store.Add(kA, Ex("a3", 4, 30));
  std::vector<std::vector<Matcher>> sets = {Eq("job", "b"), Eq("job", "a")};
  auto got = store.Select(sets, 10, 20);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].series, ToLabels(kA));
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("a1", 2, 10), Ex("a2", 3, 20)}));
  EXPECT_EQ(got[1].series, ToLabels(kB));
  EXPECT_TRUE(store.Select(sets, 31, 40).empty());
  std::vector<std::vector<Matcher>> only_b = {Eq("job", "b")};
  EXPECT_EQ(store.Select(only_b, INT64_MIN, INT64_MAX).size(), 1u);
}

}  // namespace
}  // namespace strata::tsdb
