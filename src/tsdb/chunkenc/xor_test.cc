#include "tsdb/chunkenc/xor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

namespace strata::chunkenc {
namespace {

using Samples = std::vector<std::pair<int64_t, double>>;

Samples RoundTrip(const Samples& in, std::vector<uint8_t>* bytes_out = nullptr) {
  std::vector<uint8_t> bytes;
  XorAppender app(bytes);
  for (auto [t, v] : in) EXPECT_TRUE(app.Append(t, v)) << "t=" << t;
  Samples out;
  XorIterator it(bytes);
  while (it.Next()) out.emplace_back(it.t(), it.v());
  EXPECT_FALSE(it.corrupt());
  if (bytes_out) *bytes_out = bytes;
  return out;
}

void ExpectSameBits(const Samples& a, const Samples& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(a[i].second), std::bit_cast<uint64_t>(b[i].second)) << i;
  }
}

// Prometheus's appender, reopening a chunk of one sample, may write a "reuse the window"
// control before any window was set; its reader takes the whole 64 bits then, and so must we.
// Built by hand: 2 samples; t=0 (zigzag uvarint 0), v=0.0; delta 1; control 1,0; 64 bits
// of 1.0's pattern (0x3FF0...).
// WriteBits writes what as many WriteBit calls write, from every starting bit position, and
// BitReader reads it back.
TEST(BitStream, WriteBitsMatchesBitByBitWrites) {
  std::mt19937_64 rng(3);
  std::vector<uint8_t> fast, slow;
  BitWriter wf(fast, 0), ws(slow, 0);
  std::vector<std::pair<uint64_t, int>> written;
  for (int i = 0; i < 5000; ++i) {
    const int n = static_cast<int>(rng() % 65);  // 0..64
    const uint64_t v = rng();                    // bits above n must be ignored
    wf.WriteBits(v, n);
    for (int b = n - 1; b >= 0; --b) ws.WriteBit(((v >> b) & 1) != 0);
    written.push_back({n == 64 ? v : v & ((uint64_t{1} << n) - 1), n});
    ASSERT_EQ(fast, slow) << "after write " << i << " of " << n << " bits";
    ASSERT_EQ(wf.free_bits(), ws.free_bits());
  }
  BitReader r(fast);
  for (const auto& [v, n] : written) ASSERT_EQ(r.ReadBits(n), v);
  EXPECT_FALSE(r.overflow());
}

TEST(XorChunk, ReuseBeforeAnyWindowReadsAllBits) {
  std::vector<uint8_t> bytes = {0, 2, 0};
  bytes.insert(bytes.end(), 8, 0);  // v = 0.0
  bytes.push_back(1);               // delta 1 ms
  // Bits: 1 0, then 0x3FF0000000000000 (64 bits), then padding.
  uint64_t v = 0x3FF0000000000000ULL;
  std::vector<bool> bits = {true, false};
  for (int i = 63; i >= 0; --i) bits.push_back(((v >> i) & 1) != 0);
  while (bits.size() % 8 != 0) bits.push_back(false);
  for (size_t i = 0; i < bits.size(); i += 8) {
    uint8_t b = 0;
    for (size_t k = 0; k < 8; ++k) b = static_cast<uint8_t>((b << 1) | (bits[i + k] ? 1 : 0));
    bytes.push_back(b);
  }
  XorIterator it(bytes);
  ASSERT_TRUE(it.Next());
  EXPECT_EQ(it.v(), 0.0);
  ASSERT_TRUE(it.Next()) << it.corrupt();
  EXPECT_EQ(it.t(), 1);
  EXPECT_EQ(it.v(), 1.0);
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.corrupt());
}

TEST(XorChunk, EmptyChunkHasNoSamples) {
  std::vector<uint8_t> bytes;
  XorAppender app(bytes);
  XorIterator it(bytes);
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.corrupt());
}

TEST(XorChunk, RegularScrapeCompressesWell) {
  Samples in;
  double v = 1000;
  for (int i = 0; i < kSamplesPerChunk; ++i) {
    in.emplace_back(1'700'000'000'000 + int64_t{i} * 15'000, v);
    v += 7;
  }
  std::vector<uint8_t> bytes;
  ExpectSameBits(RoundTrip(in, &bytes), in);
  // A regular counter costs about two bytes a sample or less.
  EXPECT_LT(bytes.size(), 2 * in.size());
}

TEST(XorChunk, SpecialValuesRoundTripBitExact) {
  constexpr double kStale = std::bit_cast<double>(uint64_t{0x7ff0000000000002});  // stale marker
  Samples in = {{0, std::numeric_limits<double>::quiet_NaN()},
                {1, std::numeric_limits<double>::infinity()},
                {2, -std::numeric_limits<double>::infinity()},
                {3, kStale},
                {4, 0.0},
                {5, -0.0},
                {6, std::numeric_limits<double>::denorm_min()},
                {7, std::numeric_limits<double>::max()},
                {8, std::numeric_limits<double>::lowest()},
                {9, kStale},
                {10, 1.5}};
  ExpectSameBits(RoundTrip(in), in);
}

TEST(XorChunk, EqualOrDecreasingTimestampsRejected) {
  std::vector<uint8_t> bytes;
  XorAppender app(bytes);
  ASSERT_TRUE(app.Append(100, 1));
  auto before = bytes;
  EXPECT_FALSE(app.Append(100, 2));
  EXPECT_FALSE(app.Append(99, 2));
  EXPECT_EQ(bytes, before);
  EXPECT_TRUE(app.Append(101, 2));
  EXPECT_EQ(app.num_samples(), 2);
}

TEST(XorChunk, LargeTimestampJumpsUseEveryBucket) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  Samples in = {{kMin, 1},
                {kMin + 1, 2},
                {kMin + 2, 3},
                {kMin + 10, 4},
                {kMin + 9000, 5},
                {kMin + 80000, 6},
                {kMin + 600000, 7},
                {-5, 8},
                {0, 9},
                {1LL << 40, 10},
                {std::numeric_limits<int64_t>::max(), 11}};
  ExpectSameBits(RoundTrip(in), in);
}

TEST(XorChunk, RandomRoundTrip) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    Samples in;
    int64_t t = static_cast<int64_t>(rng() % 2'000'000'000'000ULL) - 1'000'000'000'000LL;
    int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 4) {
        case 0:
          t += 1 + static_cast<int64_t>(rng() % 30);
          break;
        case 1:
          t += 15000;
          break;
        case 2:
          t += 1 + static_cast<int64_t>(rng() % 10'000'000);
          break;
        default:
          t += 1 + static_cast<int64_t>(rng() % (1ULL << 40));
          break;
      }
      double v;
      switch (rng() % 4) {
        case 0:
          v = static_cast<double>(rng() % 100);
          break;
        case 1:
          v = std::bit_cast<double>(rng());
          break;
        case 2:
          v = std::round(std::ldexp(static_cast<double>(rng() % 10000), -3) * 8) / 8;
          break;
        default:
          v = in.empty() ? 0 : in.back().second;
          break;
      }
      in.emplace_back(t, v);
    }
    ExpectSameBits(RoundTrip(in), in);
  }
}

TEST(XorChunk, TruncatedChunkIsCorruptNotCrash) {
  Samples in;
  for (int i = 0; i < 50; ++i) in.emplace_back(i * 1000 + (i % 3), i * 1.25);
  std::vector<uint8_t> bytes;
  RoundTrip(in, &bytes);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::span<const uint8_t> prefix(bytes.data(), cut);
    XorIterator it(prefix);
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_TRUE(it.corrupt() || n == it.num_samples()) << "cut=" << cut;
    EXPECT_LE(n, 50);
  }
}

TEST(XorChunk, GarbageNeverReadsOutOfBounds) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> bytes(rng() % 64);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    XorIterator it(bytes);
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_LE(n, 0xFFFF);
  }
}

}  // namespace
}  // namespace strata::chunkenc
