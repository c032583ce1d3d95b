#include "base/matcher.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(Matcher, RegexIsAnchoredAndDotMatchesNewline) {
  auto m = Matcher::Make(Matcher::Type::kRegex, "a", "fo.").value();
  EXPECT_TRUE(m.Matches("foo"));
  EXPECT_TRUE(m.Matches("fo\n"));
  EXPECT_FALSE(m.Matches("xfoo"));
  EXPECT_FALSE(m.Matches("fooo"));
  auto alt = Matcher::Make(Matcher::Type::kNotRegex, "a", "x|y").value();
  EXPECT_FALSE(alt.Matches("x"));
  EXPECT_TRUE(alt.Matches("xy"));
  EXPECT_FALSE(Matcher::Make(Matcher::Type::kRegex, "a", "(").ok());
}

TEST(Matcher, ParseSelector) {
  auto ms = ParseSelector(R"(node_cpu{mode!="idle", cpu=~'0|1' , "odd name"!~"x\"y"})").value();
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_EQ(ms[0].ToString(), R"(__name__="node_cpu")");
  EXPECT_EQ(ms[1].ToString(), R"(mode!="idle")");
  EXPECT_EQ(ms[2].ToString(), R"(cpu=~"0|1")");
  EXPECT_EQ(ms[3].name(), "odd name");
  EXPECT_EQ(ms[3].value(), "x\"y");
  EXPECT_EQ(ParseSelector("{job=\"a\"}").value().size(), 1u);
  EXPECT_FALSE(ParseSelector("").ok());
  EXPECT_FALSE(ParseSelector("{}").ok());
  EXPECT_FALSE(ParseSelector("up{job=\"a\"").ok());
  EXPECT_FALSE(ParseSelector("up{job~\"a\"}").ok());
  EXPECT_FALSE(ParseSelector("up{job=\"a\"} extra").ok());
}

}  // namespace
}  // namespace strata
