#include "logql/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "logql/parser.h"
#include "logs/head.h"

namespace strata::logql {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;  // the first entry

struct Line {
  std::string app;
  int64_t ts;
  std::string text;
};

// Two streams, an entry every 10 s for 10 minutes: api says level=error every third time
// and dur=<i>ms, web says level=info.
class LogqlEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 60; ++i) {
      int64_t ts = kT0 + int64_t{i} * 10 * kSec;
      lines_.push_back(
          {"api", ts, fmt::format("level={} dur={}ms", i % 3 == 0 ? "error" : "info", i)});
      lines_.push_back({"web", ts + kSec / 2, fmt::format("level=info path=/p{}", i % 2)});
    }
    logs::Stream::UnpackCache cache;
    for (const auto& l : lines_) {
      std::vector<LabelView> ls = {{"app", l.app}, {"env", "prod"}};
      bool created = false;
      logs::Stream* s = head_.GetOrCreate(HashLabels(ls), ls, &created);
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(head_.Append(*s, l.ts, l.text, {}, INT64_MAX, cache),
                logs::AppendResult::kAppended);
    }
    querier_ = logs::NewHeadQuerier(head_);
  }

  ExprPtr Parse(std::string_view q) {
    auto e = ParseExpr(q);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(*e) : nullptr;
  }

  // Instant metric query at `t_ns`, as "labels -> value".
  std::map<std::string, double> Instant(std::string_view q, int64_t t_ns) {
    auto e = Parse(q);
    auto r = engine_.Instant(*querier_, *e, t_ns / 1'000'000);
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::map<std::string, double> out;
    if (!r.ok()) return out;
    for (const auto& s : r->series) {
      std::string k;
      for (const auto& l : s.labels) k += l.name + "=" + l.value + ",";
      out[k] = s.points.at(0).v;
    }
    return out;
  }

  // Entries of `app` in (t - range, t], counted from the input.
  int Count(std::string_view app, int64_t t, int64_t range, std::string_view contains = "") {
    int n = 0;
    for (const auto& l : lines_) {
      if (l.app == app && l.ts > t - range && l.ts <= t &&
          l.text.find(contains) != std::string::npos) {
        ++n;
      }
    }
    return n;
  }

  logs::Head head_;
  std::vector<Line> lines_;
  std::unique_ptr<logs::Querier> querier_;
  Engine engine_;
};

TEST_F(LogqlEngineTest, LogQueryNewestFirstUpToTheLimit) {
  auto e = Parse(R"({env="prod"} |= "level=info")");
  LogQueryParams p;
  p.start_ns = kT0;
  p.end_ns = kT0 + 3600 * kSec;
  p.limit = 3;
  auto r = engine_.SelectLogs(*querier_, As<LogExpr>(*e), p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // The three newest info lines: web at 590.5 s, api at 590 s (59 % 3 != 0), web at 580.5 s.
  ASSERT_EQ(r->streams.size(), 2u);
  EXPECT_EQ(r->streams[0].labels, (Labels{{"app", "api"}, {"env", "prod"}}));
  ASSERT_EQ(r->streams[0].entries.size(), 1u);
  EXPECT_EQ(r->streams[0].entries[0].ts_ns, kT0 + 590 * kSec);
  ASSERT_EQ(r->streams[1].entries.size(), 2u);
  EXPECT_EQ(r->streams[1].entries[0].ts_ns, kT0 + 590 * kSec + kSec / 2);  // newest first
  EXPECT_EQ(r->streams[1].entries[1].ts_ns, kT0 + 580 * kSec + kSec / 2);
  // The hour is read in windows from its end, 56.25 s long and then twice as long each time;
  // the sixth, [56.25 s, 1856.25 s), fills the limit, so the entries before it are not read.
  const int64_t first_read = kT0 + 3600 * kSec - (3600 * kSec / 64) * 63;
  EXPECT_EQ(r->entries_scanned,
            static_cast<uint64_t>(std::count_if(
                lines_.begin(), lines_.end(), [&](const Line& l) { return l.ts >= first_read; })));
  EXPECT_LT(r->entries_scanned, lines_.size());

  // A range spanning most of int64 gives the same newest three.
  {
    LogQueryParams wide = p;
    wide.start_ns = INT64_MIN + 1;
    auto w = engine_.SelectLogs(*querier_, As<LogExpr>(*e), wide);
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_EQ(w->streams.size(), 2u);
    EXPECT_EQ(w->streams[0].entries.size() + w->streams[1].entries.size(), 3u);
    EXPECT_EQ(w->streams[1].entries[0].ts_ns, kT0 + 590 * kSec + kSec / 2);
  }

  // Forward: the oldest; end is exclusive.
  p.forward = true;
  p.limit = 2;
  p.end_ns = kT0 + 10 * kSec;
  r = engine_.SelectLogs(*querier_, As<LogExpr>(*Parse(R"({app="api"})")), p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->streams.size(), 1u);
  ASSERT_EQ(r->streams[0].entries.size(), 1u);
  EXPECT_EQ(r->streams[0].entries[0].line, "level=error dur=0ms");
}

// Loki's `interval`: walking the entries in the query's order (time, then labels), an entry is
// returned when it is at least the interval past the last one returned. Checks the engine
// against that walk over `lines` (all in `querier`, one stream per app) for both directions,
// several intervals and limits.
void ExpectIntervalsAsLoki(const Engine& engine, const logs::Querier& querier,
                           const std::vector<Line>& lines, int64_t start, int64_t end,
                           std::initializer_list<int64_t> intervals,
                           std::initializer_list<size_t> limits) {
  auto e = ParseExpr(R"({env="prod"})");
  ASSERT_TRUE(e.ok());
  for (bool forward : {false, true}) {
    std::vector<const Line*> in;
    for (const auto& l : lines) {
      if (l.ts >= start && l.ts < end) in.push_back(&l);
    }
    std::stable_sort(in.begin(), in.end(), [&](const Line* a, const Line* b) {
      if (a->ts != b->ts) return forward ? a->ts < b->ts : a->ts > b->ts;
      return a->app < b->app;
    });
    for (int64_t interval : intervals) {
      for (size_t limit : limits) {
        std::vector<std::pair<int64_t, std::string>> want;
        for (const Line* l : in) {
          if (want.size() == limit) break;
          if (!want.empty() &&
              (forward ? l->ts - want.back().first : want.back().first - l->ts) < interval) {
            continue;
          }
          want.emplace_back(l->ts, l->app);
        }
        LogQueryParams p;
        p.start_ns = start;
        p.end_ns = end;
        p.forward = forward;
        p.limit = limit;
        p.interval_ns = interval;
        auto r = engine.SelectLogs(querier, As<LogExpr>(**e), p);
        ASSERT_TRUE(r.ok()) << r.status().message();
        std::vector<std::pair<int64_t, std::string>> got;
        for (const auto& s : r->streams) {
          for (const auto& en : s.entries) {
            got.emplace_back(en.ts_ns, std::string(GetLabel(s.labels, "app")));
          }
        }
        std::sort(got.begin(), got.end(), [&](const auto& a, const auto& b) {
          if (a.first != b.first) return forward ? a.first < b.first : a.first > b.first;
          return a.second < b.second;
        });
        EXPECT_EQ(got, want) << "forward=" << forward << " interval=" << interval
                             << " limit=" << limit;
      }
    }
  }
}

TEST_F(LogqlEngineTest, IntervalReturnsOneEntryPerInterval) {
  ExpectIntervalsAsLoki(engine_, *querier_, lines_, kT0 + 5 * kSec, kT0 + 500 * kSec,
                        {kSec, 25 * kSec, 100 * kSec, 3600 * kSec}, {3, 10, 1000});
}

// Three streams with an entry each every 100 ms, at the same times: only the first of a time
// (by labels) can be returned, and reads of thousands of entries are trimmed as they go.
TEST(LogqlEngineIntervalTest, EqualTimesAcrossStreams) {
  logs::Head head;
  std::vector<Line> lines;
  logs::Stream::UnpackCache cache;
  for (const char* app : {"c", "a", "b"}) {
    std::vector<LabelView> ls = {{"app", app}, {"env", "prod"}};
    bool created = false;
    logs::Stream* s = head.GetOrCreate(HashLabels(ls), ls, &created);
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 1500; ++i) {
      lines.push_back({app, kT0 + int64_t{i} * kSec / 10, fmt::format("{} {}", app, i)});
      ASSERT_EQ(head.Append(*s, lines.back().ts, lines.back().text, {}, INT64_MAX, cache),
                logs::AppendResult::kAppended);
    }
  }
  auto querier = logs::NewHeadQuerier(head);
  ExpectIntervalsAsLoki(Engine(), *querier, lines, kT0, kT0 + 3600 * kSec,
                        {0, kSec / 4, kSec, 30 * kSec}, {3, 50, 2000});
}

TEST_F(LogqlEngineTest, ParsedLabelsSplitStreams) {
  auto e = Parse(R"({app="api"} | logfmt | dur > 500ms)");
  LogQueryParams p;
  p.start_ns = kT0;
  p.end_ns = kT0 + 3600 * kSec;
  p.limit = 1000;
  auto r = engine_.SelectLogs(*querier_, As<LogExpr>(*e), p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // dur 501..599 never happens (i < 60): nothing. Use 50ms instead.
  EXPECT_TRUE(r->streams.empty());
  e = Parse(R"({app="api"} | logfmt | dur >= 57ms | drop dur)");
  r = engine_.SelectLogs(*querier_, As<LogExpr>(*e), p);
  ASSERT_TRUE(r.ok());
  // i = 57 (error), 58, 59 (info): two output streams by level.
  ASSERT_EQ(r->streams.size(), 2u);
  EXPECT_EQ(r->streams[0].labels, (Labels{{"app", "api"}, {"env", "prod"}, {"level", "error"}}));
  EXPECT_EQ(r->streams[0].entries.size(), 1u);
  EXPECT_EQ(r->streams[1].entries.size(), 2u);
  EXPECT_EQ(r->streams[1].entries[0].parsed, (Labels{{"level", "info"}}));
  EXPECT_EQ(r->streams[1].stream, (Labels{{"app", "api"}, {"env", "prod"}}));
}

TEST_F(LogqlEngineTest, MetricQueries) {
  int64_t t = kT0 + 300 * kSec;
  auto counts = Instant(R"(count_over_time({env="prod"}[1m]))", t);
  EXPECT_EQ(counts["app=api,env=prod,"], Count("api", t, 60 * kSec));
  EXPECT_EQ(counts["app=web,env=prod,"], Count("web", t, 60 * kSec));

  auto rate = Instant(R"(sum by (env) (rate({env="prod"} |= "level=info" [2m])))", t);
  EXPECT_DOUBLE_EQ(rate["env=prod,"], (Count("api", t, 120 * kSec, "level=info") +
                                       Count("web", t, 120 * kSec, "level=info")) /
                                          120.0);

  // Unwrapped durations in seconds, averaged per app over (t - 1m, t]: api's i in 25..30.
  auto avg =
      Instant(R"(avg_over_time({app="api"} | logfmt | unwrap duration(dur) [1m]) by (app))", t);
  double sum = 0;
  int n = 0;
  for (int i = 0; i < 60; ++i) {
    int64_t ts = kT0 + int64_t{i} * 10 * kSec;
    if (ts > t - 60 * kSec && ts <= t) {
      sum += i / 1000.0;
      ++n;
    }
  }
  EXPECT_DOUBLE_EQ(avg["app=api,"], sum / n);

  auto first = Instant(R"(first_over_time({app="api"} | logfmt | unwrap duration(dur) [1m]))", t);
  EXPECT_DOUBLE_EQ(first["app=api,env=prod,level=info,"], 0.025);  // i = 25
  // Windows are (t - range, t]: at t = 290.5 s, web's entry at 280.5 s is out, 290.5 s in.
  auto bytes = Instant(R"(bytes_over_time({app="web"}[10s]))", kT0 + 290 * kSec + kSec / 2);
  EXPECT_EQ(bytes["app=web,env=prod,"], std::string("level=info path=/p1").size());
  auto just_before =
      Instant(R"(count_over_time({app="web"}[10s]))", kT0 + 290 * kSec + kSec / 2 - 1'000'000);
  EXPECT_EQ(just_before["app=web,env=prod,"], 1);  // 280.5 s, not yet 290.5 s

  // Division by zero is NaN in LogQL.
  auto nan = Instant(R"(count_over_time({app="api"}[1m]) / 0)", t);
  EXPECT_TRUE(std::isnan(nan["app=api,env=prod,"]));
  auto absent = Instant(R"(absent_over_time({app="nope", env=~"p.*"}[1m]))", t);
  EXPECT_EQ(absent["app=nope,"], 1);
  auto top = Instant(R"(topk(1, count_over_time({env="prod"} |= "level=info" [5m])))", t);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top.begin()->first, "app=web,env=prod,");
}

TEST_F(LogqlEngineTest, PipelineErrorsFailMetricQueries) {
  auto e = Parse(R"(sum_over_time({app="web"} | logfmt | unwrap path [1m]))");
  auto r = engine_.Instant(*querier_, *e, (kT0 + 300 * kSec) / 1'000'000);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().message().starts_with(
      "pipeline error: 'SampleExtractionErr' for series: '{__error__=\"SampleExtractionErr\", "))
      << r.status().message();
  e = Parse(R"(sum_over_time({app="web"} | logfmt | unwrap path | __error__="" [1m]))");
  r = engine_.Instant(*querier_, *e, (kT0 + 300 * kSec) / 1'000'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->series.empty());
}

// Regression: the user's own __name__ matchers never select a range aggregation's series,
// and grouping keeps the labels of failed entries so that their error is reported.
TEST_F(LogqlEngineTest, HostileMatchersAndGroupedErrors) {
  auto e = Parse(R"(count_over_time({__name__=~"logql_range_.+", app="api"}[1m]))");
  auto r = engine_.Instant(*querier_, *e, (kT0 + 300 * kSec) / 1'000'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->series.empty());
  e = Parse(R"(max_over_time({app="web"} | logfmt | unwrap path [1m]) by (app))");
  r = engine_.Instant(*querier_, *e, (kT0 + 300 * kSec) / 1'000'000);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().message().starts_with("pipeline error: 'SampleExtractionErr'"));
  // Many output streams (one per dur) while keeping only the newest two lines.
  LogQueryParams p;
  p.start_ns = kT0;
  p.end_ns = kT0 + 3600 * kSec;
  p.limit = 2;
  auto logs = engine_.SelectLogs(*querier_, As<LogExpr>(*Parse(R"({app="api"} | logfmt)")), p);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->streams.size(), 2u);
  EXPECT_EQ(logs->streams[0].entries[0].line, "level=info dur=58ms");
  EXPECT_EQ(logs->streams[1].entries[0].line, "level=info dur=59ms");
}

TEST_F(LogqlEngineTest, RangeQuerySteps) {
  auto e = Parse(R"(sum(count_over_time({env="prod"}[30s])))");
  int64_t start = kT0 + 60 * kSec, end = kT0 + 120 * kSec;
  auto r = engine_.Range(*querier_, *e, start / 1'000'000, end / 1'000'000, 15'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->series.size(), 1u);
  ASSERT_EQ(r->series[0].points.size(), 5u);
  for (const auto& p : r->series[0].points) {
    int64_t t = p.t * 1'000'000;
    EXPECT_EQ(p.v, Count("api", t, 30 * kSec) + Count("web", t, 30 * kSec)) << p.t;
  }
}

}  // namespace
}  // namespace strata::logql
