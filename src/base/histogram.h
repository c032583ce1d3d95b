#pragma once

// Prometheus native histograms: the data model of Prometheus 3.5's model/histogram, and the
// operations PromQL needs on it, with the same results bit for bit.
//
// A histogram has a schema: -4..8 are exponential (bucket i of the positive side covers
// (base^(i-1), base^i] with base 2^(2^-schema); the negative side mirrors it), -53 has custom
// upper bounds ("NHCB": bucket i covers (bounds[i-1], bounds[i]], bucket 0 starts at -Inf and
// bucket len(bounds) ends at +Inf). Populated buckets are given as spans: the first span's
// offset is the index of its first bucket, each later offset is the gap after the previous
// span. `IntHistogram` holds integer counts delta-encoded (each bucket's difference from the
// previous one), as remote write's int histograms carry them; `FloatHistogram` holds absolute
// float counts, and is what storage hands to PromQL.
//
// Thread-safety: plain values.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/sample.h"
#include "base/status.h"

namespace strata::histogram {

inline constexpr int32_t kExponentialSchemaMin = -4;
inline constexpr int32_t kExponentialSchemaMax = 8;
inline constexpr int32_t kCustomBucketsSchema = -53;

inline bool IsExponentialSchema(int32_t s) {
  return s >= kExponentialSchemaMin && s <= kExponentialSchemaMax;
}
inline bool IsCustomBucketsSchema(int32_t s) { return s == kCustomBucketsSchema; }
inline bool IsValidSchema(int32_t s) { return IsExponentialSchema(s) || IsCustomBucketsSchema(s); }
// Most buckets (both sides) plus custom bounds one histogram may have, and most spans per
// side: what storage holds.
inline constexpr size_t kMaxBuckets = 1 << 16;
// Bucket indexes stay within +-kMaxBucketIndex (every bound is 0 or +-Inf far before), so
// index arithmetic cannot overflow.
inline constexpr int64_t kMaxBucketIndex = int64_t{1} << 29;

// What the writer knows about a counter reset at this sample (remote write's ResetHint, with
// the same values).
enum class ResetHint : uint8_t { kUnknown = 0, kReset = 1, kNotReset = 2, kGauge = 3 };

struct Span {
  int32_t offset = 0;
  uint32_t length = 0;
  bool operator==(const Span&) const = default;
};

// Whether the spans keep every bucket index within +-kMaxBucketIndex.
bool IndexesInRange(std::span<const Span> spans);

// One bucket as iterators report it.
struct Bucket {
  double lower = 0;
  double upper = 0;
  bool lower_inclusive = false;
  bool upper_inclusive = false;
  double count = 0;
  int32_t index = 0;
};

// The upper bound of bucket `idx` on the positive side (bucket idx-1's is its lower bound);
// for custom buckets idx ranges over [-1, bounds.size()], -1 and bounds.size() being -Inf and
// +Inf.
double BucketBound(int32_t idx, int32_t schema, std::span<const double> custom_bounds);

// Errors of Add and Sub: the PromQL annotations tell the two apart.
enum class CombineError : uint8_t {
  kNone,
  kMixedSchemas,       // exponential with custom buckets
  kIncompatibleBounds  // custom buckets with different bounds
};

class FloatHistogram {
 public:
  ResetHint hint = ResetHint::kUnknown;
  int32_t schema = 0;
  double zero_threshold = 0;
  double zero_count = 0;
  double count = 0;
  double sum = 0;
  std::vector<Span> positive_spans, negative_spans;
  std::vector<double> positive_buckets, negative_buckets;  // absolute counts
  std::vector<double> custom_values;                       // schema -53 only

  bool UsesCustomBuckets() const { return IsCustomBucketsSchema(schema); }

  // The model's invariants (Prometheus's Validate): spans agree with buckets, no negative
  // counts, custom bounds strictly increasing and finite, no zero bucket or negative side with
  // custom buckets, no custom bounds otherwise; and, for storage, a schema Prometheus
  // defines, a zero threshold >= 0, at most kMaxBuckets buckets and bounds and spans per side,
  // and bucket indexes within kMaxBucketIndex. A float histogram's count is not checked.
  Status Validate() const;

  // A copy at a lower (or the same) exponential schema, buckets merged.
  FloatHistogram CopyToSchema(int32_t target) const;
  // Lowers the resolution in place.
  void ReduceResolution(int32_t target);
  // Scales counts, sum and buckets. Dividing by zero also drops every bucket, as Prometheus.
  FloatHistogram& Mul(double factor);
  FloatHistogram& Div(double divisor);
  // this += other / this -= other: zero buckets widened to the larger threshold, both sides at
  // the lower schema. On an error this histogram is unchanged.
  CombineError Add(const FloatHistogram& other);
  CombineError Sub(const FloatHistogram& other);
  // Drops empty buckets and joins adjacent spans (Prometheus's Compact(0)).
  FloatHistogram& Compact();

  // Whether this sample, following `previous`, is a counter reset.
  bool DetectReset(const FloatHistogram& previous) const;
  // Bit-for-bit equality of values and populated layout (empty spans ignored).
  bool Equals(const FloatHistogram& other) const;

  // Every bucket in ascending order of value (negative side, the zero bucket if it has
  // observations, positive side), empty buckets included; bounds that overlap the zero bucket
  // are clipped to its threshold, as Prometheus's AllBucketIterator does.
  std::vector<Bucket> AllBuckets() const;
  // The same, in descending order (AllReverseBucketIterator).
  std::vector<Bucket> AllBucketsReverse() const;
  // The positive (or negative) side's buckets by index, ascending, empty ones included.
  std::vector<Bucket> SideBuckets(bool positive) const;

  // As Prometheus's String(): {count:.., sum:.., [lower,upper]:count, ...} over the populated
  // buckets, numbers as Go's %g; count_values labels histograms with it.
  std::string ToString() const;
};

class IntHistogram {
 public:
  ResetHint hint = ResetHint::kUnknown;
  int32_t schema = 0;
  double zero_threshold = 0;
  uint64_t zero_count = 0;
  uint64_t count = 0;
  double sum = 0;
  std::vector<Span> positive_spans, negative_spans;
  std::vector<int64_t> positive_deltas, negative_deltas;  // delta-encoded counts
  std::vector<double> custom_values;

  bool UsesCustomBuckets() const { return IsCustomBucketsSchema(schema); }
  // As FloatHistogram's, plus: the buckets add up to count (at most count when sum is NaN,
  // since NaN observations raise the count only).
  Status Validate() const;
  FloatHistogram ToFloat() const;
};

// A histogram sample as storage hands it out; the histogram is shared, never modified.
struct HistogramSample {
  int64_t t;
  std::shared_ptr<const FloatHistogram> h;
};

// Prometheus marks a histogram series stale with a histogram whose sum is the stale NaN.
inline bool IsStale(const FloatHistogram& h) { return IsStaleNaN(h.sum); }

}  // namespace strata::histogram
