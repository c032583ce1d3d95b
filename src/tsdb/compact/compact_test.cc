#include <gtest/gtest.h>

#include "base/coding.h"
#include "base/crc32c.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/compact/downsample.h"

namespace strata::tsdb::compact {
namespace {

using block::AggrSeries;

TEST(DownsampleTest, WindowsAggregateAndCounterSurvivesResets) {
  // Two 5m windows; the counter resets in the second.
  std::vector<Sample> raw = {{0, 10},      {60'000, 20},  {120'000, 30},        {299'999, 40},
                             {300'000, 5}, {360'000, 15}, {400'000, StaleNaN()}};
  AggrSeries a = DownsampleRaw(raw, kRes5m);
  ASSERT_EQ(a.count.size(), 2u);
  EXPECT_EQ(a.count[0].t, 299'999);
  EXPECT_EQ(a.count[0].v, 4);
  EXPECT_EQ(a.sum[0].v, 100);
  EXPECT_EQ(a.min[0].v, 10);
  EXPECT_EQ(a.max[0].v, 40);
  EXPECT_EQ(a.count[1].t, 360'000);  // the stale marker is dropped
  EXPECT_EQ(a.count[1].v, 2);
  EXPECT_EQ(a.sum[1].v, 20);
  // First raw sample, then the running total at each window end: 10 +10 +10 +10 = 40, then
  // the reset to 5 counts 5, then +10.
  ASSERT_EQ(a.counter.size(), 3u);
  EXPECT_EQ(a.counter[0].t, 0);
  EXPECT_EQ(a.counter[0].v, 10);
  EXPECT_EQ(a.counter[1].v, 40);
  EXPECT_EQ(a.counter[2].v, 55);
  // The increase over everything equals what rate() sees in the raw data: 30 + 5 + 10.
  EXPECT_EQ(a.counter.back().v - a.counter.front().v, 45);
}

TEST(DownsampleTest, CoarseningKeepsTotals) {
  std::vector<Sample> raw;
  double v = 0;
  for (int64_t t = 0; t < 10'800'000; t += 15'000) {
    v = (t / 15'000) % 1000 == 999 ? 0 : v + 3;
    raw.push_back({t, v});
  }
  AggrSeries fine = DownsampleRaw(raw, kRes5m);
  AggrSeries coarse = DownsampleAggr(fine, kRes1h);
  ASSERT_EQ(coarse.count.size(), 3u);
  double n = 0;
  double sum = 0;
  for (size_t i = 0; i < 3; ++i) {
    n += coarse.count[i].v;
    sum += coarse.sum[i].v;
  }
  EXPECT_EQ(n, static_cast<double>(raw.size()));
  double want = 0;
  for (const auto& s : raw) want += s.v;
  EXPECT_EQ(sum, want);
  EXPECT_EQ(coarse.counter.front().v, fine.counter.front().v);
  EXPECT_EQ(coarse.counter.back().v, fine.counter.back().v);
}

TEST(AggregateRecordTest, RoundTripAcrossRecordsAndCorruption) {
  std::vector<Sample> raw;
  for (int64_t t = 0; t < 86'400'000; t += 30'000) raw.push_back({t, static_cast<double>(t % 7)});
  AggrSeries a = DownsampleRaw(raw, kRes5m);
  ASSERT_GT(a.count.size(), 120u);
  AggrSeries back;
  std::vector<Sample> avg;
  std::vector<Sample> counter;
  for (size_t b = 0; b < a.count.size(); b += 120) {
    std::string rec;
    block::EncodeAggregateRecord(a, b, std::min<size_t>(b + 120, a.count.size()), rec);
    PutFixed32(rec, Crc32c(rec.data(), rec.size()));
    ASSERT_TRUE(block::DecodeAggregateRecord(rec, back).ok());
    ASSERT_TRUE(block::DecodeAggregate(rec, block::Aggr::kAvg, avg).ok());
    ASSERT_TRUE(block::DecodeAggregate(rec, block::Aggr::kCounter, counter).ok());
    if (b == 0) {
      rec[3] = static_cast<char>(rec[3] ^ 1);
      AggrSeries bad;
      EXPECT_EQ(block::DecodeAggregateRecord(rec, bad).code(), Status::Code::kCorruption);
      std::vector<Sample> one;
      EXPECT_EQ(block::DecodeAggregate(rec, block::Aggr::kSum, one).code(),
                Status::Code::kCorruption);
    }
  }
  EXPECT_EQ(back.count.size(), a.count.size());
  EXPECT_EQ(back.counter.size(), a.counter.size());
  for (size_t i = 0; i < a.count.size(); ++i) {
    EXPECT_EQ(back.sum[i].t, a.sum[i].t);
    EXPECT_EQ(back.sum[i].v, a.sum[i].v);
  }
  ASSERT_EQ(avg.size(), a.count.size());
  EXPECT_EQ(avg[0].v, a.sum[0].v / a.count[0].v);
  ASSERT_EQ(counter.size(), a.counter.size());
  for (size_t i = 0; i < counter.size(); ++i) EXPECT_EQ(counter[i].v, a.counter[i].v);
}

}  // namespace
}  // namespace strata::tsdb::compact
