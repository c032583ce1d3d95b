#include "blocks/plan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace strata::blocks {
namespace {

constexpr int64_t kHour = 3'600'000;

BlockInfo Raw(std::string id, int64_t from_h, int64_t to_h) {
  BlockInfo b{id, from_h * kHour, to_h * kHour, 1, 0, {id}};
  return b;
}

TEST(Plan, SupersededByAHigherLevelOfTheSameResolution) {
  std::vector<BlockInfo> live = {Raw("a", 0, 2), Raw("b", 2, 4), Raw("c", 4, 6)};
  live.push_back({"ab", 0, 4 * kHour, 2, 0, {"a", "b"}});
  live.push_back({"c5m", 4 * kHour, 6 * kHour, 1, 300'000, {"c"}});  // a downsampled copy
  EXPECT_EQ(Superseded(live), (std::vector<size_t>{0, 1}));
}

TEST(Plan, ExpiredByResolution) {
  std::vector<BlockInfo> live = {Raw("old", 0, 5), Raw("new", 20, 25)};
  live.push_back({"old5m", 0, 5 * kHour, 1, 300'000, {"old"}});
  auto keep = [](int64_t res) { return res == 0 ? 10 * kHour : 0; };  // 5m kept forever
  EXPECT_EQ(Expired(live, keep, 30 * kHour), (std::vector<size_t>{0}));
}

TEST(Plan, MergesACompleteOrOverlappingWindow) {
  const std::vector<int64_t> ranges = {2 * kHour, 12 * kHour};
  // [0h, 12h) is complete once a raw block ends after it.
  std::vector<BlockInfo> live = {Raw("a", 0, 2), Raw("b", 2, 4), Raw("n", 12, 14)};
  auto m = PlanMerge(live, ranges);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->blocks, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(m->min_time, 0);
  EXPECT_EQ(m->max_time, 4 * kHour);
  // Still open and not overlapping: wait.
  live.pop_back();
  EXPECT_FALSE(PlanMerge(live, ranges).has_value());
  // Overlapping blocks merge at once.
  live[1] = Raw("b", 1, 3);
  m = PlanMerge(live, ranges);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->max_time, 3 * kHour);
  // A single block, or only downsampled ones, never merge.
  EXPECT_FALSE(PlanMerge(std::vector<BlockInfo>{Raw("a", 0, 2)}, ranges).has_value());
}

}  // namespace
}  // namespace strata::blocks
