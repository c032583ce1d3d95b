#include "logql/drain.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <fstream>

namespace strata::logql {
namespace {

TEST(Drain, VaryingTokensBecomeWildcards) {
  Drain d;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(d.Add(fmt::format("user u{} logged in from 10.0.0.{}", i % 3, i)), 0);
    EXPECT_EQ(d.Add(fmt::format("level=info msg=done took={}ms status={}", i, 200 + i % 2)), 1);
  }
  EXPECT_EQ(d.Pattern(0), "user <_> logged in from <_>");
  EXPECT_EQ(d.Pattern(1), "level=info msg=done took=<_> status=<_>");
  // Too few tokens: left out. A key and its value that both vary: one wildcard.
  EXPECT_EQ(d.Add("a b c"), -1);
  EXPECT_EQ(d.Add("x k1=v1 k2=v2 k3=v3"), 2);
  EXPECT_EQ(d.Add("x k1=v1 z2=w2 k3=v3"), 2);
  EXPECT_EQ(d.Pattern(2), "x k1=v1 <_> k3=v3");
  EXPECT_EQ(d.size(), 3u);
}

// Real logs: every line the algorithm takes matches its cluster's pattern read as a regex
// (<_> standing for any text), and the 2,000 lines fall into far fewer patterns.
TEST(Drain, EveryRealLineMatchesItsPattern) {
  for (const char* file : {"OpenSSH_2k.log", "HDFS_2k.log", "Apache_2k.log"}) {
    std::ifstream in(std::string(STRATA_TESTDATA_LOGS) + "/" + file);
    if (!in) GTEST_SKIP() << "no test logs at " << STRATA_TESTDATA_LOGS;
    Drain d;
    std::vector<std::pair<int, std::string>> lines;
    std::string line;
    while (std::getline(in, line)) lines.emplace_back(d.Add(line), line);
    ASSERT_EQ(lines.size(), 2000u);
    EXPECT_LT(d.size(), 100u) << file;
    for (const auto& [k, l] : lines) {
      if (k < 0) continue;
      std::string re;
      std::string pattern = d.Pattern(static_cast<size_t>(k));
      for (size_t at = 0;;) {
        size_t w = pattern.find(kDrainWildcard, at);
        re += RE2::QuoteMeta(pattern.substr(at, w - at));
        if (w == std::string::npos) break;
        re += ".*?";
        at = w + kDrainWildcard.size();
      }
      std::string trimmed = l.substr(0, l.find_last_not_of(" \t") + 1);
      EXPECT_TRUE(RE2::FullMatch(trimmed, re)) << file << ": " << l << "\n  " << pattern;
    }
  }
}

}  // namespace
}  // namespace strata::logql
