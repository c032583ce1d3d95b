#include "tsdb/wal_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::tsdb {
namespace {

TEST(WalRecord, SeriesAndSamplesRoundTrip) {
  std::string payload;
  std::vector<LabelView> labels = {{"__name__", "up"}, {"job", "node"}};
  index::EncodeSeries(payload, 7, labels);
  std::vector<index::RefSeries> series;
  ASSERT_TRUE(index::DecodeSeries(payload, series).ok());
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].ref, 7u);
  EXPECT_EQ(series[0].labels, labels);
  payload.clear();
  EncodeSample(payload, {3, -1000, 2.5});
  EncodeSample(payload, {4, 1'700'000'000'000, -0.0});
  std::vector<RefSample> samples;
  ASSERT_TRUE(DecodeSamples(payload, samples).ok());
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].t, -1000);
  EXPECT_EQ(samples[1].ref, 4u);
  for (size_t cut = 1; cut < payload.size(); ++cut) {
    std::vector<RefSample> partial;
    // A payload cut inside a sample is malformed; a cut at a sample boundary is not.
    Status st = DecodeSamples(payload.substr(0, cut), partial);
    EXPECT_TRUE(!st.ok() || partial.size() == 1u) << cut;
  }
}

TEST(WalRecord, ExemplarsRoundTrip) {
  std::string payload;
  const Labels a = {{"span_id", "01"}, {"trace_id", "ab"}};
  EncodeExemplar(payload, 3, -5, 1.5, ViewOf(a));
  EncodeExemplar(payload, 9, 1'700'000'000'000, 0, {});
  std::vector<RefExemplar> got;
  ASSERT_TRUE(DecodeExemplars(payload, got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ref, 3u);
  EXPECT_EQ(got[0].t, -5);
  EXPECT_EQ(got[0].v, 1.5);
  EXPECT_EQ(got[0].labels, ViewOf(a));
  EXPECT_EQ(got[1].ref, 9u);
  EXPECT_TRUE(got[1].labels.empty());
  for (size_t cut = 1; cut < payload.size(); ++cut) {
    std::vector<RefExemplar> partial;
    Status st = DecodeExemplars(payload.substr(0, cut), partial);
    EXPECT_TRUE(!st.ok() || partial.size() == 1u) << cut;
  }
}

}  // namespace
}  // namespace strata::tsdb
