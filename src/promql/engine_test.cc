#include "promql/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <sstream>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "promql/parser.h"
#include "promql/promqltest.h"

namespace strata::promql {
namespace {

// Runs a promqltest script and expects every eval to pass.
void ExpectScript(std::string_view script) {
  std::ostringstream out;
  auto r = RunPromqlTest(script, "inline", out);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().failed, 0) << out.str();
  EXPECT_GT(r.value().passed, 0);
}

TEST(Engine, SelectorsLookbackAndStaleness) {
  ExpectScript(R"s(
load 10s
  metric{a="1"} 0 1 stale 2

eval instant at 10s metric
  metric{a="1"} 1

eval instant at 20s metric

eval instant at 329s metric
  metric{a="1"} 2

eval instant at 330s metric

eval range from 0 to 40s step 10s metric
  metric{a="1"} 0 1 _ 2 2
)s");
}

TEST(Engine, RateAndOperators) {
  ExpectScript(R"s(
load 1m
  http_requests_total{job="a", instance="1"} 0+60x10
  http_requests_total{job="a", instance="2"} 0+120x10
  limit{job="a"} 1.5x10

eval instant at 10m rate(http_requests_total[5m])
  {job="a", instance="1"} 1
  {job="a", instance="2"} 2

eval instant at 10m sum by (job) (rate(http_requests_total[5m])) / on(job) limit
  {job="a"} 2

eval instant at 10m rate(http_requests_total[5m]) > on(job) group_left limit
  {job="a", instance="2"} 2

eval_fail instant at 10m http_requests_total + on(job) http_requests_total
)s");
}

TEST(Engine, DelayedNameRemovalKeepsNameReadable) {
  ExpectScript(R"s(
load 5m
  metric_total{env="1"} 0 60 120

eval instant at 10m label_replace(rate(metric_total[10m]), "n", "$1", "__name__", "(.+)")
  {n="metric_total", env="1"} 0.2
)s");
}

TEST(Engine, InfoAddsTargetInfoDataLabels) {
  ExpectScript(R"s(
load 1m
  http_requests_total{job="api", instance="a"} 0+10x10
  http_requests_total{job="api", instance="b"} 0+20x10
  target_info{job="api", instance="a", region="eu", version="1.2"} 1x10
  build_info{job="api", instance="b", revision="abc"} 1x10

eval instant at 5m info(http_requests_total)
  http_requests_total{job="api", instance="a", region="eu", version="1.2"} 50
  http_requests_total{job="api", instance="b"} 100

eval instant at 5m info(http_requests_total, {region=~".+"})
  http_requests_total{job="api", instance="a", region="eu"} 50

eval instant at 5m info(http_requests_total, {__name__="build_info"})
  http_requests_total{job="api", instance="a"} 50
  http_requests_total{job="api", instance="b", revision="abc"} 100
)s");
}

TEST(Engine, TooManySamplesIsAnError) {
  std::ostringstream out;
  PromqlTestOptions opts;
  opts.engine.max_samples = 5;
  auto r = RunPromqlTest(R"s(
load 1m
  m 0+1x100

eval_fail instant at 100m sum_over_time(m[100m])
  expected_fail_message query processing would load too many samples into memory in query execution
)s",
                         "inline", out, opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().failed, 0) << out.str();
}

// Records the time range of every selection.
class RangeRecordingQuerier : public query::EmptyQuerier {
 public:
  Result<std::unique_ptr<query::SeriesSet>> Select(const query::SelectParams& p,
                                                   std::span<const Matcher> m) const override {
    MutexLock lk(mu_);
    mint = std::min(mint, p.mint);
    maxt = std::max(maxt, p.maxt);
    return EmptyQuerier::Select(p, m);
  }
  mutable Mutex mu_;
  mutable int64_t mint GUARDED_BY(mu_) = std::numeric_limits<int64_t>::max();
  mutable int64_t maxt GUARDED_BY(mu_) = std::numeric_limits<int64_t>::min();
};

// The data range of a query is the one worked out by hand from Prometheus's rules (lookback
// 5m, a selector's window ends at its evaluation time minus its offset, @ pins that time, a
// subquery evaluates its inner query over its own range), and covers what the engine reads.
TEST(Engine, DataRangeIsWhatEvaluationReads) {
  constexpr int64_t kS = 1000;
  constexpr int64_t kM = 60 * kS;
  constexpr int64_t kH = 60 * kM;
  constexpr int64_t kLookback = 5 * kM;
  struct Case {
    std::string query;
    int64_t start, end;  // equal: an instant query
    TimeRange want;
  };
  const Case cases[] = {
      {"foo", 1000 * kS, 1000 * kS, {1000 * kS - kLookback + 1, 1000 * kS}},
      {"rate(foo[10m] offset 1h)", 10 * kH, 12 * kH, {9 * kH - 10 * kM + 1, 11 * kH}},
      {"foo @ 100", 10 * kH, 12 * kH, {100 * kS - kLookback + 1, 100 * kS}},
      {"foo @ end() offset -5m", 10 * kH, 12 * kH, {12 * kH + 1, 12 * kH + 5 * kM}},
      {"max_over_time(foo[1h:5m] offset 30m)",
       10 * kH,
       12 * kH,
       {10 * kH - 30 * kM - kH - kLookback + 1, 12 * kH - 30 * kM}},
      {"sum(rate(a[5m])) / on() group_left max(b @ start())",
       10 * kH,
       12 * kH,
       {10 * kH - kLookback + 1, 12 * kH}},
      {"topk(scalar(c offset 2h), d)", 10 * kH, 10 * kH, {8 * kH - kLookback + 1, 10 * kH}},
      {"1 + 2", 10 * kH, 12 * kH, {10 * kH, 12 * kH}},
  };
  Engine engine;
  for (const Case& c : cases) {
    auto expr = ParseExpr(c.query);
    ASSERT_TRUE(expr.ok()) << c.query;
    TimeRange got = engine.DataRange(**expr, c.start, c.end);
    EXPECT_EQ(got.mint, c.want.mint) << c.query;
    EXPECT_EQ(got.maxt, c.want.maxt) << c.query;
    if (c.query == "1 + 2") continue;
    RangeRecordingQuerier q;
    auto r = c.start == c.end ? engine.Instant(q, **expr, c.start)
                              : engine.Range(q, **expr, c.start, c.end, kM);
    ASSERT_TRUE(r.ok()) << c.query << ": " << r.status().message();
    MutexLock lk(q.mu_);
    EXPECT_GE(q.mint, got.mint) << c.query;
    EXPECT_LE(q.maxt, got.maxt) << c.query;
  }
}

}  // namespace
}  // namespace strata::promql

namespace strata::promql {
namespace {

// A querier with one long series, for interrupting queries.
class LongSeriesQuerier : public query::EmptyQuerier {
 public:
  Result<std::unique_ptr<query::SeriesSet>> Select(const query::SelectParams&,
                                                   std::span<const Matcher>) const override {
    query::SeriesData d;
    d.labels = {{"__name__", "x"}};
    for (int64_t t = 0; t < 2'000'000; t += 15'000) d.samples.push_back({t, 1.0});
    return std::unique_ptr<query::SeriesSet>(
        std::make_unique<query::MaterializedSeriesSet>(std::vector<query::SeriesData>{d}));
  }
};

TEST(Engine, CancelledAndTimedOutQueriesStop) {
  Engine engine;
  LongSeriesQuerier q;
  auto expr = ParseExpr("sum_over_time(x[10m:1s])").value();
  std::atomic<bool> cancelled{true};
  QueryControl ctl;
  ctl.cancelled = &cancelled;
  auto r = engine.Range(q, *expr, 0, 2'000'000, 1000, ctl);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCancelled);
  ctl.cancelled = nullptr;
  ctl.deadline = std::chrono::steady_clock::now();
  r = engine.Range(q, *expr, 0, 2'000'000, 1000, ctl);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), "query timed out in query execution");
  ctl.deadline = std::chrono::steady_clock::time_point::max();
  EXPECT_TRUE(engine.Range(q, *expr, 0, 600'000, 60'000, ctl).ok());
}

}  // namespace
}  // namespace strata::promql

namespace strata::promql {
namespace {

// Enough series that decoding and range functions run on several threads.
TEST(Engine, ManySeriesEvaluateInParallelWithTheSameResult) {
  std::string script = "load 15s\n";
  for (int i = 0; i < 600; ++i) {
    script += "  req_total{i=\"" + std::to_string(i) + "\"} 0+" + std::to_string(i + 1) + "x80\n";
  }
  script += R"s(
eval instant at 10m sum(rate(req_total[5m]))
  {} 12020

eval instant at 10m count(rate(req_total[1m]) > 0)
  {} 600

eval range from 5m to 15m step 5m sum(increase(req_total[5m]))
  {} 3606000 3606000 3606000
)s";
  ExpectScript(script);
}

}  // namespace
}  // namespace strata::promql

namespace strata::promql {
namespace {

// 3,000 counters in 4 groups, a sample a minute for 50 hours; selected series are materialized
// once and shared (the querier outlives every query).
class ManyCountersQuerier : public query::EmptyQuerier {
 public:
  static constexpr int kSeries = 3000;
  static constexpr int64_t kEnd = int64_t{50} * 3'600'000;

  ManyCountersQuerier() {
    for (int i = 0; i < kSeries; ++i) {
      query::SeriesData d;
      d.labels = {{"__name__", "c_total"}, {"g", std::to_string(i % 4)}, {"i", std::to_string(i)}};
      double v = 0;
      for (int64_t t = 0; t <= kEnd; t += 60'000) {
        v += static_cast<double>((t / 60'000 * 7919 + i) % 1000) / 100;
        if ((t / 60'000 + i) % 997 == 0) v = 0;  // a reset now and then
        d.samples.push_back({t, v});
      }
      series_.push_back(std::move(d));
    }
    std::sort(series_.begin(), series_.end(),
              [](const auto& a, const auto& b) { return a.labels < b.labels; });
  }

  Result<std::unique_ptr<query::SeriesSet>> Select(const query::SelectParams&,
                                                   std::span<const Matcher>) const override {
    return std::unique_ptr<query::SeriesSet>(
        std::make_unique<query::MaterializedSeriesSet>(series_));
  }

 private:
  std::vector<query::SeriesData> series_;
};

// sum/avg/min/max/count/group over a selector or a range function take their input a batch of
// series at a time: a query whose inner vector (3,000 series x 3,000 steps = 9M values) is over
// max_samples runs, and gives bit for bit what the whole vector gives.
TEST(Engine, AggregationsOverManySeriesHoldOneBatch) {
  ManyCountersQuerier q;
  EngineOptions small;
  small.max_samples = 6'000'000;
  EngineOptions big;
  big.max_samples = 100'000'000;
  const int64_t step = 60'000;
  const int64_t end = ManyCountersQuerier::kEnd;
  const int64_t start = end - 2999 * step;
  const std::pair<std::string_view, std::string_view> queries[] = {
      {"sum by (g)", "rate(c_total[5m])"},
      {"avg", "rate(c_total[5m])"},
      {"min by (g)", "c_total"},
      {"max", "max_over_time(c_total[10m])"},
      {"count", "c_total"},
      {"group by (g)", "increase(c_total[1h])"}};
  for (auto [agg, inner] : queries) {
    std::string batched = fmt::format("{} ({})", agg, inner);
    // "* 1" keeps the values and makes the inner vector one that is evaluated whole.
    std::string whole = fmt::format("{} ({} * 1)", agg, inner);
    SCOPED_TRACE(batched);
    auto a = Engine(small).Range(q, *ParseExpr(batched).value(), start, end, step);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_LT(a->peak_samples, small.max_samples);
    auto b = Engine(big).Range(q, *ParseExpr(whole).value(), start, end, step);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_GE(b->peak_samples, uint64_t{9'000'000});
    ASSERT_EQ(a->series.size(), b->series.size());
    for (size_t k = 0; k < a->series.size(); ++k) {
      EXPECT_EQ(a->series[k].labels, b->series[k].labels);
      ASSERT_EQ(a->series[k].points.size(), b->series[k].points.size());
      for (size_t i = 0; i < a->series[k].points.size(); ++i) {
        EXPECT_EQ(a->series[k].points[i].t, b->series[k].points[i].t);
        EXPECT_EQ(std::bit_cast<uint64_t>(a->series[k].points[i].v),
                  std::bit_cast<uint64_t>(b->series[k].points[i].v))
            << "series " << k << " point " << i;
      }
    }
  }
  // The whole vector is still refused where it is needed at once, and so are as many groups
  // as series.
  for (std::string_view query : {"topk(1, rate(c_total[5m]))", "sum by (i) (rate(c_total[5m]))"}) {
    auto r = Engine(small).Range(q, *ParseExpr(query).value(), start, end, step);
    ASSERT_FALSE(r.ok()) << query;
    EXPECT_EQ(r.status().code(), Status::Code::kLimitExceeded);
  }
}

}  // namespace
}  // namespace strata::promql
