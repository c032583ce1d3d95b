#include "proto/exposition.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/sample.h"

namespace strata::proto {
namespace {

TEST(Exposition, ParsesWhatExportersServe) {
  auto e = ParseExposition(
      "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
      "# TYPE node_cpu_seconds_total counter\n"
      "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1.5e+06\n"
      "# a comment\n"
      "\n"
      "go_gc_duration_seconds{quantile=\"0.5\"} NaN\n"
      "http_requests_total{path=\"/a\\\"b\\\\c\\nd\", code=\"200\",} 7 1700000000123\r\n"
      "  up +Inf\n"
      "temp -Inf\n"
      "colon:metric 0x1p-2\n",
      100);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->samples.size(), 6u);
  EXPECT_EQ(e->types.at("node_cpu_seconds_total"), MetricType::kCounter);
  EXPECT_EQ(e->help.at("node_cpu_seconds_total"), "Seconds the CPUs spent in each mode.");
  const auto& cpu = e->samples[0];
  EXPECT_EQ(cpu.labels,
            (Labels{{"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}}));
  EXPECT_EQ(cpu.value, 1.5e6);
  EXPECT_FALSE(cpu.timestamp_ms.has_value());
  EXPECT_TRUE(std::isnan(e->samples[1].value));
  EXPECT_FALSE(IsStaleNaN(e->samples[1].value));
  const auto& req = e->samples[2];
  EXPECT_EQ(req.labels[2].name, "path");
  EXPECT_EQ(req.labels[2].value, "/a\"b\\c\nd");
  EXPECT_EQ(req.timestamp_ms, 1700000000123);
  EXPECT_EQ(e->samples[3].value, HUGE_VAL);
  EXPECT_EQ(e->samples[4].value, -HUGE_VAL);
  EXPECT_EQ(e->samples[5].labels[0].value, "colon:metric");
  EXPECT_EQ(e->samples[5].value, 0.25);
}

TEST(Exposition, ErrorsNameTheLine) {
  for (std::string_view bad :
       {"a{b=\"c\" 1", "a{b=c} 1", "a{b=\"c\",b=\"d\"} 1", "a", "a x", "a 1 2 3", "a 1 x",
        "{b=\"c\"} 1", "a{b=\"\\t\"} 1", "a{__name__=\"x\"} 1", "a{1b=\"c\"} 1"}) {
    auto e = ParseExposition(std::string("ok 1\n") + std::string(bad) + "\n", 100);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.status().message().find("exposition line 2"), std::string::npos)
        << e.status().message();
  }
  auto big = ParseExposition("a 1\nb 2\nc 3\n", 2);
  EXPECT_EQ(big.status().code(), Status::Code::kTooLarge);
  EXPECT_TRUE(ParseExposition("a 1\n# EOF\ngarbage here\n", 10).ok());
}

}  // namespace
}  // namespace strata::proto
