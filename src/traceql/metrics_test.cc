#include "traceql/metrics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "traceql/parser.h"

namespace strata::traceql {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kMilli = 1'000'000;

// Seven spans of services a and b. With step 10s over [100s, 130s], Tempo's intervals are
// (90,100], (100,110], (110,120], (120,130] (seconds): A, H and B (at exactly 100 s) fall in
// the first, C in the second, D in the third; E (131 s) and F (90 s) in none.
Trace SevenSpans() {
  Trace t;
  t.id = std::string(16, '\x0a');
  t.resources = {{{"service.name", Static::Str("a")}}, {{"service.name", Static::Str("b")}}};
  t.scopes.resize(1);
  struct Spec {
    char id;
    uint32_t resource;
    int64_t start_ns, duration_ns;
    std::optional<int64_t> code;
  };
  const std::vector<Spec> specs = {{'A', 0, 95 * kSec, 1 * kSec, 200},
                                   {'H', 0, 96 * kSec, 900 * kMilli, std::nullopt},
                                   {'B', 0, 100 * kSec, 2 * kSec, 404},
                                   {'C', 1, 105 * kSec, 3 * kMilli, 500},
                                   {'D', 0, 115 * kSec, 500 * kMilli, std::nullopt},
                                   {'E', 0, 131 * kSec, 1 * kSec, std::nullopt},
                                   {'F', 1, 90 * kSec, 1 * kSec, std::nullopt}};
  for (const Spec& sp : specs) {
    Span s;
    s.span_id = std::string(1, sp.id) + std::string(7, '\x01');
    s.name = std::string(1, sp.id);
    s.resource = sp.resource;
    s.start_ns = sp.start_ns;
    s.end_ns = sp.start_ns + sp.duration_ns;
    if (sp.code) s.attrs.emplace_back("code", Static::Int(*sp.code));
    t.spans.push_back(std::move(s));
  }
  t.root_name = "A";  // the first span without a parent, as DecodeTrace finds it
  t.root_service = "a";
  return t;
}

// A series as "labels: values", values with NaN as "-".
std::vector<std::string> Answer(std::string_view query, Intervals iv) {
  static const Trace kTrace = SevenSpans();
  auto q = Parse(query);
  EXPECT_TRUE(q.ok()) << query << ": " << q.status().message();
  if (!q.ok() || !(*q)->metrics) return {"parse error"};
  EXPECT_TRUE(Validate(**q).ok()) << query;
  MetricsEvaluator ev(*(*q)->metrics, iv, 100);
  ev.Observe(kTrace);
  std::vector<std::string> out;
  for (const Series& s : ev.Result()) {
    std::string line;
    for (const auto& [k, v] : s.labels) {
      line +=
          (line.empty() ? "" : ",") + k + "=" + (v.type == StaticType::kString ? v.s : v.String());
    }
    line += ":";
    for (double v : s.values)
      line += " " + (std::isnan(v) ? std::string("-") : fmt::format("{}", v));
    out.push_back(line);
  }
  return out;
}

Intervals TestRange() { return Intervals::Range(100 * kSec, 130 * kSec, 10 * kSec); }
using V = std::vector<std::string>;

TEST(TraceqlMetrics, IntervalsAreTempos) {
  const Intervals r = TestRange();
  EXPECT_EQ(r.start_ns, 90 * kSec);
  EXPECT_EQ(r.count, 4);
  EXPECT_EQ(r.Of(90 * kSec), -1);
  EXPECT_EQ(r.Of(100 * kSec), 0);  // a boundary belongs to the interval it ends
  EXPECT_EQ(r.Of(100 * kSec + 1), 1);
  EXPECT_EQ(r.Of(130 * kSec), 3);
  EXPECT_EQ(r.Of(130 * kSec + 1), -1);
  // Tempo's own case: start 1100 s, end 1300 s, step 100 s answer at 1100, 1200, 1300 s.
  const Intervals t = Intervals::Range(1100 * kSec, 1300 * kSec, 100 * kSec);
  EXPECT_EQ(t.count, 3);
  EXPECT_EQ(t.EndOf(0), 1100 * kSec);
  EXPECT_EQ(t.EndOf(2), 1300 * kSec);
  // Unaligned: down and up to whole steps.
  const Intervals u = Intervals::Range(1150 * kSec, 1250 * kSec, 100 * kSec);
  EXPECT_EQ(u.EndOf(0), 1100 * kSec);
  EXPECT_EQ(u.EndOf(u.count - 1), 1300 * kSec);
  // About 240 samples: 1h -> 15s, 24h -> 5m, 30s -> 100ms, 10s -> 50ms.
  EXPECT_EQ(DefaultStep(0, 3600 * kSec), 15 * kSec);
  EXPECT_EQ(DefaultStep(0, 86400 * kSec), 300 * kSec);
  EXPECT_EQ(DefaultStep(0, 30 * kSec), 100 * kMilli);
  EXPECT_EQ(DefaultStep(0, 10 * kSec), 50 * kMilli);
}

TEST(TraceqlMetrics, CountsAndMeasuresPerInterval) {
  EXPECT_EQ(Answer("{} | count_over_time()", TestRange()), V{"__name__=count_over_time: 3 1 1 0"});
  EXPECT_EQ(Answer("{} | rate()", TestRange()), V{"__name__=rate: 0.3 0.1 0.1 0"});
  EXPECT_EQ(Answer("{ resource.service.name = \"b\" } | rate()", TestRange()),
            V{"__name__=rate: 0 0.1 0 0"});
  EXPECT_EQ(Answer("{} | count_over_time() by (resource.service.name)", TestRange()),
            (V{"resource.service.name=a: 3 0 1 0", "resource.service.name=b: 0 1 0 0"}));
  // Durations in seconds; intervals without a value have no sample.
  EXPECT_EQ(Answer("{} | max_over_time(duration)", TestRange()),
            V{"__name__=max_over_time: 2 0.003 0.5 -"});
  EXPECT_EQ(Answer("{} | min_over_time(duration)", TestRange()),
            V{"__name__=min_over_time: 0.9 0.003 0.5 -"});
  // Spans without the attribute are left out: 200 + 404, then 500.
  EXPECT_EQ(Answer("{} | sum_over_time(span.code)", TestRange()),
            V{"__name__=sum_over_time: 604 500 - -"});
  EXPECT_EQ(Answer("{} | avg_over_time(span.code)", TestRange()),
            V{"__name__=avg_over_time: 302 500 - -"});
  // A span without the by() value is grouped as nil; ints sort before strings.
  EXPECT_EQ(Answer("{} | count_over_time() by (span.code)", TestRange()),
            (V{"span.code=200: 1 0 0 0", "span.code=404: 1 0 0 0", "span.code=500: 0 1 0 0",
               "span.code=nil: 1 0 1 0"}));
}

TEST(TraceqlMetrics, HistogramsAndQuantilesUseLog2Buckets) {
  // Buckets: the power of two at or above the duration in ns, in seconds: 1 s -> 2^30 ns,
  // 0.9 s -> 2^30, 2 s -> 2^31, 3 ms -> 2^22, 0.5 s -> 2^29.
  EXPECT_EQ(Answer("{} | histogram_over_time(duration)", TestRange()),
            (V{"__bucket=0.004194304: 0 1 0 0", "__bucket=0.536870912: 0 0 1 0",
               "__bucket=1.073741824: 2 0 0 0", "__bucket=2.147483648: 1 0 0 0"}));
  // p50 of {2^30 x2, 2^31}: the 2nd value, the top of the first bucket; p90 the 3rd.
  EXPECT_EQ(Answer("{} | quantile_over_time(duration, .5, .9)", TestRange()),
            (V{"p=0.5: 1.073741824 0.004194304 0.536870912 0",
               "p=0.9: 2.147483648 0.004194304 0.536870912 0"}));
  // p25 wants the 1st value, halfway into the first bucket (2 values), which has no bucket
  // below it: 2^(log2(top) - 1 + 0.5).
  auto q = Parse("{} | quantile_over_time(duration, .25)");
  ASSERT_TRUE(q.ok());
  MetricsEvaluator ev(*(*q)->metrics, TestRange(), 100);
  ev.Observe(SevenSpans());
  auto series = ev.Result();
  ASSERT_EQ(series.size(), 1u);
  EXPECT_DOUBLE_EQ(series[0].values[0], 1.073741824 / std::sqrt(2.0));
}

TEST(TraceqlMetrics, SecondStages) {
  // topk(1): per interval the highest; the tie at 0 goes to the labels sorting first.
  EXPECT_EQ(Answer("{} | count_over_time() by (resource.service.name) | topk(1)", TestRange()),
            (V{"resource.service.name=a: 3 - 1 0", "resource.service.name=b: - 1 - -"}));
  EXPECT_EQ(Answer("{} | count_over_time() by (resource.service.name) | bottomk(1)", TestRange()),
            (V{"resource.service.name=a: - 0 - 0", "resource.service.name=b: 0 - 0 -"}));
  EXPECT_EQ(Answer("{} | count_over_time() by (resource.service.name) | topk(2)", TestRange()),
            (V{"resource.service.name=a: 3 0 1 0", "resource.service.name=b: 0 1 0 0"}));
  // A value filter leaves what passes; b has nothing left and goes.
  EXPECT_EQ(Answer("{} | count_over_time() by (resource.service.name) > 1", TestRange()),
            V{"resource.service.name=a: 3 - - -"});
  EXPECT_EQ(Answer("({} | count_over_time()) * 2", TestRange()),
            V{"__name__=count_over_time: 6 2 2 0"});
}

// Each series' value at interval `i` of an Answer(): its labels -> the value's text.
std::map<std::string, std::string> At(const std::vector<std::string>& answer, size_t i) {
  std::map<std::string, std::string> out;
  for (const std::string& line : answer) {
    const size_t colon = line.find(':');
    std::vector<std::string> values;
    for (size_t at = colon + 1; at < line.size();) {
      const size_t next = std::min(line.find(' ', at + 1), line.size());
      values.push_back(line.substr(at + 1, next - at - 1));
      at = next;
    }
    // No sample, or a count of none (an instant query over no spans has no series).
    if (values[i] != "-" && values[i] != "0") out[line.substr(0, colon)] = values[i];
  }
  return out;
}

// An instant query over any interval of a range query answers what the range query answers
// there.
// Arithmetic between queries, as Tempo's applyBinaryOp: series matched by their labels but
// __name__, a side without labels applied to every series of the other, division by zero
// without a value, second stages after the arithmetic. Per interval the spans are A, H, B (a)
// | C (b) | D (a) | none; B (404) and C (500) have codes of 400 and more.
TEST(TraceqlMetrics, ArithmeticBetweenQueries) {
  EXPECT_EQ(
      Answer(R"(({ resource.service.name = "b" } | count_over_time()) / ({} | count_over_time()))",
             TestRange()),
      V{"__name__=(count_over_time / count_over_time): 0 1 0 -"});
  // by() on both sides: 1/3, 0/0, 0/1, 0/0 for a; 0/0, 1/1, 0/0, 0/0 for b.
  EXPECT_EQ(
      Answer("({ span.code >= 400 } | count_over_time() by (resource.service.name)) / "
             "({} | count_over_time() by (resource.service.name))",
             TestRange()),
      (V{"resource.service.name=a: 0.3333333333333333 - 0 -", "resource.service.name=b: - 1 - -"}));
  // One side without labels: applied to each series of the other, whichever side it is.
  EXPECT_EQ(Answer("({} | count_over_time() by (resource.service.name)) / ({} | count_over_time())",
                   TestRange()),
            (V{"resource.service.name=a: 1 0 1 -", "resource.service.name=b: 0 1 0 -"}));
  EXPECT_EQ(Answer("({} | count_over_time()) - ({} | count_over_time() by (resource.service.name))",
                   TestRange()),
            (V{"resource.service.name=a: 0 1 0 0", "resource.service.name=b: 3 0 1 0"}));
  // Series without a match on the other side are left out.
  EXPECT_EQ(
      Answer("({} | count_over_time() by (resource.service.name)) + "
             "({ resource.service.name = \"b\" } | count_over_time() by (resource.service.name))",
             TestRange()),
      V{"resource.service.name=b: 0 2 0 0"});
  // A number on one side, and a value filter after: 100 * (1 1 0 0) / (3 1 1 0) > 50.
  EXPECT_EQ(
      Answer("100 * ({ span.code >= 400 } | count_over_time()) / ({} | count_over_time()) > 50",
             TestRange()),
      V{"__name__=(count_over_time / count_over_time): - 100 - -"});
  EXPECT_EQ(Answer("({} | count_over_time()) / 0", TestRange()), V{});
  // topk after the sum: a 6 0 2 0, b 0 2 0 0; the tie at 0 goes to a.
  EXPECT_EQ(Answer("({} | count_over_time() by (resource.service.name)) + "
                   "({} | count_over_time() by (resource.service.name)) | topk(1)",
                   TestRange()),
            (V{"resource.service.name=a: 6 - 2 0", "resource.service.name=b: - 2 - -"}));
}

TEST(TraceqlMetrics, InstantAgreesWithRange) {
  for (std::string_view q :
       {"{} | rate()", "{} | count_over_time() by (resource.service.name)",
        "{} | avg_over_time(duration)", "{} | quantile_over_time(duration, .25, .9)",
        "{} | histogram_over_time(duration)", "{} | sum_over_time(span.code) by (name)",
        "{} | max_over_time(duration) by (resource.service.name) | topk(1)",
        "{} | compare({ resource.service.name = \"b\" })",
        "({ span.code >= 400 } | rate() by (resource.service.name)) / ({} | rate())"}) {
    const Intervals r = TestRange();
    const auto range = Answer(q, r);
    for (int64_t i = 0; i < r.count; ++i) {
      const auto instant = Answer(q, Intervals::Instant(r.EndOf(i) - r.step_ns, r.EndOf(i)));
      EXPECT_EQ(At(instant, 0), At(range, static_cast<size_t>(i))) << q << " interval " << i;
    }
  }
  // Over the whole range at once: 5 spans in 40 s.
  EXPECT_EQ(Answer("{} | rate()", Intervals::Instant(90 * kSec, 130 * kSec)),
            V{"__name__=rate: 0.125"});
}

// compare(): every attribute value of the selection's spans (here C, the one span of b) and of
// the baseline's (A, H, B, D), per interval, with each side's total per attribute; at most
// `top` values of an attribute, those with the most spans (ties to the first by value).
TEST(TraceqlMetrics, CompareCountsBothSides) {
  EXPECT_EQ(Answer("{} | compare({ resource.service.name = \"b\" }, 2)", TestRange()),
            (V{"__meta_type=baseline,kind=unspecified: 3 0 1 0",
               "__meta_type=baseline,name=A: 1 0 0 0",
               "__meta_type=baseline,name=B: 1 0 0 0",
               "__meta_type=baseline,resource.service.name=a: 3 0 1 0",
               "__meta_type=baseline,rootName=A: 3 0 1 0",
               "__meta_type=baseline,rootServiceName=a: 3 0 1 0",
               "__meta_type=baseline,span.code=200: 1 0 0 0",
               "__meta_type=baseline,span.code=404: 1 0 0 0",
               "__meta_type=baseline,status=unset: 3 0 1 0",
               "__meta_type=baseline_total,kind=nil: 3 0 1 0",
               "__meta_type=baseline_total,name=nil: 3 0 1 0",
               "__meta_type=baseline_total,resource.service.name=nil: 3 0 1 0",
               "__meta_type=baseline_total,rootName=nil: 3 0 1 0",
               "__meta_type=baseline_total,rootServiceName=nil: 3 0 1 0",
               "__meta_type=baseline_total,span.code=nil: 2 0 0 0",
               "__meta_type=baseline_total,status=nil: 3 0 1 0",
               "__meta_type=selection,kind=unspecified: 0 1 0 0",
               "__meta_type=selection,name=C: 0 1 0 0",
               "__meta_type=selection,resource.service.name=b: 0 1 0 0",
               "__meta_type=selection,rootName=A: 0 1 0 0",
               "__meta_type=selection,rootServiceName=a: 0 1 0 0",
               "__meta_type=selection,span.code=500: 0 1 0 0",
               "__meta_type=selection,status=unset: 0 1 0 0",
               "__meta_type=selection_total,kind=nil: 0 1 0 0",
               "__meta_type=selection_total,name=nil: 0 1 0 0",
               "__meta_type=selection_total,resource.service.name=nil: 0 1 0 0",
               "__meta_type=selection_total,rootName=nil: 0 1 0 0",
               "__meta_type=selection_total,rootServiceName=nil: 0 1 0 0",
               "__meta_type=selection_total,span.code=nil: 0 1 0 0",
               "__meta_type=selection_total,status=nil: 0 1 0 0"}));
  // A selection window (110 s, 130 s] leaves C, at 105 s, in the baseline.
  for (const std::string& line :
       Answer("{} | compare({ resource.service.name = \"b\" }, 10, 110000000000, 130000000000)",
              TestRange())) {
    EXPECT_FALSE(line.starts_with("__meta_type=selection")) << line;
  }
}

TEST(TraceqlMetrics, SeriesAreBounded) {
  auto q = Parse("{} | count_over_time() by (name)");
  ASSERT_TRUE(q.ok());
  MetricsEvaluator ev(*(*q)->metrics, TestRange(), 2);
  ev.Observe(SevenSpans());
  EXPECT_TRUE(ev.truncated());
  EXPECT_EQ(ev.Result().size(), 2u);
  // compare(): past the limit values are left out, and the totals kept stay whole.
  auto compare = Parse("{} | compare({ resource.service.name = \"b\" })");
  ASSERT_TRUE(compare.ok());
  MetricsEvaluator all(*(*compare)->metrics, TestRange(), 1000);
  MetricsEvaluator few(*(*compare)->metrics, TestRange(), 5);
  all.Observe(SevenSpans());
  few.Observe(SevenSpans());
  EXPECT_FALSE(all.truncated());
  EXPECT_TRUE(few.truncated());
  std::map<std::string, std::vector<double>> totals;
  for (const Series& s : all.Result()) totals[s.labels[0].second.s + s.labels[1].first] = s.values;
  int kept = 0;
  for (const Series& s : few.Result()) {
    if (!s.labels[0].second.s.ends_with("_total")) continue;
    ++kept;
    EXPECT_EQ(s.values, totals[s.labels[0].second.s + s.labels[1].first]) << s.labels[1].first;
  }
  EXPECT_GT(kept, 0);
}

}  // namespace
}  // namespace strata::traceql
