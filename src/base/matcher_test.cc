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

TEST(Matcher, PrintsAsPromQL) {
  EXPECT_EQ(Matcher::Make(Matcher::Type::kNotEqual, "mode", "idle").value().ToString(),
            R"(mode!="idle")");
  EXPECT_EQ(Matcher::Make(Matcher::Type::kRegex, "odd name", "x\"y\n").value().ToString(),
            R"("odd name"=~"x\"y\n")");
}

}  // namespace
}  // namespace strata
