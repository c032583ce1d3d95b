#include "base/histogram.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <vector>

namespace strata::histogram {
namespace {

// Expected values below are cases of Prometheus 3.5's model/histogram tests (the reference
// implementation), compared as those tests compare them: both sides compacted.
FloatHistogram H(double zt, double zc, double count, double sum, std::vector<Span> ps,
                 std::vector<double> pb, std::vector<Span> ns = {}, std::vector<double> nb = {},
                 int32_t schema = 0) {
  FloatHistogram h;
  h.schema = schema;
  h.zero_threshold = zt;
  h.zero_count = zc;
  h.count = count;
  h.sum = sum;
  h.positive_spans = std::move(ps);
  h.positive_buckets = std::move(pb);
  h.negative_spans = std::move(ns);
  h.negative_buckets = std::move(nb);
  return h;
}

void ExpectSame(FloatHistogram want, FloatHistogram got) {
  want.Compact();
  got.Compact();
  EXPECT_TRUE(want.Equals(got)) << "want " << want.ToString() << "\n got " << got.ToString();
  EXPECT_EQ(want.schema, got.schema);
}

TEST(HistogramTest, BucketBoundsAsPrometheus) {
  EXPECT_EQ(BucketBound(0, 0, {}), 1);
  EXPECT_EQ(BucketBound(1, 0, {}), 2);
  EXPECT_EQ(BucketBound(-1, 0, {}), 0.5);
  EXPECT_EQ(BucketBound(1, 1, {}), 0.7071067811865475 * 2);  // Prometheus's table, not sqrt(2)
  EXPECT_EQ(BucketBound(1, -2, {}), 16);
  EXPECT_EQ(BucketBound(1024, 0, {}), DBL_MAX);  // the bucket below +Inf
  EXPECT_EQ(BucketBound(1025, 0, {}), HUGE_VAL);
  std::vector<double> custom{1, 2.5};
  EXPECT_EQ(BucketBound(-1, kCustomBucketsSchema, custom), -HUGE_VAL);
  EXPECT_EQ(BucketBound(1, kCustomBucketsSchema, custom), 2.5);
  EXPECT_EQ(BucketBound(2, kCustomBucketsSchema, custom), HUGE_VAL);
}

TEST(HistogramTest, AddAsPrometheus) {
  struct Case {
    const char* name;
    FloatHistogram a, b, want;
  };
  std::vector<Case> cases = {
      {"same bucket layout",
       H(0.01, 11, 30, 2.345, {{-2, 2}, {1, 3}}, {1, 0, 3, 4, 7}, {{3, 2}, {3, 2}}, {3, 1, 5, 6}),
       H(0.01, 8, 21, 1.234, {{-2, 2}, {1, 3}}, {0, 0, 2, 3, 6}, {{3, 7}}, {1, 1, 0, 0, 0, 4, 4}),
       H(0.01, 19, 51, 3.579, {{-2, 2}, {1, 1}, {0, 2}}, {1, 0, 5, 7, 13}, {{3, 5}, {0, 2}},
         {4, 2, 0, 0, 0, 9, 10})},
      {"schema change",
       H(0.01, 8, 21, 1.234, {{-1, 4}, {0, 3}}, {5, 4, 2, 3, 6, 2, 5}, {{4, 2}, {1, 2}},
         {1, 1, 4, 4}, 0),
       H(0.01, 11, 30, 2.345, {{-4, 3}, {5, 5}}, {1, 0, 0, 3, 2, 2, 3, 4}, {{6, 3}, {6, 4}},
         {3, 0.5, 0.5, 2, 3, 2, 4}, 1),
       H(0.01, 19, 51, 3.579, {{-2, 5}, {0, 3}}, {1, 5, 4, 2, 6, 10, 9, 5}, {{3, 3}, {1, 3}},
         {3, 2, 1, 4, 9, 6}, 0)},
      {"larger zero bucket in one histogram",
       H(1, 17, 21, 1.234, {{1, 2}, {0, 3}}, {2, 3, 6, 2, 5}, {{4, 2}, {1, 2}}, {1, 1, 4, 4}),
       H(0.01, 11, 30, 2.345, {{-2, 2}, {2, 3}}, {1, 0, 3, 4, 7}, {{3, 2}, {3, 2}}, {3, 1, 5, 6}),
       H(1, 29, 51, 3.579, {{1, 2}, {0, 3}}, {2, 6, 10, 9, 5}, {{3, 3}, {1, 3}},
         {3, 2, 1, 4, 9, 6})},
      {"larger zero threshold inside a populated bucket of the other",
       H(0.2, 17, 21, 1.234, {{1, 2}, {0, 3}}, {2, 3, 6, 2, 5}, {{4, 2}, {1, 2}}, {1, 1, 4, 4}),
       H(0.01, 11, 30, 2.345, {{-2, 2}, {2, 3}}, {1, 0, 3, 4, 7}, {{3, 2}, {3, 2}}, {3, 1, 5, 6}),
       H(0.25, 29, 51, 3.579, {{-1, 1}, {1, 5}}, {0, 2, 6, 10, 9, 5}, {{3, 3}, {1, 3}},
         {3, 2, 1, 4, 9, 6})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (bool swap : {false, true}) {
      FloatHistogram got = swap ? c.b : c.a;
      ASSERT_EQ(got.Add(swap ? c.a : c.b), CombineError::kNone);
      ExpectSame(c.want, got);
    }
  }
}

TEST(HistogramTest, SubUndoesAddAndCombineRefusesMixedLayouts) {
  FloatHistogram a =
      H(0.01, 11, 30, 2.5, {{-2, 2}, {1, 3}}, {1, 0, 3, 4, 7}, {{3, 2}, {3, 2}}, {3, 1, 5, 6});
  FloatHistogram b = H(0.01, 8, 21, 1.25, {{-1, 2}}, {2, 3}, {{4, 1}}, {2});
  FloatHistogram sum = a;
  ASSERT_EQ(sum.Add(b), CombineError::kNone);
  ASSERT_EQ(sum.Sub(b), CombineError::kNone);
  ExpectSame(a, sum);

  FloatHistogram custom = H(0, 0, 3, 1, {{0, 2}}, {1, 2});
  custom.schema = kCustomBucketsSchema;
  custom.custom_values = {1, 2};
  FloatHistogram before = a;
  EXPECT_EQ(a.Add(custom), CombineError::kMixedSchemas);
  EXPECT_TRUE(a.Equals(before));  // unchanged on an error
  FloatHistogram other = custom;
  other.custom_values = {1, 3};
  EXPECT_EQ(other.Sub(custom), CombineError::kIncompatibleBounds);
  FloatHistogram twice = custom;
  ASSERT_EQ(twice.Add(custom), CombineError::kNone);
  EXPECT_EQ(twice.positive_buckets, (std::vector<double>{2, 4}));
}

TEST(HistogramTest, AddKeepsGaugeAndForgetsDisagreeingHints) {
  FloatHistogram g = H(0, 0, 1, 1, {{0, 1}}, {1});
  FloatHistogram c = g;
  g.hint = ResetHint::kGauge;
  c.hint = ResetHint::kNotReset;
  FloatHistogram x = c;
  x.Add(g);
  EXPECT_EQ(x.hint, ResetHint::kGauge);
  FloatHistogram r = c;
  r.hint = ResetHint::kReset;
  r.Add(c);
  EXPECT_EQ(r.hint, ResetHint::kUnknown);
  c.Add(c);
  EXPECT_EQ(c.hint, ResetHint::kNotReset);
}

TEST(HistogramTest, DetectResetAsPrometheus) {
  const FloatHistogram base =
      H(0.01, 5.5, 3493.3, 2349209.324, {{-2, 2}, {1, 3}}, {1, 1.23, 3.3, 4.2, 0.1},
        {{3, 2}, {3, 2}}, {3.1, 3, 1.234e5, 1000});
  const FloatHistogram fine = H(0.01, 5.5, 3493.3, 2349209.324, {{-5, 4}, {2, 6}},
                                {0.4, 0.6, 1, 0.23, 2, 1.3, 1.2, 3, 0.05, 0.05}, {{5, 4}, {6, 4}},
                                {2, 1.1, 2, 1, 0.234e5, 1e5, 500, 500}, 1);
  auto with = [&](auto change) {
    FloatHistogram h = base;
    change(h);
    return h;
  };
  struct Case {
    const char* name;
    FloatHistogram previous, current;
    bool reset;
  };
  std::vector<Case> cases = {
      {"zero values", FloatHistogram{}, FloatHistogram{}, false},
      {"count goes down", base, with([](FloatHistogram& h) { h.count = 3000; }), true},
      {"sum goes down", base, with([](FloatHistogram& h) { h.sum = 1; }), false},
      {"one positive bucket goes down", base,
       with([](FloatHistogram& h) { h.positive_buckets[2] = 3.2; }), true},
      {"one negative bucket goes down", base,
       with([](FloatHistogram& h) { h.negative_buckets[3] = 999; }), true},
      {"a populated bucket disappears", base, with([](FloatHistogram& h) {
         h.positive_spans = {{-2, 2}, {1, 2}};
         h.positive_buckets = {1, 1.23, 3.3, 4.2};
       }),
       true},
      {"zero threshold decreases", base, with([](FloatHistogram& h) { h.zero_threshold = 0.009; }),
       true},
      {"zero threshold covers existing buckets", base, with([](FloatHistogram& h) {
         h.zero_threshold = 1;
         h.zero_count = 7.73;
         h.positive_spans = {{1, 3}};
         h.positive_buckets = {3.3, 4.2, 0.1};
       }),
       false},
      {"zero threshold into the middle of a bucket", base,
       with([](FloatHistogram& h) { h.zero_threshold = 0.3; }), true},
      {"schema increases", base, fine, true},
      {"schema decreases", fine, base, false},
      {"schema decreases and a bucket goes down", fine,
       with([](FloatHistogram& h) { h.positive_buckets[2] = 2.3; }), true},
      {"schema decreases and a bucket goes up", fine,
       with([](FloatHistogram& h) { h.positive_buckets[2] = 4.3; }), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.current.DetectReset(c.previous), c.reset) << c.name;
  }
  FloatHistogram hinted = base;
  hinted.hint = ResetHint::kNotReset;
  hinted.count = 0;
  EXPECT_FALSE(hinted.DetectReset(base));
}

TEST(HistogramTest, CopyToSchemaMergesBuckets) {
  // Schema 1 buckets -5..-2 and 1..6 merge pairwise into schema 0's -2..-1 and 1..3.
  FloatHistogram fine = H(0.01, 5.5, 10, 2, {{-5, 4}, {2, 6}},
                          {0.4, 0.6, 1, 0.25, 2, 1.5, 1.25, 3, 0.5, 0.5}, {}, {}, 1);
  FloatHistogram coarse = fine.CopyToSchema(0);
  EXPECT_EQ(coarse.schema, 0);
  EXPECT_EQ(coarse.positive_spans, (std::vector<Span>{{-2, 2}, {1, 3}}));
  EXPECT_EQ(coarse.positive_buckets, (std::vector<double>{1, 1.25, 3.5, 4.25, 1}));
}

TEST(HistogramTest, AllBucketsClipToTheZeroBucket) {
  // Schema 0: positive idx 0 is (0.5,1], idx -1 is (0.25,0.5]; a zero threshold of 0.3 clips.
  FloatHistogram h = H(0.3, 2, 9, 1, {{-1, 2}}, {1, 3}, {{0, 1}}, {3});
  std::vector<Bucket> all = h.AllBuckets();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].lower, -1);
  EXPECT_EQ(all[0].upper, -0.5);
  EXPECT_TRUE(all[0].lower_inclusive);
  EXPECT_FALSE(all[0].upper_inclusive);
  EXPECT_EQ(all[1].lower, -0.3);  // the zero bucket
  EXPECT_EQ(all[1].count, 2);
  EXPECT_TRUE(all[1].lower_inclusive && all[1].upper_inclusive);
  EXPECT_EQ(all[2].lower, 0.3);  // (0.25,0.5] clipped
  EXPECT_EQ(all[2].upper, 0.5);
  EXPECT_EQ(all[3].upper, 1);
  std::vector<Bucket> rev = h.AllBucketsReverse();
  ASSERT_EQ(rev.size(), 4u);
  EXPECT_EQ(rev[0].upper, 1);
  EXPECT_EQ(rev[3].lower, -1);
}

TEST(HistogramTest, ValidateAndToFloat) {
  IntHistogram h;
  h.count = 6;
  h.zero_count = 1;
  h.sum = 3;
  h.positive_spans = {{-1, 2}, {2, 1}};
  h.positive_deltas = {1, 2, -2};  // counts 1, 3, 1
  ASSERT_TRUE(h.Validate().ok()) << h.Validate().message();
  FloatHistogram f = h.ToFloat();
  EXPECT_EQ(f.positive_buckets, (std::vector<double>{1, 3, 1}));
  EXPECT_EQ(f.count, 6);

  IntHistogram bad = h;
  bad.count = 5;
  EXPECT_NE(bad.Validate().message().find("should equal the number of observations"),
            std::string::npos);
  bad.sum = std::nan("");  // NaN observations raise only the count
  bad.count = 7;
  EXPECT_TRUE(bad.Validate().ok());
  bad = h;
  bad.positive_deltas = {1, -2, 2};
  EXPECT_NE(bad.Validate().message().find("negative"), std::string::npos);
  bad = h;
  bad.positive_spans = {{-1, 2}, {-1, 1}};
  EXPECT_NE(bad.Validate().message().find("offset is negative"), std::string::npos);
  bad = h;
  bad.positive_deltas = {INT64_MAX, 1, 0};
  EXPECT_FALSE(bad.Validate().ok());
  bad = h;
  bad.schema = 9;
  EXPECT_FALSE(bad.Validate().ok());
  // What storage cannot hold: bucket indexes near the int32 limits, too many spans.
  bad = h;
  bad.positive_spans = {{INT32_MIN, 2}, {2, 1}};
  EXPECT_NE(bad.Validate().message().find("bucket index beyond"), std::string::npos);
  bad.positive_spans = {{INT32_MAX - 1, 2}, {2, 1}};
  EXPECT_FALSE(bad.Validate().ok());
  bad = h;
  bad.positive_spans.insert(bad.positive_spans.end(), kMaxBuckets, Span{0, 0});
  EXPECT_NE(bad.Validate().message().find("spans"), std::string::npos);

  FloatHistogram custom;
  custom.schema = kCustomBucketsSchema;
  custom.custom_values = {1, 2};
  custom.positive_spans = {{0, 3}};
  custom.positive_buckets = {1, 1, 1};
  EXPECT_TRUE(custom.Validate().ok());
  custom.positive_spans = {{1, 3}};  // four buckets need three bounds
  EXPECT_NE(custom.Validate().message().find("too few"), std::string::npos);
  custom.positive_spans = {{0, 3}};
  custom.custom_values = {2, 1};
  EXPECT_NE(custom.Validate().message().find("strictly increasing"), std::string::npos);
}

}  // namespace
}  // namespace strata::histogram
