#include <gtest/gtest.h>

#include <limits>

#include "base/coding.h"
#include "base/crc32c.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/format.h"
#include "tsdb/chunkenc/xor.h"
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

void ExpectSameAggregates(const AggrSeries& got, const AggrSeries& want) {
  const std::vector<Sample> AggrSeries::*parts[] = {&AggrSeries::count, &AggrSeries::sum,
                                                    &AggrSeries::min, &AggrSeries::max,
                                                    &AggrSeries::counter};
  for (auto part : parts) {
    ASSERT_EQ((got.*part).size(), (want.*part).size());
    for (size_t i = 0; i < (want.*part).size(); ++i) {
      EXPECT_EQ((got.*part)[i].t, (want.*part)[i].t);
      EXPECT_EQ((got.*part)[i].v, (want.*part)[i].v);
    }
  }
}

TEST(AggregateRecordTest, PacksWhatItCanAndFallsBackToXor) {
  // An infinity makes the second window's sum and max, and the counter from there on,
  // unpackable: those chunks fall back to XOR. Values that are not all decimal (1/3) are
  // packed, kept exactly through ULP corrections.
  std::vector<Sample> raw = {{0, 5},
                             {60'000, 7.25},
                             {360'000, 1.0 / 3},
                             {420'000, std::numeric_limits<double>::infinity()}};
  AggrSeries a = DownsampleRaw(raw, kRes5m);
  std::string rec;
  block::EncodeAggregateRecord(a, 0, a.count.size(), rec);
  ASSERT_EQ(static_cast<uint8_t>(rec[0]), block::kEncAggregateTagged);
  ByteReader r(std::string_view(rec).substr(1));
  std::vector<uint8_t> tags;
  std::string_view chunk;
  while (r.ReadLengthPrefixed(&chunk)) tags.push_back(static_cast<uint8_t>(chunk[0]));
  EXPECT_EQ(tags, (std::vector<uint8_t>{block::kEncPacked, block::kEncXor, block::kEncPacked,
                                        block::kEncXor, block::kEncXor}));
  PutFixed32(rec, Crc32c(rec.data(), rec.size()));
  AggrSeries back;
  ASSERT_TRUE(block::DecodeAggregateRecord(rec, back).ok());
  ExpectSameAggregates(back, a);
}

TEST(AggregateRecordTest, ReadsRecordsOfFiveXorChunks) {
  // Encoding 2, written before chunks carried their own encoding byte.
  std::vector<Sample> raw;
  for (int64_t t = 0; t < 3'600'000; t += 15'000) raw.push_back({t, static_cast<double>(t) / 7});
  AggrSeries a = DownsampleRaw(raw, kRes5m);
  std::string rec(1, static_cast<char>(block::kEncAggregate));
  for (const auto* part : {&a.count, &a.sum, &a.min, &a.max, &a.counter}) {
    std::vector<uint8_t> chunk;
    chunkenc::XorAppender app(chunk);
    for (const Sample& s : *part) app.Append(s.t, s.v);
    PutUvarint(rec, chunk.size());
    rec.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  }
  PutFixed32(rec, Crc32c(rec.data(), rec.size()));
  AggrSeries back;
  ASSERT_TRUE(block::DecodeAggregateRecord(rec, back).ok());
  ExpectSameAggregates(back, a);
  std::vector<Sample> max;
  ASSERT_TRUE(block::DecodeAggregate(rec, block::Aggr::kMax, max).ok());
  EXPECT_EQ(max.size(), a.max.size());
}

}  // namespace
}  // namespace strata::tsdb::compact
