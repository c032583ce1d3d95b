#include "tsdb/chunkenc/packed.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

namespace strata::chunkenc {
namespace {

void ExpectRoundTrip(const std::vector<Sample>& in) {
  ASSERT_TRUE(CanPack(in));
  std::string enc;
  EncodePacked(in, enc);
  std::vector<Sample> out;
  ASSERT_TRUE(DecodePacked(enc, out).ok());
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].t, in[i].t);
    EXPECT_EQ(std::bit_cast<uint64_t>(out[i].v), std::bit_cast<uint64_t>(in[i].v)) << in[i].v;
  }
}

TEST(PackedTest, RoundTripsDecimalSeriesCompactly) {
  std::mt19937_64 rng(1);
  std::vector<Sample> counter;
  std::vector<Sample> gauge;
  double c = 1e6;
  double g = 1234.56;
  for (int i = 0; i < 480; ++i) {
    int64_t t = 1'700'000'000'000 + int64_t{i} * 15'000 + static_cast<int64_t>(rng() % 3);
    c += std::floor(1000 * (0.8 + 0.4 * static_cast<double>(rng() % 1000) / 1000));
    g = std::round(g * (1 + (static_cast<double>(rng() % 1000) / 1000 - 0.5) * 0.02) * 100) / 100;
    counter.push_back({t, c});
    gauge.push_back({t, g});
  }
  ExpectRoundTrip(counter);
  ExpectRoundTrip(gauge);
  std::string enc;
  EncodePacked(counter, enc);
  EXPECT_LT(enc.size(), 480u * 16 / 10) << "9 bits per value, 3 per timestamp";
}

TEST(PackedTest, EdgeValues) {
  ExpectRoundTrip({{5, 42}});
  ExpectRoundTrip({{-10, -1.5}, {0, 0}, {7, 1e14}, {9, -900719925474099.1}});
  ExpectRoundTrip({{7, 1e15}, {9, -9007199254740991}});
  ExpectRoundTrip({{1, 0.001}, {2, 123.456789012345}, {3, 0.1}});
  ExpectRoundTrip({{INT64_MIN / 2, 1}, {INT64_MAX / 2, 2}});
  // Not decimal, but exact through the ULP correction.
  ExpectRoundTrip({{1, -0.0}, {2, 0.1 + 0.2}, {3, 1e-300}, {4, -5e-324}, {5, 3.141592653589793}});
  ExpectRoundTrip({{7, 1e15}, {9, 0.5}});
  EXPECT_FALSE(CanPack(std::vector<Sample>{{1, NAN}}));
  EXPECT_FALSE(CanPack(std::vector<Sample>{{1, INFINITY}}));
  EXPECT_FALSE(CanPack(std::vector<Sample>{{1, 1e300}}));
  EXPECT_FALSE(CanPack(std::vector<Sample>{}));
}

// Sums of decimals carry rounding noise (0.1 + 0.2 != 0.3): they still pack tightly.
TEST(PackedTest, NoisyDecimalsAndOutliersStayCompact) {
  std::mt19937_64 rng(2);
  std::vector<Sample> s;
  double v = 123.4;  // not reached exactly by the additions below
  for (int i = 0; i < 480; ++i) {
    v += static_cast<double>(rng() % 300) / 100;  // 0.00 .. 2.99
    if (i == 200) v = 0.5;                        // a counter reset
    s.push_back({int64_t{i} * 15'000, i == 0 ? 0.123456789123 : v});
  }
  ExpectRoundTrip(s);
  std::string enc;
  EncodePacked(s, enc);
  EXPECT_LT(enc.size(), 480u * 2) << "under 2 bytes per sample";
}

// A running double sum of 2-decimal increments (how many exporters keep counters) drifts
// away from the nearest decimal; the accumulated base follows it exactly. Jittered scrape
// times cost the jitter's width, not that of its differences.
TEST(PackedTest, RunningSumsAndJitteredTimesCostTheirInformation) {
  std::mt19937_64 rng(5);
  std::vector<Sample> s;
  double v = 4321.5;
  for (int i = 0; i < 480; ++i) {
    v += static_cast<double>(250 + rng() % 250) / 100;  // 2.50 .. 4.99: 8 bits
    s.push_back({1'700'000'000'000 + int64_t{i} * 15'000 + static_cast<int64_t>(rng() % 5), v});
  }
  ExpectRoundTrip(s);
  std::string enc;
  EncodePacked(s, enc);
  EXPECT_LT(enc.size(), 480u * 12 / 8) << "8 bits per value, 3 per timestamp, header";
}

// Timestamps on a grid with a missed scrape, and a long regular gap.
TEST(PackedTest, GridTimestampsWithGaps) {
  std::vector<Sample> s;
  for (int i = 0; i < 300; ++i) {
    if (i == 100) continue;
    s.push_back({int64_t{i} * 60'000 + (i > 200 ? 7 : 0), i * 0.5});
  }
  ExpectRoundTrip(s);
  ExpectRoundTrip({{1, 1}, {2, 2}, {4, 3}});
  ExpectRoundTrip({{INT64_MIN / 2, 1}, {0, 2}, {INT64_MAX / 2, 3}, {INT64_MAX, 4}});
}

TEST(PackedTest, RandomDoublesRoundTrip) {
  std::mt19937_64 rng(4);
  std::vector<Sample> s;
  for (int i = 0; i < 300; ++i) {
    double v = std::bit_cast<double>(rng());
    if (!std::isfinite(v) || std::fabs(v) >= 9e15) v = static_cast<double>(rng() % 1000) / 7;
    s.push_back({int64_t{i} * 1000 + static_cast<int64_t>(rng() % 500), v});
  }
  ExpectRoundTrip(s);
}

TEST(PackedTest, MalformedInputIsCorruptionNeverACrash) {
  std::vector<Sample> in;
  in.reserve(100);
  for (int i = 0; i < 100; ++i) in.push_back({int64_t{i} * 1000, i * 1.25});
  std::string enc;
  EncodePacked(in, enc);
  std::mt19937 rng(3);
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    std::vector<Sample> out;
    EXPECT_FALSE(DecodePacked(std::string_view(enc).substr(0, cut), out).ok()) << cut;
  }
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = enc;
    bad[rng() % bad.size()] = static_cast<char>(rng());
    std::vector<Sample> out;
    (void)DecodePacked(bad, out);  // any result but a crash or an overrun is fine
    EXPECT_LE(out.size(), kMaxPackedSamples);
  }
}

}  // namespace
}  // namespace strata::chunkenc
