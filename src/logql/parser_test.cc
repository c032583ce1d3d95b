#include "logql/parser.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>
#include <string>

#include "logql/lexer.h"

namespace strata::logql {
namespace {

std::string Canonical(std::string_view q) {
  auto e = ParseExpr(q);
  if (!e.ok()) return "ERROR: " + std::string(e.status().message());
  return (*e)->String();
}

std::string Error(std::string_view q) {
  auto e = ParseExpr(q);
  if (e.ok()) return "parsed as " + (*e)->String();
  return std::string(e.status().message());
}

// Expected forms follow Loki's printing rules (pkg/logql/syntax/ast.go): matchers without
// spaces, each stage after " ", binary operations in parentheses, durations of label filters
// and offsets as Go prints them and ranges as Prometheus does.
TEST(LogqlParser, CanonicalForms) {
  EXPECT_EQ(Canonical(R"({ foo = "bar" })"), R"({foo="bar"})");
  EXPECT_EQ(Canonical(R"({ namespace="buzz", foo != "bar" })"),
            R"({namespace="buzz", foo!="bar"})");
  EXPECT_EQ(Canonical(R"({ foo = "bar" }|logfmt --strict --keep-empty|length>5d)"),
            R"({foo="bar"} | logfmt --strict --keep-empty | length>120h0m0s)");
  EXPECT_EQ(Canonical(R"({a="b"} |= "x" != "y" |~ `z\d` | json | line_format "{{.a}}")"),
            R"({a="b"} |= "x" != "y" |~ "z\\d" | json | line_format "{{.a}}")");
  // A positive or-chain stays one filter; a negative one becomes several.
  EXPECT_EQ(Canonical(R"({a="b"} |= "x" or "y" or ip("1.2.3.4"))"),
            R"({a="b"} |= "x" or "y" or ip("1.2.3.4"))");
  EXPECT_EQ(Canonical(R"({a="b"} != "x" or "y")"), R"({a="b"} != "x" != "y")");
  EXPECT_EQ(Canonical(R"({a="b"} | json x="a.b", y | logfmt --strict z)"),
            R"({a="b"} | json x="a.b",y="y" | logfmt --strict z="z")");
  EXPECT_EQ(Canonical(R"q({a="b"} | regexp "(?P<x>\\w+)" | pattern "<ip> - <_>" | unpack)q"),
            R"q({a="b"} | regexp "(?P<x>\\w+)" | pattern "<ip> - <_>" | unpack)q");
  EXPECT_EQ(Canonical(R"({a="b"} | label_format x=y, z="{{.a}}" | drop a, b="c" | keep d)"),
            R"({a="b"} | label_format x=y,z="{{.a}}" | drop a,b="c" | keep d)");
  EXPECT_EQ(Canonical(R"({a="b"} | decolorize)"), R"({a="b"} | decolorize)");
  // Label filters: `and`/`,` print as ",", every pair in parentheses; numbers, bytes, ip.
  EXPECT_EQ(Canonical(R"({a="b"} | x > 1 and y < 2.5 or z = "w")"),
            R"({a="b"} | ( ( x>1 , y<2.5 ) or z="w" ))");
  EXPECT_EQ(Canonical(R"({a="b"} | x > 1, y < 2 or z = "w")"),
            R"({a="b"} | ( x>1 , ( y<2 or z="w" ) ))");
  EXPECT_EQ(Canonical(R"({a="b"} | size >= 20KB | addr = ip("10.0.0.0/8") | n == -3)"),
            R"({a="b"} | size>=20kB | addr=ip("10.0.0.0/8") | n==-3)");
  EXPECT_EQ(Canonical(R"({a="b"} | latency > 250ms | d != 1m30s)"),
            R"({a="b"} | latency>250ms | d!=1m30s)");
  EXPECT_EQ(Canonical(R"({a="b"} | msg =~ "a.*b" | m =~ "foo")"),
            "{a=\"b\"} | msg=~`a.*b` | m=~\"foo\"");

  // Metric queries.
  EXPECT_EQ(Canonical(R"(count_over_time({ foo = "bar" }[12m]))"),
            R"(count_over_time({foo="bar"}[12m]))");
  EXPECT_EQ(Canonical(R"(count_over_time({foo="bar"} |= "error" [1h]))"),
            R"(count_over_time({foo="bar"} |= "error"[1h]))");
  EXPECT_EQ(Canonical(R"(count_over_time({foo="bar"}[12h] |= "error"))"),
            R"(count_over_time({foo="bar"} |= "error"[12h]))");
  EXPECT_EQ(Canonical(R"(rate({foo="bar"}[90d] offset 1h))"),
            R"(rate({foo="bar"}[90d] offset 1h0m0s))");
  EXPECT_EQ(Canonical(R"(sum by (a, b) (rate({foo="bar"}[5m])))"),
            R"(sum by (a,b)(rate({foo="bar"}[5m])))");
  EXPECT_EQ(Canonical(R"(sum(rate({foo="bar"}[5m])) by ())"), R"(sum(rate({foo="bar"}[5m])))");
  EXPECT_EQ(Canonical(R"(max without () (rate({foo="bar"}[5m])))"),
            R"(max without ()(rate({foo="bar"}[5m])))");
  EXPECT_EQ(Canonical(R"(topk(10, rate({foo="bar"}[5m])))"), R"(topk(10,rate({foo="bar"}[5m])))");
  EXPECT_EQ(
      Canonical(
          R"(quantile_over_time(0.99, {a="b"} | json | unwrap duration(d) | __error__="" [5m]) by (x))"),
      R"(quantile_over_time(0.99,{a="b"} | json | unwrap duration(d) | __error__=""[5m]) by (x))");
  EXPECT_EQ(Canonical(R"(sum_over_time({a="b"} | unwrap bytes(size)[1m]))"),
            R"(sum_over_time({a="b"} | unwrap bytes(size)[1m]))");
  EXPECT_EQ(Canonical(R"(rate({a="b"}[1m]) / on (x) group_left (y) rate({a="c"}[1m]))"),
            R"((rate({a="b"}[1m]) / on (x) group_left (y) rate({a="c"}[1m])))");
  EXPECT_EQ(Canonical(R"(rate({a="b"}[1m]) > bool 2)"), R"((rate({a="b"}[1m]) > bool 2))");
  EXPECT_EQ(Canonical(R"(rate({a="b"}[1m]) + on () rate({a="c"}[1m]))"),
            R"((rate({a="b"}[1m]) + on ()  rate({a="c"}[1m])))");
  // Precedence: * before +, ^ to the right; literals fold; comparisons of literals give 0/1.
  EXPECT_EQ(Canonical(R"(rate({a="b"}[1m]) + rate({a="c"}[1m]) * 2)"),
            R"((rate({a="b"}[1m]) + (rate({a="c"}[1m]) * 2)))");
  EXPECT_EQ(Canonical("2 ^ 3 ^ 2"), "512");
  EXPECT_EQ(Canonical("1 >= 1 > 1"), "0");
  EXPECT_EQ(Canonical("1 / 0"), "NaN");
  EXPECT_EQ(Canonical("1e6 + 1"), "1.000001e+06");
  EXPECT_EQ(Canonical("vector(1)"), "vector(1.000000)");
  EXPECT_EQ(Canonical(R"q(label_replace(rate({a="b"}[1m]), "d", "$1", "s", "(.*)"))q"),
            R"q(label_replace(rate({a="b"}[1m]),"d","$1","s","(.*)"))q");
  EXPECT_EQ(Canonical(R"(( {a="b"} |= "x" ))"), R"({a="b"} |= "x")");
  EXPECT_EQ(Canonical(R"(rate(({a="b"} |= "x")[5m]))"), R"(rate({a="b"} |= "x"[5m]))");
  EXPECT_EQ(Canonical(R"(SUM BY (a) (RATE({a="b"}[5m])))"), R"(sum by (a)(rate({a="b"}[5m])))");
  // Comments, and function names used as label names.
  EXPECT_EQ(Canonical("{a=\"b\"} # all of it\n| rate > 1"), R"({a="b"} | rate>1)");
  EXPECT_EQ(Canonical(R"({a="b"} | bytes > 1KiB)"), R"({a="b"} | bytes>1.0kB)");
}

// Errors as Loki words them, with its positions (line 0 where its lexer read ahead).
TEST(LogqlParser, Errors) {
  EXPECT_EQ(Error(R"(unk({ foo = "bar" }[5m]))"),
            "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER");
  EXPECT_EQ(Error(R"({foo="bar")"),
            "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,");
  EXPECT_EQ(Error(R"({foo="bar"} |~)"),
            "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or ip");
  EXPECT_EQ(Error(R"({foo="bar"} "foo")"),
            "parse error at line 1, col 13: syntax error: unexpected STRING");
  EXPECT_EQ(Error(R"({foo="bar})"), "parse error at line 1, col 6: literal not terminated");
  EXPECT_EQ(Error(R"(rate({ foo = "bar" }[5minutes]))"),
            R"(parse error at line 0, col 21: unknown unit "minutes" in duration "5minutes")");
  EXPECT_EQ(Error(R"(rate({ foo = "bar" }[5))"),
            "parse error at line 0, col 21: missing closing ']' in duration");
  EXPECT_EQ(Error(R"(min({ foo = "bar" }[5m]))"),
            "parse error at line 0, col 20: syntax error: unexpected RANGE");
  EXPECT_EQ(Error(R"(stddev({ foo = "bar" }))"),
            "parse error at line 1, col 23: syntax error: unexpected )");
  EXPECT_EQ(Error(R"(label_replace(rate({ foo = "bar" }[5m]),""))"),
            "parse error at line 1, col 43: syntax error: unexpected ), expecting ,");
  EXPECT_EQ(Error(R"(vector(abc))"),
            "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting NUMBER");
  EXPECT_EQ(Error(R"(quantile_over_time(foo,{a="b"} | unwrap x [5m]))"),
            "parse error at line 1, col 20: syntax error: unexpected IDENTIFIER, expecting "
            "NUMBER or { or (");
  EXPECT_EQ(Error(R"(count without (rate({namespace="apps"}[15s])))"),
            "parse error at line 1, col 16: syntax error: unexpected RATE, expecting IDENTIFIER "
            "or )");
  EXPECT_EQ(Error(R"({ foo = "bar" }|logfmt|addr>=ip("1.2.3.4"))"),
            "parse error at line 1, col 30: syntax error: unexpected ip");
  EXPECT_EQ(Error("bool 1 > 1"), "parse error at line 1, col 1: syntax error: unexpected bool");
  EXPECT_EQ(Error("#{app=\"foo\"} | json"),
            "parse error at line 1, col 20: syntax error: unexpected $end");
  EXPECT_EQ(Error("{app=~\"\xa0\xa1\"}"), "parse error at line 1, col 7: invalid UTF-8 encoding");

  // Found when Loki validates the parsed query.
  EXPECT_EQ(Error(R"(absent_over_time({ foo = "bar" }[5h]) by (foo))"),
            "parse error : grouping not allowed for absent_over_time aggregation");
  EXPECT_EQ(Error(R"(approx_topk(2, count_over_time({ foo = "bar" }[5h])) by (foo))"),
            "parse error : grouping not allowed for approx_topk aggregation");
  EXPECT_EQ(Error(R"(sum(3 ,count_over_time({ foo = "bar" }[5h])))"),
            "parse error : unsupported parameter for operation sum(3,");
  EXPECT_EQ(Error(R"(topk(count_over_time({ foo = "bar" }[5h])))"),
            "parse error : parameter required for operation topk");
  EXPECT_EQ(Error(R"(bottomk(1.2,count_over_time({ foo = "bar" }[5h])))"),
            "parse error : invalid parameter bottomk(1.2,");
  EXPECT_EQ(Error(R"(topk(0,count_over_time({ foo = "bar" }[5h])))"),
            "parse error : invalid parameter (must be greater than 0) topk(0");
  EXPECT_EQ(Error(R"(sum_over_time({a="b"} | json [5m]))"),
            "parse error : invalid aggregation sum_over_time without unwrap");
  EXPECT_EQ(Error(R"(count_over_time({a="b"} | json | unwrap foo [5m]))"),
            "parse error : invalid aggregation count_over_time with unwrap");
  EXPECT_EQ(Error(R"(sum_over_time(50,{a="b"} | unwrap latency [5m]))"),
            "parse error : parameter 50 not supported for operation sum_over_time");
  EXPECT_EQ(Error(R"(quantile_over_time({a="b"} | unwrap latency [5m]))"),
            "parse error : parameter required for operation quantile_over_time");
  EXPECT_EQ(Error(R"({foo="bar"} + {foo="bar"})"),
            "parse error : unexpected type for left leg of binary operation (+): "
            "*syntax.MatchersExpr");
  EXPECT_EQ(Error(R"(rate({a="b"}[1m]) - {foo="bar"} |= "x")"),
            "parse error : unexpected type for right leg of binary operation (-): "
            "*syntax.PipelineExpr");
  EXPECT_EQ(Error(R"(sum(count_over_time({foo="bar"}[5m])) by (foo) + 1 or 1)"),
            "parse error : unexpected literal for right leg of logical/set binary operation "
            "(or): 1.000000");
  EXPECT_EQ(Error(R"(1 unless sum(count_over_time({foo="bar"}[5m])))"),
            "parse error : unexpected literal for left leg of logical/set binary operation "
            "(unless): 1.000000");
  EXPECT_EQ(Error(R"(sort by (a) (rate({a="b"}[1m])))"),
            "parse error : sort and sort_desc doesn't allow grouping by ");
  EXPECT_EQ(Error(R"({app="foo"} | logfmt | status_code > 0x10)"),
            "parse error : unable to parse literal as a float: strconv.ParseFloat: parsing "
            "\"0x10\": invalid syntax");
  const std::string needs_matcher =
      "parse error : queries require at least one regexp or equality matcher that does not "
      "have an empty-compatible value. For instance, app=~\".*\" does not meet this "
      "requirement, but app=~\".+\" will";
  EXPECT_EQ(Error(R"({foo!="bar"})"), needs_matcher);
  EXPECT_EQ(Error(R"({app=~".*"})"), needs_matcher);
  EXPECT_EQ(Error("{}"), needs_matcher);
  EXPECT_EQ(Error(R"(1 + count_over_time({app=~".+"}[5m]) + count_over_time({app=~".*"}[5m]))"),
            needs_matcher);
  EXPECT_EQ(Canonical(R"(count_over_time({app=~".+"}[5m]))"),
            R"(count_over_time({app=~".+"}[5m]))");
  std::string chain = R"({a="b"} | x="1")";
  for (int i = 0; i < 5000; ++i) chain += R"( and x="1")";
  EXPECT_EQ(Error(chain), "parse error : query nesting too deep");
  EXPECT_EQ(Error(std::string(kMaxQuerySize, ' ')),
            "parse error : input size too long (131072 > 131072)");
}

TEST(LogqlParser, Matchers) {
  auto ms = ParseMatchers(R"({a="b", c=~"d.*"})", true);
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  ASSERT_EQ(ms->size(), 2u);
  EXPECT_EQ((*ms)[1].ToString(), R"(c=~"d.*")");
  EXPECT_EQ(ParseMatchers(R"({a="b"} |= "x")", true).status().message(),
            "only label matchers are supported");
  EXPECT_FALSE(ParseMatchers(R"({a=""})", true).ok());
  EXPECT_TRUE(ParseMatchers(R"({a=""})", false).ok());
}

// Formatting for format_query: parts longer than 100 characters split, two spaces per level.
TEST(LogqlParser, Pretty) {
  auto e = ParseExpr(
      R"(sum by (level) (count_over_time({job="varlogs", namespace="production"} |= "error" | logfmt | duration > 10s | line_format "{{.level}} {{.msg}}" [5m])))");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)->Pretty(),
            "sum by (level)(\n"
            "  count_over_time(\n"
            "    {job=\"varlogs\", namespace=\"production\"}\n"
            "      |= \"error\"\n"
            "      | logfmt\n"
            "      | duration>10s\n"
            "      | line_format \"{{.level}} {{.msg}}\" [5m]\n"
            "  )\n"
            ")");
  // Under the limit, one line.
  auto fits = ParseExpr(
      R"(sum by (level) (count_over_time({job="varlogs"} |= "error" | logfmt | duration > 10s [5m])))");
  ASSERT_TRUE(fits.ok());
  EXPECT_EQ(
      (*fits)->Pretty(),
      R"(sum by (level)(count_over_time({job="varlogs"} |= "error" | logfmt | duration>10s[5m])))");
  auto short_query = ParseExpr(R"(rate({a="b"}[5m]))");
  ASSERT_TRUE(short_query.ok());
  EXPECT_EQ((*short_query)->Pretty(), R"(rate({a="b"}[5m]))");
}

TEST(LogqlLexer, Units) {
  uint64_t b = 0;
  EXPECT_TRUE(ParseHumanBytes("20KB", &b));
  EXPECT_EQ(b, 20'000u);
  EXPECT_TRUE(ParseHumanBytes("1.5MiB", &b));
  EXPECT_EQ(b, 1'572'864u);
  EXPECT_FALSE(ParseHumanBytes("5x", &b));
  EXPECT_EQ(FormatHumanBytes(20'000), "20kB");
  EXPECT_EQ(FormatHumanBytes(1'572'864), "1.6MB");
  EXPECT_EQ(FormatHumanBytes(5), "5B");
}

// Loki's own parser cases (../shared/testdata/logql/parser-corpus.json, from its
// parser_test.go): every query is accepted or refused as Loki does.
TEST(LogqlParser, LokiCorpus) {
  std::ifstream in(STRATA_LOGQL_CORPUS);
  if (!in) GTEST_SKIP() << "no corpus at " << STRATA_LOGQL_CORPUS;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string json = buf.str();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS);
  // Two cases the corpus marks valid although Loki's test expects its validation to refuse
  // them (the corpus README warns that its flags were extracted mechanically).
  const std::vector<std::string_view> flag_wrong = {
      R"(count_over_time({app="foo"} |= "foo" | json | unwrap foo [5m]))",
      R"(sum_over_time({app="foo"} |= "bar" | json | latency >= 250ms)",
  };
  size_t n = 0;
  for (simdjson::dom::element c : doc.get_array()) {
    std::string_view q = c["query"].get_string().value();
    bool valid = c["valid"].get_bool().value();
    for (std::string_view w : flag_wrong) {
      if (q.starts_with(w)) valid = !valid;
    }
    auto e = ParseExpr(q);
    EXPECT_EQ(e.ok(), valid) << q << "\n  -> "
                             << (e.ok() ? (*e)->String() : std::string(e.status().message()));
    if (e.ok()) {
      // The canonical form parses back to itself.
      std::string canonical = (*e)->String();
      auto again = ParseExpr(canonical);
      EXPECT_TRUE(again.ok()) << canonical << ": " << again.status().message();
      if (again.ok()) {
        EXPECT_EQ((*again)->String(), canonical);
      }
    }
    ++n;
  }
  EXPECT_GT(n, 200u);
}

}  // namespace
}  // namespace strata::logql
