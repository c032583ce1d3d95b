#include "traceql/parser.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <string>

#include "traceql/ast.h"
#include "traceql/lexer.h"

namespace strata::traceql {
namespace {

std::string ErrorOf(std::string_view q) {
  auto e = Parse(q);
  return e.ok() ? "" : std::string(e.status().message());
}

std::string Printed(std::string_view q) {
  auto e = Parse(q);
  return e.ok() ? (*e)->String() : "error: " + std::string(e.status().message());
}

// Every query of Tempo's own examples parses, validates, or is refused as Tempo does.
TEST(TraceqlParser, TempoExamples) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(STRATA_TRACEQL_EXAMPLES);
  } catch (const YAML::Exception& e) {
    GTEST_SKIP() << "no examples at " << STRATA_TRACEQL_EXAMPLES << ": " << e.what();
  }
  size_t n = 0;
  for (const char* section : {"valid", "parse_fails", "validate_fails", "unsupported"}) {
    for (const auto& item : doc[section]) {
      std::string q = item.as<std::string>();
      ++n;
      auto e = Parse(q);
      if (std::string_view(section) == "parse_fails") {
        EXPECT_FALSE(e.ok()) << section << ": " << q << " parsed as " << (*e)->String();
        continue;
      }
      ASSERT_TRUE(e.ok()) << section << ": " << q << ": " << e.status().message();
      Status st = Validate(**e);
      std::string_view s(section);
      if (s == "valid") {
        EXPECT_TRUE(st.ok()) << q << ": " << st.message();
      } else if (s == "validate_fails") {
        EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << q << ": " << st.message();
      } else {
        EXPECT_EQ(st.code(), Status::Code::kUnsupported) << q << ": " << st.message();
      }
      // The printed form parses back to itself.
      std::string printed = (*e)->String();
      auto again = Parse(printed);
      ASSERT_TRUE(again.ok()) << q << " printed as " << printed << ": " << again.status().message();
      EXPECT_EQ((*again)->String(), printed) << q;
    }
  }
  EXPECT_GT(n, 400u);
}

TEST(TraceqlParser, ErrorsNameWhereAndWhat) {
  EXPECT_EQ(ErrorOf("{ .a < 3"), "parse error at line 1, col 9: syntax error: unexpected $end");
  EXPECT_EQ(ErrorOf("{ attribute = 4 }"),
            "parse error at line 1, col 3: unknown identifier: attribute");
  EXPECT_EQ(ErrorOf("{ span. }"),
            "parse error at line 1, col 3: syntax error: unexpected END_ATTRIBUTE");
  EXPECT_EQ(ErrorOf("{ .a =\n== 4 }"), "parse error at line 2, col 1: syntax error: unexpected =");
  EXPECT_EQ(ErrorOf("{ .a = \"x }"), "parse error at line 1, col 8: literal not terminated");
  EXPECT_EQ(ErrorOf("{ .\"a\\x\" = 1 }"), "parse error at line 1, col 3: invalid escape sequence");
  EXPECT_EQ(ErrorOf("{} | rate() * 99999999999999999999"),
            "parse error at line 1, col 15: strconv.Atoi: parsing \"99999999999999999999\": "
            "value out of range");
  EXPECT_EQ(ErrorOf("({} | rate()) * 10s"),
            "parse error at line 1, col 17: duration cannot be used as a scalar operand in "
            "metric arithmetic");
  EXPECT_EQ(ErrorOf("({} | rate()) > (10s + 1s)"),
            "parse error at line 1, col 22: duration cannot be used in scalar arithmetic");
  EXPECT_NE(ErrorOf(std::string(1000, '(') + "{}" + std::string(1000, ')'))
                .find("nested too "
                      "deeply"),
            std::string::npos);
}

TEST(TraceqlParser, ConstantsFoldAsTempoFoldsThem) {
  EXPECT_EQ(Printed("{ 1 + 1 = 2 }"), "{ true }");
  EXPECT_EQ(Printed("{ 7 / 2 = 3 }"), "{ true }");      // ints divide as ints
  EXPECT_EQ(Printed("{ 7 / 2.0 = 3.5 }"), "{ true }");  // else as floats
  EXPECT_EQ(Printed("{ -.a = 2 }"), "{ (-.a) = 2 }");
  EXPECT_EQ(Printed("{ \"ab\" =~ \"a\" }"), "{ false }");  // regexes match whole strings
  EXPECT_EQ(Printed("{ 1 / 0 = 1 }"), "{ (1 / 0) = 1 }");  // not folded: an error at run time
  EXPECT_EQ(Printed("{ nil = nil }"), "{ false }");
  EXPECT_EQ(Printed("{ .a != nil && nil = .b }"), "{ (.a != nil) && (.b = nil) }");
  EXPECT_EQ(Printed("{ trace:id = \"000af\" }"), "{ trace:id = `af` }");
  EXPECT_EQ(Printed("{ .a = maxInt }"), "{ .a = 9223372036854775807 }");
  // Scalars outside { } fold too, and a unary minus there binds tightest.
  EXPECT_EQ(Printed("-2 * ({} | rate())"), "-2.0 * ({ true } | rate())");
  EXPECT_EQ(Printed("({} | rate()) > 1 / 2"), "{ true } | rate() > 0.0");
}

TEST(TraceqlParser, PrecedenceIsTempos) {
  // ! binds tighter than +, looser than *; && and || alike, looser than comparisons; ^ to
  // the right.
  EXPECT_EQ(Printed("{ !.a * 2 = 1 }"), "{ (!(.a * 2)) = 1 }");
  EXPECT_EQ(Printed("{ .a = 1 || .b = 2 && .c }"), "{ ((.a = 1) || (.b = 2)) && .c }");
  EXPECT_EQ(Printed("{ .a ^ 2 ^ 3 > 1 }"), "{ (.a ^ 8) > 1 }");  // 2 ^ 3 first, folded
  // Structural operators bind tighter than && and ||.
  EXPECT_EQ(Printed("{ .a } && { .b } >> { .c }"), "({ .a }) && (({ .b }) >> ({ .c }))");
}

TEST(TraceqlParser, AttributesAndIntrinsics) {
  EXPECT_EQ(Printed("{ span.http.status_code >= 500 }"), "{ span.http.status_code >= 500 }");
  EXPECT_EQ(Printed("{ parent.resource.a = 1 }"), "{ parent.resource.a = 1 }");
  EXPECT_EQ(Printed("{ .\"a b\" = `x` }"), "{ .\"a b\" = `x` }");
  EXPECT_EQ(Printed("{ .a+1 }"), "{ .a+1 }");  // + is part of a name
  EXPECT_EQ(Printed("{ span:id = \"x\" && event:name = \"e\" }"),
            "{ (span:id = `x`) && (event:name = `e`) }");
  EXPECT_EQ(Printed("{ duration > 1h30m && traceDuration < 1.5s }"),
            "{ (duration > 1h30m0s) && (traceDuration < 1.5s) }");
  EXPECT_EQ(Printed("{ .a = 3d }"), "{ .a = 72h0m0s }");
  EXPECT_EQ(Printed("{ kind = server && status != error } // a comment"),
            "{ (kind = server) && (status != error) }");
}

// Tag names as the tag values endpoints take them.
TEST(TraceqlParser, Identifiers) {
  auto name = [](std::string_view s) {
    auto a = ParseIdentifier(s);
    return a.ok() ? a->String() : "error: " + std::string(a.status().message());
  };
  EXPECT_EQ(name("span.http.method"), "span.http.method");
  EXPECT_EQ(name("resource.service.name"), "resource.service.name");
  EXPECT_EQ(name(".a"), ".a");
  EXPECT_EQ(name("span:status"), "status");  // the same intrinsic
  EXPECT_EQ(name("name"), "name");
  EXPECT_EQ(ParseIdentifier("span:status")->intrinsic, Intrinsic::kStatus);
  EXPECT_EQ(name("span.a = 1"), "error: failed to parse identifier span.a = 1: not an attribute");
  EXPECT_TRUE(name("a b").starts_with("error: failed to parse identifier a b: parse error"));
}

TEST(TraceqlParser, MetricsStages) {
  auto e = Parse("{ } | rate() by (span.a, name) > 2 | topk(3) <= 9 with(sample=0.1, x=\"y\")");
  ASSERT_TRUE(e.ok()) << e.status().message();
  const RootExpr& r = **e;
  ASSERT_TRUE(r.metrics);
  EXPECT_EQ(r.metrics->first.op, MetricsOp::kRate);
  ASSERT_EQ(r.metrics->first.by.size(), 2u);
  EXPECT_EQ(r.metrics->first.by[1].intrinsic, Intrinsic::kName);
  ASSERT_EQ(r.metrics->stages.size(), 3u);
  EXPECT_EQ(r.metrics->stages[0].kind, SecondStage::Kind::kFilter);
  EXPECT_EQ(r.metrics->stages[0].value, 2);
  EXPECT_EQ(r.metrics->stages[1].kind, SecondStage::Kind::kTopK);
  EXPECT_EQ(r.metrics->stages[1].limit, 3);
  EXPECT_EQ(r.metrics->stages[2].op, Op::kLte);
  ASSERT_EQ(r.hints.size(), 2u);
  EXPECT_EQ(r.hints[0].value, Static::Float(0.1));
  // A duration compares in seconds.
  auto d = Parse("({} | max_over_time(duration)) > 1500ms");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->metrics->stages[0].value, 1.5);
  // Arithmetic between queries, and with numbers on either side.
  auto m = Parse("100 * ({ status = error } | count_over_time()) / ({} | count_over_time())");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->metrics->kind, MetricsExpr::Kind::kMath);
  EXPECT_EQ((*m)->metrics->lhs->stages[0].scalar_on_left, true);
  auto q = Parse("{} | quantile_over_time(duration, .5, 1) by (resource.service.name)");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ((*q)->metrics->first.quantiles, (std::vector<double>{0.5, 1}));
  EXPECT_EQ(Validate(**Parse("{} | quantile_over_time(duration, 2)")).message(),
            "quantile must be between 0 and 1: 2");
  EXPECT_EQ(Validate(**Parse("{} | compare({ .a = 1 }, 0)")).message(),
            "compare() top number of values must be an integer between 1 and 1000");
}

TEST(TraceqlParser, ValidationSpeaksTempos) {
  auto check = [](std::string_view q) { return std::string(Validate(**Parse(q)).message()); };
  EXPECT_EQ(check("{ 1 = \"foo\" }"), "binary operations must operate on the same type: 1 = `foo`");
  EXPECT_EQ(check("{ status > ok }"), "illegal operation for the given types: status > ok");
  EXPECT_EQ(check("{ span.foo =~ \"[\" }"), "invalid regex: `[`");
  EXPECT_EQ(check("{ span:status = nil }"),
            "status=nil is not valid because intrinsics cannot be nil");
  EXPECT_EQ(check("{ 1 + 1 }"), "span filter field expressions must resolve to a boolean: { 2 }");
  EXPECT_EQ(check("sum(3) = 2"), "aggregate field expressions must reference the span: sum(3)");
  EXPECT_EQ(check("{ parent.a = 1 }"), "parent not yet supported");
  EXPECT_EQ(check("{} | rate() | topk(0)"), "limit must be greater than 0");
  EXPECT_EQ(check("{} | compare({status=error}) > 1"),
            "`compare()` cannot be used with second stage functions");
}

TEST(TraceqlParser, BoundsItsInput) {
  EXPECT_NE(ErrorOf(std::string(200 << 10, ' ')).find("over the limit"), std::string::npos);
  // Long chains are fine; deep nesting is refused rather than overflowing the stack.
  std::string chain = "{ .a";
  for (int i = 0; i < 150; ++i) chain += " + 1";
  EXPECT_TRUE(Parse(chain + " > 1 }").ok());
}

}  // namespace
}  // namespace strata::traceql
