#include "api/params.h"

#include <gtest/gtest.h>

namespace strata::api {
namespace {

TEST(Params, FormDecoding) {
  auto f = ParseForm("query=sum%28up%29+by+%28job%29&match[]=a&match%5B%5D=b&empty=&flag");
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f.value().size(), 5u);
  EXPECT_EQ(f.value()[0].second, "sum(up) by (job)");
  EXPECT_EQ(f.value()[2].first, "match[]");
  EXPECT_FALSE(ParseForm("a=%zz").ok());
  EXPECT_FALSE(ParseForm("a=%4").ok());
}

TEST(Params, Times) {
  EXPECT_EQ(ParseTime("1435781451.781").value(), 1435781451781);
  EXPECT_EQ(ParseTime("1435781451").value(), 1435781451000);
  EXPECT_EQ(ParseTime("2015-07-01T20:10:51.781Z").value(), 1435781451781);
  EXPECT_EQ(ParseTime("2015-07-01T22:10:51.781+02:00").value(), 1435781451781);
  EXPECT_EQ(ParseTime("-1.5").value(), -1500);
  EXPECT_EQ(ParseTime("x").status().message(), "cannot parse \"x\" to a valid timestamp");
  EXPECT_FALSE(ParseTime("2015-07-01").ok());
  EXPECT_FALSE(ParseTime("1e300").ok());
}

TEST(Params, Durations) {
  EXPECT_EQ(ParseDuration("15").value(), 15000);
  EXPECT_EQ(ParseDuration("0.5").value(), 500);
  EXPECT_EQ(ParseDuration("1m30s").value(), 90000);
  EXPECT_FALSE(ParseDuration("1x").ok());
  EXPECT_FALSE(ParseDuration("1e300").ok());
  // Nanoseconds, within int64 as Prometheus's and Loki's (9.2e9 s).
  EXPECT_EQ(ParseDurationNanos("0.0005").value(), 500'000);
  EXPECT_EQ(ParseDurationNanos("-0.0005").value(), -500'000);
  EXPECT_EQ(ParseDurationNanos("1m").value(), 60'000'000'000);
  EXPECT_EQ(ParseDurationNanos("9e9").value(), 9'000'000'000'000'000'000);
  EXPECT_FALSE(ParseDurationNanos("1e10").ok());
  EXPECT_FALSE(ParseDuration("1e10").ok());
}

}  // namespace
}  // namespace strata::api
