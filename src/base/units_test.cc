#include "base/units.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(Units, Durations) {
  EXPECT_EQ(ParseDurationMillis("0").value(), 0);
  EXPECT_EQ(ParseDurationMillis("500ms").value(), 500);
  EXPECT_EQ(ParseDurationMillis("1h30m").value(), 5'400'000);
  EXPECT_EQ(ParseDurationMillis("2d").value(), 172'800'000);
  EXPECT_EQ(ParseDurationMillis("1m5s10ms").value(), 65'010);
  EXPECT_FALSE(ParseDurationMillis("").ok());
  EXPECT_FALSE(ParseDurationMillis("5").ok());
  EXPECT_FALSE(ParseDurationMillis("1s1m").ok());  // units must decrease
  EXPECT_FALSE(ParseDurationMillis("1x").ok());
  EXPECT_FALSE(ParseDurationMillis("99999999999999999999y").ok());
  EXPECT_EQ(FormatDurationMillis(5'400'000), "1h30m");
  EXPECT_EQ(FormatDurationMillis(0), "0s");
  // Prometheus's rules and words (prometheus/common model.Duration).
  EXPECT_EQ(FormatDurationMillis(90LL * 86'400'000), "90d");
  EXPECT_EQ(FormatDurationMillis(14LL * 86'400'000), "2w");
  EXPECT_EQ(FormatDurationMillis(366LL * 86'400'000), "366d");  // not 1y1d
  EXPECT_EQ(ParseDurationMillis("5minutes").status().message(),
            "unknown unit \"minutes\" in duration \"5minutes\"");
  EXPECT_EQ(ParseDurationMillis("1s1m").status().message(),
            "not a valid duration string: \"1s1m\"");
  EXPECT_EQ(ParseDurationMillis("").status().message(), "empty duration string");
  EXPECT_EQ(ParseDurationMillis("300000000y").status().message(), "duration out of range");
  EXPECT_EQ(FormatFloatG(1), "1");
  EXPECT_EQ(FormatFloatG(0.5), "0.5");
  EXPECT_EQ(FormatFloatG(100000), "100000");
  EXPECT_EQ(FormatFloatG(1e6), "1e+06");
  EXPECT_EQ(FormatFloatG(123456789), "1.23456789e+08");
  EXPECT_EQ(FormatFloatG(0.0001), "0.0001");
  EXPECT_EQ(FormatFloatG(0.00001), "1e-05");
  EXPECT_EQ(FormatFloatG(-2.5e-10), "-2.5e-10");
}

TEST(Units, GoAndPrometheusDurations) {
  int64_t ns = 0;
  EXPECT_TRUE(ParsePromOrGoDuration("1h30m", &ns));
  EXPECT_EQ(ns, 5'400'000'000'000);
  EXPECT_TRUE(ParsePromOrGoDuration("1.5s", &ns));
  EXPECT_EQ(ns, 1'500'000'000);
  EXPECT_TRUE(ParsePromOrGoDuration("-250ms", &ns));
  EXPECT_EQ(ns, -250'000'000);
  EXPECT_TRUE(ParsePromOrGoDuration("3d", &ns));
  EXPECT_EQ(ns, 259'200'000'000'000);
  EXPECT_FALSE(ParsePromOrGoDuration("5", &ns));
  EXPECT_EQ(FormatGoDuration(5'400'000'000'000), "1h30m0s");
  EXPECT_EQ(FormatGoDuration(1'500'000), "1.5ms");
  EXPECT_EQ(FormatGoDuration(2'000), "2\xC2\xB5s");
  EXPECT_EQ(FormatGoDuration(-61'000'000'000), "-1m1s");
}

TEST(Units, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(1704207845'999'999'999), "2024-01-02T15:04:05Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");

  // Instants from Python's datetime for the same wall clocks and offsets.
  Rfc3339Time t;
  ASSERT_TRUE(ParseRfc3339("2021-09-30T10:46:17.680Z", &t));
  EXPECT_EQ(t.unix_s, 1632998777);
  EXPECT_EQ(t.nanos, 680'000'000);
  EXPECT_TRUE(t.utc);
  ASSERT_TRUE(ParseRfc3339("2020-02-29t12:46:17.1234567891+02:00", &t));
  EXPECT_EQ(t.unix_s, 1582973177);
  EXPECT_EQ(t.nanos, 123'456'789);  // past the ninth digit: dropped
  EXPECT_EQ(t.offset_s, 7200);
  EXPECT_FALSE(t.utc);
  ASSERT_TRUE(ParseRfc3339("0001-01-01T00:00:00z", &t));
  EXPECT_EQ(t.unix_s, -62135596800);
  for (const char* bad : {"2021-02-29T00:00:00Z", "2021-04-31T00:00:00Z", "2021-01-01T00:00:60Z",
                          "2021-01-01 00:00:00Z", "2021-01-01T00:00:00", "2021-01-01T00:00:00.Z",
                          "2021-01-01T00:00:00+2:00", "2021-01-01T00:00:00Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(bad, &t)) << bad;
  }
}

TEST(Units, Bytes) {
  EXPECT_EQ(ParseBytes("1024").value(), 1024u);
  EXPECT_EQ(ParseBytes("64MiB").value(), 64u << 20);
  EXPECT_EQ(ParseBytes("10MB").value(), 10'000'000u);
  EXPECT_FALSE(ParseBytes("MiB").ok());
  EXPECT_FALSE(ParseBytes("-1").ok());
  EXPECT_FALSE(ParseBytes("1TiB").ok());
}

}  // namespace
}  // namespace strata
