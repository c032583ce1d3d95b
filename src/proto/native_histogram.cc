#include "proto/native_histogram.h"

#include <limits>
#include <vector>

#include "proto/wire.h"

namespace strata::proto {
namespace {

// Histogram fields (prompb/types.proto and io/prometheus/write/v2/types.proto).
constexpr uint32_t kHistCountInt = 1;
constexpr uint32_t kHistCountFloat = 2;
constexpr uint32_t kHistSum = 3;
constexpr uint32_t kHistSchema = 4;
constexpr uint32_t kHistZeroThreshold = 5;
constexpr uint32_t kHistZeroCountInt = 6;
constexpr uint32_t kHistZeroCountFloat = 7;
constexpr uint32_t kHistNegativeSpans = 8;
constexpr uint32_t kHistNegativeDeltas = 9;
constexpr uint32_t kHistNegativeCounts = 10;
constexpr uint32_t kHistPositiveSpans = 11;
constexpr uint32_t kHistPositiveDeltas = 12;
constexpr uint32_t kHistPositiveCounts = 13;
constexpr uint32_t kHistResetHint = 14;
constexpr uint32_t kHistTimestamp = 15;
constexpr uint32_t kHistCustomValues = 16;
// BucketSpan
constexpr uint32_t kHistSpanOffset = 1;
constexpr uint32_t kHistSpanLength = 2;

bool HistReadSpan(WireReader& r, std::vector<histogram::Span>& out) {
  std::string_view msg;
  if (!r.Expect(WireType::kLen) || !r.ReadBytes(&msg)) return false;
  WireReader s(msg);
  histogram::Span span;
  while (s.NextField()) {
    uint64_t u;
    if ((s.field() == kHistSpanOffset || s.field() == kHistSpanLength) &&
        s.Expect(WireType::kVarint) && s.ReadVarint(&u)) {
      if (u > std::numeric_limits<uint32_t>::max()) return false;
      if (s.field() == kHistSpanOffset) {
        span.offset = DecodeSInt32(u);
      } else {
        span.length = static_cast<uint32_t>(u);
      }
    } else if (!s.error()) {
      s.Skip();
    }
  }
  out.push_back(span);
  return !s.error();
}

void HistPutSpans(std::string& out, uint32_t field, const std::vector<histogram::Span>& spans) {
  std::string msg;
  for (const auto& s : spans) {
    msg.clear();
    PutVarintField(msg, kHistSpanOffset, ZigZagEncode(s.offset) & 0xffffffffU);
    PutVarintField(msg, kHistSpanLength, s.length);
    PutBytesField(out, field, msg);
  }
}

void HistPutDoubles(std::string& out, uint32_t field, const std::vector<double>& values) {
  if (values.empty()) return;
  std::string packed;
  for (double v : values) PutDouble(packed, v);
  PutBytesField(out, field, packed);
}

}  // namespace

bool DecodeHistogram(std::string_view msg, HistogramSampleIn* out) {
  histogram::IntHistogram ih;
  histogram::FloatHistogram fh;
  bool is_float = false;
  WireReader r(msg);
  while (r.NextField()) {
    uint64_t u = 0;
    bool ok = true;
    switch (r.field()) {
      case kHistCountInt:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&ih.count);
        is_float = false;
        break;
      case kHistCountFloat:
        ok = r.Expect(WireType::kFixed64) && r.ReadDouble(&fh.count);
        is_float = true;
        break;
      case kHistSum:
        ok = r.Expect(WireType::kFixed64) && r.ReadDouble(&ih.sum);
        break;
      case kHistSchema:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&u) &&
             u <= std::numeric_limits<uint32_t>::max();
        ih.schema = DecodeSInt32(u);
        break;
      case kHistZeroThreshold:
        ok = r.Expect(WireType::kFixed64) && r.ReadDouble(&ih.zero_threshold);
        break;
      case kHistZeroCountInt:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&ih.zero_count);
        break;
      case kHistZeroCountFloat:
        ok = r.Expect(WireType::kFixed64) && r.ReadDouble(&fh.zero_count);
        break;
      case kHistNegativeSpans:
        ok = HistReadSpan(r, ih.negative_spans);
        break;
      case kHistPositiveSpans:
        ok = HistReadSpan(r, ih.positive_spans);
        break;
      case kHistNegativeDeltas:
        ok = ReadRepeatedVarint(r, [&](uint64_t u) {
          ih.negative_deltas.push_back(ZigZagDecode(u));
          return true;
        });
        break;
      case kHistPositiveDeltas:
        ok = ReadRepeatedVarint(r, [&](uint64_t u) {
          ih.positive_deltas.push_back(ZigZagDecode(u));
          return true;
        });
        break;
      case kHistNegativeCounts:
        ok = ReadRepeatedDouble(r, [&](double d) {
          fh.negative_buckets.push_back(d);
          return true;
        });
        break;
      case kHistPositiveCounts:
        ok = ReadRepeatedDouble(r, [&](double d) {
          fh.positive_buckets.push_back(d);
          return true;
        });
        break;
      case kHistCustomValues:
        ok = ReadRepeatedDouble(r, [&](double d) {
          ih.custom_values.push_back(d);
          return true;
        });
        break;
      case kHistResetHint:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&u);
        ih.hint = u <= 3 ? static_cast<histogram::ResetHint>(u) : histogram::ResetHint::kUnknown;
        break;
      case kHistTimestamp:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&u);
        out->t = static_cast<int64_t>(u);
        break;
      default:
        ok = r.Skip();
    }
    if (!ok) return false;
  }
  if (r.error()) return false;
  Status valid;
  if (is_float) {
    fh.hint = ih.hint;
    fh.schema = ih.schema;
    fh.zero_threshold = ih.zero_threshold;
    fh.sum = ih.sum;
    fh.positive_spans = std::move(ih.positive_spans);
    fh.negative_spans = std::move(ih.negative_spans);
    fh.custom_values = std::move(ih.custom_values);
    valid = fh.Validate();
  } else {
    valid = ih.Validate();
    if (valid.ok()) fh = ih.ToFloat();
  }
  if (!valid.ok()) {
    out->invalid = valid.message();
    return true;
  }
  out->h = std::make_shared<const histogram::FloatHistogram>(std::move(fh));
  return true;
}

void EncodeHistogram(std::string& out, const histogram::FloatHistogram& h, int64_t t) {
  PutDoubleField(out, kHistCountFloat, h.count);
  PutDoubleField(out, kHistSum, h.sum);
  PutVarintField(out, kHistSchema, ZigZagEncode(h.schema) & 0xffffffffU);
  PutDoubleField(out, kHistZeroThreshold, h.zero_threshold);
  PutDoubleField(out, kHistZeroCountFloat, h.zero_count);
  HistPutSpans(out, kHistNegativeSpans, h.negative_spans);
  HistPutDoubles(out, kHistNegativeCounts, h.negative_buckets);
  HistPutSpans(out, kHistPositiveSpans, h.positive_spans);
  HistPutDoubles(out, kHistPositiveCounts, h.positive_buckets);
  PutVarintField(out, kHistResetHint, static_cast<uint64_t>(h.hint));
  PutVarintField(out, kHistTimestamp, static_cast<uint64_t>(t));
  HistPutDoubles(out, kHistCustomValues, h.custom_values);
}

}  // namespace strata::proto
