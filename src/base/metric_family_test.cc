#include "base/metric_family.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace strata {
namespace {

// The label sets of a family's series as the registry collects them, with their values.
std::map<std::map<std::string, std::string>, double> Collected(prometheus::Registry& r) {
  std::map<std::map<std::string, std::string>, double> out;
  for (const auto& f : r.Collect()) {
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& l : m.label) labels[l.name] = l.value;
      out[labels] = f.type == prometheus::MetricType::Histogram
                        ? static_cast<double>(m.histogram.sample_count)
                        : m.counter.value;
    }
  }
  return out;
}

TEST(SeriesByLabels, OneSeriesPerLabelValues) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("c_total").Help("h").Register(registry);
  SeriesByLabels<prometheus::Counter> series(family, {"a", "b"});
  series.Get({"x", "y"}).Increment();
  series.Get({"x", "y"}).Increment(2);
  EXPECT_EQ(&series.Get({"x", "y"}), &family.Add({{"a", "x"}, {"b", "y"}}));
  // Values that would run together when joined stay apart.
  series.Get({"ab", "c"}).Increment();
  series.Get({"a", "bc"}).Increment(5);
  series.Get({"", "y"}).Increment(7);
  std::map<std::map<std::string, std::string>, double> want = {
      {{{"a", "x"}, {"b", "y"}}, 3},
      {{{"a", "ab"}, {"b", "c"}}, 1},
      {{{"a", "a"}, {"b", "bc"}}, 5},
      {{{"a", ""}, {"b", "y"}}, 7},
  };
  EXPECT_EQ(Collected(registry), want);
}

TEST(SeriesByLabels, NewSeriesGetTheFamilysArguments) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildHistogram().Name("h_seconds").Help("h").Register(registry);
  SeriesByLabels<prometheus::Histogram> series(family, {"route"},
                                               prometheus::Histogram::BucketBoundaries{1, 2});
  constexpr int kThreads = 4, kEach = 1000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) series.Get({t % 2 == 0 ? "/a" : "/b"}).Observe(1.5);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& f : registry.Collect()) {
    ASSERT_EQ(f.metric.size(), 2u);
    for (const auto& m : f.metric) {
      EXPECT_EQ(m.histogram.sample_count, 2u * kEach);
      ASSERT_EQ(m.histogram.bucket.size(), 3u);  // 1, 2 and +Inf
      EXPECT_EQ(m.histogram.bucket[0].cumulative_count, 0u);
      EXPECT_EQ(m.histogram.bucket[1].cumulative_count, 2u * kEach);
    }
  }
}

}  // namespace
}  // namespace strata
