#include "promql/parser.h"

#include <gtest/gtest.h>

namespace strata::promql {
namespace {

std::string Canon(std::string_view q) {
  auto e = ParseExpr(q);
  EXPECT_TRUE(e.ok()) << q << ": " << e.status().message();
  return e.ok() ? e.value()->String() : "";
}

std::string Error(std::string_view q) {
  auto e = ParseExpr(q);
  EXPECT_FALSE(e.ok()) << q;
  return e.ok() ? "" : e.status().message();
}

TEST(Parser, PrintsLikePrometheus) {
  EXPECT_EQ(Canon("sum by() (task:errors:rate10s{job=\"s\"})"),
            "sum(task:errors:rate10s{job=\"s\"})");
  EXPECT_EQ(Canon("sum by(code) (x)"), "sum by (code) (x)");
  EXPECT_EQ(Canon("sum(x) without(instance)"), "sum without (instance) (x)");
  EXPECT_EQ(Canon("topk(5, x)"), "topk(5, x)");
  EXPECT_EQ(Canon("count_values('value', x)"), "count_values(\"value\", x)");
  EXPECT_EQ(Canon("a - on(b) group_left c"), "a - on (b) group_left () c");
  EXPECT_EQ(Canon("a - on(b) group_left(x, y) c"), "a - on (b) group_left (x, y) c");
  EXPECT_EQ(Canon("a - ignoring() c"), "a - c");
  EXPECT_EQ(Canon("up > bool 0"), "up > bool 0");
  EXPECT_EQ(Canon("a offset -7m"), "a offset -7m");
  EXPECT_EQ(Canon("a{c=\"d\"}[5m] offset 1m"), "a{c=\"d\"}[5m] offset 1m");
  EXPECT_EQ(Canon("a[1h:5m] offset 1m"), "a[1h:5m] offset 1m");
  EXPECT_EQ(Canon("rate(a[5m])[1h:]"), "rate(a[5m])[1h:]");
  EXPECT_EQ(Canon("a @ 10"), "a @ 10.000");
  // A duration after @ is its seconds, as Prometheus 3 parses `number` there.
  EXPECT_EQ(Canon("a @ 1h"), "a @ 3600.000");
  EXPECT_EQ(Canon("a[1m] @ -1m30s"), "a[1m] @ -90.000");
  EXPECT_EQ(Canon("a[1m] @ end()"), "a[1m] @ end()");
  EXPECT_EQ(Canon("a{b!~\"c\",d=~'e'}"), "a{b!~\"c\",d=~\"e\"}");
  EXPECT_EQ(Canon("{__name__=\"a\"}"), "{__name__=\"a\"}");
  EXPECT_EQ(Canon("{\"my.metric\", \"a.b\"=\"c\"}"), "{\"my.metric\",\"a.b\"=\"c\"}");
  EXPECT_EQ(Canon("-1"), "-1");
  EXPECT_EQ(Canon("0x1F + 1e3 - .5"), "31 + 1000 - 0.5");
  EXPECT_EQ(Canon("Inf"), "+Inf");
  EXPECT_EQ(Canon("5m"), "5m");
  EXPECT_EQ(Canon("foo[300]"), "foo[5m]");
  EXPECT_EQ(Canon("`a\\n`"), "\"a\\\\n\"");
}

TEST(Parser, PrettySplitsLongQueriesAsPrometheus) {
  EXPECT_EQ(ParseExpr("sum(rate(x[5m]))").value()->Pretty(), "sum(rate(x[5m]))");
  // An aggregation too long for one line opens its parentheses over lines.
  std::string long_sel = "x{" + std::string(40, 'a') + "=\"1\"," + std::string(40, 'b') + "=\"2\"}";
  EXPECT_EQ(ParseExpr("sum by (job) (rate(" + long_sel + "[5m]))").value()->Pretty(),
            "sum by (job) (\n  rate(\n    " + long_sel + "[5m]\n  )\n)");
  auto e = ParseExpr(
      "sum by (job) (rate(http_requests_total{job=\"api-server\", handler=\"/api/v1/query\"}[5m])) "
      "/ on (job) group_left sum by (job) (rate(http_requests_total[5m]))");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value()->Pretty(),
            "  sum by (job) "
            "(rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\"}[5m]))\n"
            "/ on (job) group_left ()\n"
            "  sum by (job) (rate(http_requests_total[5m]))");
}

TEST(Parser, Precedence) {
  EXPECT_EQ(Canon("1 + 2 * 3"), "1 + 2 * 3");
  auto e = ParseExpr("a + b * c").value();
  ASSERT_EQ(e->kind, ExprKind::kBinary);
  EXPECT_EQ(As<BinaryExpr>(*e).op, BinOp::kAdd);
  e = ParseExpr("2 ^ 3 ^ 2").value();  // right-associative
  EXPECT_EQ(As<BinaryExpr>(*e).lhs->kind, ExprKind::kNumber);
  e = ParseExpr("-a ^ b").value();  // -(a^b)
  EXPECT_EQ(e->kind, ExprKind::kUnary);
  e = ParseExpr("-a * b").value();  // (-a)*b
  EXPECT_EQ(e->kind, ExprKind::kBinary);
  e = ParseExpr("a or b and c").value();
  EXPECT_EQ(As<BinaryExpr>(*e).op, BinOp::kOr);
}

TEST(Parser, ErrorsCarryPositions) {
  EXPECT_EQ(Error("sum(foo"), "1:4: parse error: unclosed left parenthesis");
  EXPECT_EQ(Error("foo +"), "1:6: parse error: unexpected end of input");
  EXPECT_EQ(Error("1 > 2"), "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(Error("rate(foo)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(Error("nope(foo)"), "1:1: parse error: unknown function with name \"nope\"");
  EXPECT_EQ(Error("{}"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(Error("foo{__name__=\"bar\"}"),
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
  EXPECT_EQ(Error("1 and 2"),
            "1:3: parse error: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(
      Error("foo[5m] + 1"),
      "1:1: parse error: binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(Error("topk(foo)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, "
            "expected 2, got 1");
  EXPECT_EQ(Error("foo offset 1m offset 2m"),
            "1:15: parse error: offset may not be set multiple times");
  EXPECT_EQ(Error("foo{a=~\"(\"}"), Error("foo{a=~\"(\"}"));
  EXPECT_NE(Error("foo\n  + ]"), "");
  EXPECT_EQ(Error("foo\n  + ]").substr(0, 4), "2:5:");
}

TEST(Parser, Selectors) {
  auto m = ParseMetricSelector("up{job=~\"a|b\", x!=\"\"}");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m.value().size(), 3u);
  EXPECT_EQ(m.value()[0].name(), "__name__");
  EXPECT_TRUE(m.value()[1].Matches("b"));
  EXPECT_FALSE(m.value()[1].Matches("ab"));
  EXPECT_FALSE(ParseMetricSelector("rate(x[5m])").ok());
  auto s = ParseSeriesLabels("foo{b=\"2\", a=\"1\"} 1 2 3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(FormatLabels(s.value().first), "{__name__=\"foo\", a=\"1\", b=\"2\"}");
  EXPECT_EQ(s.value().second, 17u);
}

}  // namespace
}  // namespace strata::promql

namespace strata::promql {
namespace {

// Regressions found by fuzz/promql_parser_fuzzer: printed queries must parse back the same.
TEST(Parser, PrintedFormReparses) {
  for (std::string_view q :
       {"a > group_right * b", "ve + on + (2)", "{\":kx\"}", "a + + bool", "a < + bool + b",
        "{\"inf\"}", "- + Inf ^ x", "{a=\"1\", \"nan\"=\"x\"}", "sum by (inf, NaN) (x)"}) {
    auto e = ParseExpr(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    std::string printed = e.value()->String();
    auto again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << printed << ": " << again.status().message();
    EXPECT_EQ(again.value()->String(), printed);
  }
  EXPECT_FALSE(ParseExpr(std::string(500, '(') + "1" + std::string(500, ')')).ok());
}

}  // namespace
}  // namespace strata::promql
