#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tsdb/chunkenc/bitstream.h"

namespace strata::chunkenc {

// Samples per chunk before the head cuts a new one (Prometheus uses the same target).
inline constexpr int kSamplesPerChunk = 120;
// Bytes of the chunk header (big-endian sample count).
inline constexpr size_t kXorHeaderSize = 2;
// Largest sample count the header can hold.
inline constexpr int kMaxSamplesPerChunk = 0xFFFF;

// XorAppender encodes float samples into a Gorilla chunk (delta-of-delta timestamps, XOR
// values), byte-compatible with Prometheus's XOR chunk; layout in docs/format/chunks.md.
// It owns the appender state only; the chunk bytes are borrowed and must outlive it.
// Not thread-safe.
class XorAppender {
 public:
  // Starts a new chunk in `bytes`, which must be empty.
  explicit XorAppender(std::vector<uint8_t>& bytes);

  // Appends a sample. Returns false (and changes nothing) if `t` is not strictly greater than
  // the previous sample's timestamp or the chunk is full.
  bool Append(int64_t t, double v);

  int num_samples() const { return num_; }
  int64_t last_timestamp() const { return t_; }

 private:
  void WriteValue(uint64_t v_bits);

  std::vector<uint8_t>* bytes_;
  int num_ = 0;
  uint8_t free_bits_ = 0;
  int64_t t_ = 0;
  uint64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  uint8_t leading_ = 0xFF;
  uint8_t trailing_ = 0;
};

// XorIterator decodes a chunk it borrows. Malformed input never reads out of bounds: the
// iterator stops and `corrupt()` turns true. Not thread-safe.
class XorIterator {
 public:
  explicit XorIterator(std::span<const uint8_t> chunk);

  // Advances to the next sample; false at the end or on corruption.
  bool Next();
  int64_t t() const { return t_; }
  double v() const;
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  bool ReadValue();

  BitReader reader_;
  int total_ = 0;
  int read_ = 0;
  bool corrupt_ = false;
  int64_t t_ = 0;
  uint64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  uint8_t leading_ = 0;
  uint8_t trailing_ = 0;
};

}  // namespace strata::chunkenc
