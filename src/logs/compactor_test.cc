#include "logs/compactor.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "base/signal.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "logql/parser.h"
#include "logs/block/writer.h"
#include "logs/gateway.h"
#include "objstore/memory_bucket.h"
#include "testing/temp_dir.h"

namespace strata::logs {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kNsPerMs = 1'000'000;
// A UTC day boundary, in ms.
constexpr int64_t kDay0 = int64_t{20'000} * kDayMs;

using Streams = std::map<Labels, std::vector<Entry>>;

class LogCompactorTest : public ::testing::Test {
 protected:
  // Writes and uploads a level-1 block holding `streams`.
  void Put(const Streams& streams) {
    auto w = block::BlockWriter::Create(dir_.path() + "/b", {});
    ASSERT_TRUE(w.ok());
    for (const auto& [l, es] : streams) ASSERT_TRUE((*w)->AddStream(l, es).ok());
    auto meta = (*w)->Finish();
    ASSERT_TRUE(meta.ok());
    ASSERT_TRUE(blocks::UploadBlock(*bucket_, root_, meta->id, dir_.path() + "/b",
                                    block::BlockWriter::Files(), block::EncodeMeta(*meta))
                    .ok());
  }
  // Everything a fresh gateway serves.
  Streams Read() {
    cache::PageCache cache(16u << 20, nullptr, nullptr);
    Gateway gw(cache, {}, [this](const std::string&) { return bucket_; });
    EXPECT_TRUE(gw.Sync("t").ok());
    auto q = gw.TenantQuerier("t", INT64_MIN, INT64_MAX);
    auto set = q->Select({}, INT64_MIN, INT64_MAX, {});
    EXPECT_TRUE(set.ok());
    Streams out;
    for (size_t i = 0; i < (*set)->size(); ++i) {
      std::vector<Entry> es;
      EXPECT_TRUE((*set)->Entries(i, es).ok());
      if (!es.empty()) out[(*set)->labels(i)] = es;
    }
    return out;
  }
  std::vector<block::BlockMeta> Live() {
    std::vector<block::BlockMeta> out;
    auto listed = blocks::ListBlocks(*bucket_, root_);
    EXPECT_TRUE(listed.ok());
    for (const auto& l : *listed) {
      if (!l.complete || l.marked) continue;
      auto meta = block::DecodeMeta(*bucket_->Get(blocks::BlockPrefix(root_, l.id) + "meta.json"));
      EXPECT_TRUE(meta.ok());
      out.push_back(*meta);
    }
    return out;
  }
  Compactor Make() {
    CompactorOptions o;
    o.work_dir = dir_.path() + "/work";
    return Compactor(o, limits_, [this](const std::string&) { return bucket_; });
  }
  static Entry At(int64_t ms, std::string line) { return {ms * kNsPerMs, std::move(line), {}}; }

  testing::TempDir dir_{"log-compactor"};
  std::shared_ptr<objstore::MemoryBucket> bucket_ = std::make_shared<objstore::MemoryBucket>();
  const std::string root_ = blocks::BlocksRoot("t", Signal::kLogs);
  limits::TenantOverrides limits_;
};

// The blocks of a finished day become one; streams merge by labels, entries by time, and an
// entry stored twice (a retried push cut into two blocks) is kept once.
TEST_F(LogCompactorTest, MergesADaysBlocksIntoOne) {
  const Labels api{{"app", "api"}}, web{{"app", "web"}};
  Put({{api, {At(kDay0 + 1, "a1"), At(kDay0 + 5, "a5")}}, {web, {At(kDay0 + 2, "w2")}}});
  Put({{api, {At(kDay0 + 3, "a3"), At(kDay0 + 5, "a5")}}});
  Put({{web, {At(kDay0 + 4, "w4")}}});
  Put({{api, {At(kDay0 + kDayMs + 1, "next day")}}});
  const Streams want = {
      {api,
       {At(kDay0 + 1, "a1"), At(kDay0 + 3, "a3"), At(kDay0 + 5, "a5"),
        At(kDay0 + kDayMs + 1, "next day")}},
      {web, {At(kDay0 + 2, "w2"), At(kDay0 + 4, "w4")}},
  };
  EXPECT_EQ(Read(), want);
  Compactor c = Make();
  // The day is not over: nothing to do.
  auto stats = c.Run("t", kDay0 + kDayMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 0);
  stats = c.Run("t", kDay0 + kDayMs + int64_t{2} * 3'600'000);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 1);
  EXPECT_EQ(stats->marked, 3);
  auto live = Live();
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].level + live[1].level, 3);  // the merged day (2) and the next day's (1)
  const auto& merged = live[0].level == 2 ? live[0] : live[1];
  EXPECT_EQ(merged.sources.size(), 3u);
  EXPECT_EQ(merged.num_entries, 5u);
  EXPECT_EQ(Read(), want);
  // Retired blocks are deleted after the delay; the data stays.
  stats = c.Run("t", kDay0 + kDayMs + int64_t{4} * 3'600'000);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->deleted, 3);
  EXPECT_EQ(Read(), want);
}

// Retention per tenant and per stream selector, as Loki's retention_period and
// retention_stream: the highest priority rule wins, the shorter period on a tie.
TEST_F(LogCompactorTest, AppliesRetentionPerTenantAndPerStream) {
  const Labels debug{{"app", "debug"}, {"env", "dev"}}, api{{"app", "api"}, {"env", "dev"}},
      audit{{"app", "audit"}, {"env", "dev"}};
  auto rule = [](std::string selector, int priority, int64_t period_ms) {
    limits::StreamRetention r;
    r.selector = std::move(selector);
    r.matchers = logql::ParseMatchers(r.selector, true).value();
    r.priority = priority;
    r.period_ms = period_ms;
    return r;
  };
  limits_.defaults.retention.logs_ms = 10 * kDayMs;
  limits_.defaults.retention.log_streams = {rule(R"({env="dev"})", 1, 2 * kDayMs),
                                            rule(R"({app="audit"})", 2, 30 * kDayMs),
                                            rule(R"({app="debug"})", 1, kDayMs)};
  const int64_t now = kDay0 + 20 * kDayMs;
  // An old block: everything past retention except audit's.
  Put({{debug, {At(now - 25 * kDayMs, "d old")}},
       {api, {At(now - 25 * kDayMs, "a old")}},
       {audit, {At(now - 25 * kDayMs, "audit old")}}});
  // A block of every age.
  Put({{debug, {At(now - 3 * kDayMs, "d 3d"), At(now - kDayMs / 2, "d 12h")}},
       {api, {At(now - 3 * kDayMs, "a 3d"), At(now - kDayMs, "a 1d")}}});
  // A block entirely past retention.
  Put({{api, {At(now - 5 * kDayMs, "a 5d")}}});
  Compactor c = Make();
  auto stats = c.Run("t", now);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->rewritten, 2);
  const Streams want = {
      {audit, {At(now - 25 * kDayMs, "audit old")}},  // priority 2: 30 days
      {debug, {At(now - kDayMs / 2, "d 12h")}},       // priority 1 tie: the shorter, 1 day
      {api, {At(now - kDayMs, "a 1d")}},              // {env="dev"}: 2 days
  };
  EXPECT_EQ(Read(), want);
  // Nothing left to do: a second pass changes nothing. Passes every 5 minutes through the
  // day rewrite nothing either: retention moves in whole days.
  for (int64_t t = now; t < now + kDayMs; t += 300'000) {
    stats = c.Run("t", t);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->rewritten + stats->compacted + stats->marked, 0) << t - now;
  }
  // A day later, the 12-hour-old debug line's day has passed.
  stats = c.Run("t", now + kDayMs);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->rewritten, 1);
  Streams later = want;
  later.erase(debug);
  EXPECT_EQ(Read(), later);
}

}  // namespace
}  // namespace strata::logs
