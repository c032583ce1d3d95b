#include "tsdb/chunkenc/histogram.h"

#include <gtest/gtest.h>

#include <cmath>

namespace strata::chunkenc {
namespace {

histogram::FloatHistogram Make(double scale) {
  histogram::FloatHistogram h;
  h.schema = 3;
  h.zero_threshold = 0.001;
  h.zero_count = 2 * scale;
  h.count = 10 * scale;
  h.sum = 17.25 * scale;
  h.positive_spans = {{-2, 2}, {3, 1}};
  h.positive_buckets = {1 * scale, 3 * scale, 2 * scale};
  h.negative_spans = {{1, 2}};
  h.negative_buckets = {1 * scale, 1 * scale};
  return h;
}

void ExpectSameBits(const histogram::FloatHistogram& a, const histogram::FloatHistogram& b) {
  EXPECT_TRUE(a.Equals(b)) << a.ToString() << " vs " << b.ToString();
  EXPECT_EQ(a.hint, b.hint);
  EXPECT_EQ(a.positive_spans, b.positive_spans);
  EXPECT_EQ(a.negative_spans, b.negative_spans);
}

TEST(FloatHistogramChunk, RoundTripsValuesHintsAndStaleMarkers) {
  std::vector<uint8_t> bytes;
  std::vector<histogram::FloatHistogram> in;
  in.reserve(50);
  for (int i = 0; i < 50; ++i) in.push_back(Make(1 + i * 0.5));
  in[3].hint = histogram::ResetHint::kGauge;
  in[7].sum = std::nan("");
  in[9].sum = StaleNaN();
  FloatHistogramAppender app(bytes, in[0]);
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_TRUE(app.Append(1000 + static_cast<int64_t>(i) * 15000 + (i == 5 ? 3 : 0), in[i]));
  }
  EXPECT_FALSE(app.Append(1000, in[0]));  // not after the last sample
  histogram::FloatHistogram other = Make(1);
  other.positive_spans = {{-2, 3}};
  EXPECT_FALSE(app.SameLayout(other));
  EXPECT_FALSE(app.Append(10'000'000, other));
  // A 5-span layout shared by 50 samples compresses well below raw doubles (8 per value).
  EXPECT_LT(bytes.size(), in.size() * 8 * 8 / 2);

  FloatHistogramIterator it(bytes);
  size_t n = 0;
  while (it.Next()) {
    EXPECT_EQ(it.t(), 1000 + static_cast<int64_t>(n) * 15000 + (n == 5 ? 3 : 0));
    ExpectSameBits(in[n], it.h());
    ++n;
  }
  EXPECT_FALSE(it.corrupt());
  EXPECT_EQ(n, in.size());
  EXPECT_TRUE(IsStaleNaN(in[9].sum));
}

TEST(FloatHistogramChunk, CustomBucketsAndEmptyHistograms) {
  histogram::FloatHistogram h;
  h.schema = histogram::kCustomBucketsSchema;
  h.custom_values = {0.1, 0.5, 2.5};
  h.positive_spans = {{0, 4}};
  h.positive_buckets = {1, 0, 4, 2};
  h.count = 7;
  std::vector<uint8_t> bytes;
  FloatHistogramAppender app(bytes, h);
  ASSERT_TRUE(app.Append(-5, h));
  FloatHistogramIterator it(bytes);
  ASSERT_TRUE(it.Next());
  ExpectSameBits(h, it.h());
  EXPECT_EQ(it.h().custom_values, h.custom_values);
  EXPECT_EQ(it.t(), -5);

  std::vector<uint8_t> empty_bytes;
  histogram::FloatHistogram empty;
  FloatHistogramAppender empty_app(empty_bytes, empty);
  ASSERT_TRUE(empty_app.Append(1, empty));
  FloatHistogramIterator e(empty_bytes);
  ASSERT_TRUE(e.Next());
  ExpectSameBits(empty, e.h());
}

TEST(FloatHistogramChunk, RefusesWhatItCannotHold) {
  histogram::FloatHistogram h = Make(1);
  h.positive_buckets.push_back(1);  // spans cover 3 buckets, 4 given
  std::vector<uint8_t> bytes;
  FloatHistogramAppender app(bytes, h);
  EXPECT_FALSE(app.Append(1, h));
}

TEST(FloatHistogramChunk, TruncatedOrDamagedChunksNeverReadOutOfBounds) {
  std::vector<uint8_t> bytes;
  histogram::FloatHistogram h = Make(1);
  FloatHistogramAppender app(bytes, h);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(app.Append(int64_t{i} * 1000, Make(i + 1)));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(cut));
    FloatHistogramIterator it(part);
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_LT(n, 10);
    EXPECT_TRUE(it.corrupt()) << cut;
  }
  // A layout claiming more buckets than allowed is refused before anything is allocated.
  // Header: one sample; schema 0, threshold 0, then 2^28-1 positive spans.
  std::vector<uint8_t> huge = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
  FloatHistogramIterator it(huge);
  EXPECT_FALSE(it.Next());
  EXPECT_TRUE(it.corrupt());
}

}  // namespace
}  // namespace strata::chunkenc
