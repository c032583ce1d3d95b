#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/histogram.h"
#include "tsdb/chunkenc/bitstream.h"
#include "tsdb/chunkenc/xor.h"

namespace strata::chunkenc {

// FloatHistogramAppender encodes native histogram samples that share one bucket layout
// (schema, zero threshold, spans, custom bounds) into a chunk: the layout once, then per
// sample the timestamp as the XOR chunk writes it, the reset hint, and count, zero count, sum
// and every bucket each as its own Gorilla XOR stream. Layout in docs/format/chunks.md.
// The chunk bytes are borrowed and must outlive it. Not thread-safe.
class FloatHistogramAppender {
 public:
  // Starts a new chunk in `bytes` with `first`'s layout.
  FloatHistogramAppender(std::vector<uint8_t>& bytes, const histogram::FloatHistogram& first);

  // Whether `h` has this chunk's layout.
  bool SameLayout(const histogram::FloatHistogram& h) const;
  // Appends a sample. Returns false (and changes nothing) if `t` is not strictly greater than
  // the previous sample's, the chunk is full, the layout differs, or the layout is one the
  // chunk cannot hold (spans that disagree with the buckets, over the limits, a bad schema).
  bool Append(int64_t t, const histogram::FloatHistogram& h);

  int num_samples() const { return num_; }
  int64_t last_timestamp() const { return ts_.t; }

 private:
  std::vector<uint8_t>* bytes_;
  histogram::FloatHistogram layout_;  // the layout; counts unused
  size_t buckets_ = 0;
  bool consistent_ = false;  // the spans cover the buckets, within the limits
  int num_ = 0;
  uint8_t free_bits_ = 0;
  TimestampState ts_;
  std::vector<XorState> values_;  // count, zero count, sum, then each bucket
};

// FloatHistogramIterator decodes a chunk it borrows. Malformed input never reads out of
// bounds or allocates beyond histogram::kMaxBuckets: the iterator stops and `corrupt()` turns true.
class FloatHistogramIterator {
 public:
  explicit FloatHistogramIterator(std::span<const uint8_t> chunk);

  bool Next();
  int64_t t() const { return ts_.t; }
  // The current sample, valid until the next call to Next().
  const histogram::FloatHistogram& h() const { return h_; }
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  bool ReadLayout();

  BitReader reader_;
  int total_ = 0;
  int read_ = 0;
  bool corrupt_ = false;
  TimestampState ts_;
  std::vector<XorState> values_;
  histogram::FloatHistogram h_;
};

}  // namespace strata::chunkenc
