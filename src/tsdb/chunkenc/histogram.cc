#include "tsdb/chunkenc/histogram.h"

#include <bit>

#include "base/coding.h"

namespace strata::chunkenc {
namespace {

constexpr size_t kFixedValues = 3;  // count, zero count, sum

void WriteSpans(BitWriter& w, const std::vector<histogram::Span>& spans) {
  WriteUvarint(w, spans.size());
  for (const histogram::Span& s : spans) {
    WriteUvarint(w, ZigZagEncode(s.offset));
    WriteUvarint(w, s.length);
  }
}

bool ReadSpans(BitReader& r, std::vector<histogram::Span>& spans, size_t* buckets) {
  uint64_t n = 0;
  if (!ReadUvarint(r, &n) || n > histogram::kMaxBuckets) return false;
  spans.resize(n);
  for (auto& s : spans) {
    uint64_t offset = 0;
    uint64_t length = 0;
    if (!ReadUvarint(r, &offset) || !ReadUvarint(r, &length)) return false;
    int64_t o = ZigZagDecode(offset);
    if (o < INT32_MIN || o > INT32_MAX || length > histogram::kMaxBuckets) return false;
    s = {static_cast<int32_t>(o), static_cast<uint32_t>(length)};
    *buckets += length;
    if (*buckets > histogram::kMaxBuckets) return false;
  }
  return true;
}

uint8_t HintBits(histogram::ResetHint h) { return static_cast<uint8_t>(h); }

}  // namespace

FloatHistogramAppender::FloatHistogramAppender(std::vector<uint8_t>& bytes,
                                               const histogram::FloatHistogram& first)
    : bytes_(&bytes) {
  layout_.schema = first.schema;
  layout_.zero_threshold = first.zero_threshold;
  layout_.positive_spans = first.positive_spans;
  layout_.negative_spans = first.negative_spans;
  layout_.custom_values = first.custom_values;
  buckets_ = first.positive_buckets.size() + first.negative_buckets.size();
  size_t spanned = 0;
  for (const auto& sp : first.positive_spans) spanned += sp.length;
  for (const auto& sp : first.negative_spans) spanned += sp.length;
  // The reader sizes the buckets from the spans: histograms that disagree are not stored.
  consistent_ = spanned == buckets_ && buckets_ <= histogram::kMaxBuckets &&
                first.custom_values.size() <= histogram::kMaxBuckets &&
                first.positive_spans.size() <= histogram::kMaxBuckets &&
                first.negative_spans.size() <= histogram::kMaxBuckets &&
                histogram::IndexesInRange(first.positive_spans) &&
                histogram::IndexesInRange(first.negative_spans) &&
                histogram::IsValidSchema(first.schema);
  bytes_->assign(kXorHeaderSize, 0);
  BitWriter w(*bytes_, 0);
  WriteUvarint(w, ZigZagEncode(first.schema));
  w.WriteBits(std::bit_cast<uint64_t>(first.zero_threshold), 64);
  WriteSpans(w, first.positive_spans);
  WriteSpans(w, first.negative_spans);
  WriteUvarint(w, first.custom_values.size());
  for (double v : first.custom_values) w.WriteBits(std::bit_cast<uint64_t>(v), 64);
  free_bits_ = w.free_bits();
  values_.resize(kFixedValues + buckets_);
}

bool FloatHistogramAppender::SameLayout(const histogram::FloatHistogram& h) const {
  return h.schema == layout_.schema &&
         std::bit_cast<uint64_t>(h.zero_threshold) ==
             std::bit_cast<uint64_t>(layout_.zero_threshold) &&
         h.positive_spans == layout_.positive_spans && h.negative_spans == layout_.negative_spans &&
         h.positive_buckets.size() + h.negative_buckets.size() == buckets_ &&
         h.custom_values.size() == layout_.custom_values.size() &&
         std::equal(h.custom_values.begin(), h.custom_values.end(), layout_.custom_values.begin(),
                    [](double a, double b) {
                      return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
                    });
}

bool FloatHistogramAppender::Append(int64_t t, const histogram::FloatHistogram& h) {
  if (!consistent_ || num_ >= kMaxSamplesPerChunk || (num_ > 0 && t <= ts_.t) || !SameLayout(h)) {
    return false;
  }
  BitWriter w(*bytes_, free_bits_);
  WriteTimestamp(w, t, num_, ts_);
  w.WriteBits(HintBits(h.hint), 2);
  size_t k = 0;
  auto put = [&](double v) {
    uint64_t bits = std::bit_cast<uint64_t>(v);
    if (num_ == 0) {
      w.WriteBits(bits, 64);
      values_[k].bits = bits;
    } else {
      WriteXorValue(w, bits, values_[k]);
    }
    ++k;
  };
  put(h.count);
  put(h.zero_count);
  put(h.sum);
  for (double b : h.positive_buckets) put(b);
  for (double b : h.negative_buckets) put(b);
  free_bits_ = w.free_bits();
  SetChunkSampleCount(*bytes_, ++num_);
  return true;
}

FloatHistogramIterator::FloatHistogramIterator(std::span<const uint8_t> chunk) : reader_({}) {
  std::span<const uint8_t> body;
  if (!ReadChunkHeader(chunk, &total_, &body)) {
    corrupt_ = true;
    return;
  }
  reader_ = BitReader(body);
  corrupt_ = !ReadLayout();
}

bool FloatHistogramIterator::ReadLayout() {
  uint64_t schema = 0;
  if (!ReadUvarint(reader_, &schema)) return false;
  int64_t s = ZigZagDecode(schema);
  if (!histogram::IsValidSchema(static_cast<int32_t>(s)) || s != static_cast<int32_t>(s)) {
    return false;
  }
  h_.schema = static_cast<int32_t>(s);
  h_.zero_threshold = std::bit_cast<double>(reader_.ReadBits(64));
  size_t positive = 0;
  size_t negative = 0;
  if (!ReadSpans(reader_, h_.positive_spans, &positive) ||
      !ReadSpans(reader_, h_.negative_spans, &negative) ||
      positive + negative > histogram::kMaxBuckets ||
      !histogram::IndexesInRange(h_.positive_spans) ||
      !histogram::IndexesInRange(h_.negative_spans)) {
    return false;
  }
  uint64_t custom = 0;
  if (!ReadUvarint(reader_, &custom) || custom > histogram::kMaxBuckets) return false;
  h_.custom_values.resize(custom);
  for (double& v : h_.custom_values) v = std::bit_cast<double>(reader_.ReadBits(64));
  if (reader_.overflow()) return false;
  h_.positive_buckets.resize(positive);
  h_.negative_buckets.resize(negative);
  values_.resize(kFixedValues + positive + negative);
  return true;
}

bool FloatHistogramIterator::Next() {
  if (corrupt_ || read_ >= total_) return false;
  bool ok = ReadTimestamp(reader_, read_, ts_);
  h_.hint = static_cast<histogram::ResetHint>(reader_.ReadBits(2));
  for (size_t k = 0; ok && k < values_.size(); ++k) {
    if (read_ == 0) {
      values_[k].bits = reader_.ReadBits(64);
    } else {
      ok = ReadXorValue(reader_, values_[k]);
    }
  }
  if (!ok || reader_.overflow()) {
    corrupt_ = true;
    return false;
  }
  h_.count = std::bit_cast<double>(values_[0].bits);
  h_.zero_count = std::bit_cast<double>(values_[1].bits);
  h_.sum = std::bit_cast<double>(values_[2].bits);
  size_t k = kFixedValues;
  for (double& b : h_.positive_buckets) b = std::bit_cast<double>(values_[k++].bits);
  for (double& b : h_.negative_buckets) b = std::bit_cast<double>(values_[k++].bits);
  ++read_;
  return true;
}

}  // namespace strata::chunkenc
