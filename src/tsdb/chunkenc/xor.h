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

// The pieces of the Gorilla encoding, shared by the XOR chunk and the histogram chunk.
// A stream of timestamps: the first as a zigzag uvarint, the second as a uvarint delta, the
// rest as delta-of-delta in prefix-coded buckets of 14, 17, 20 or 64 bits.
struct TimestampState {
  int64_t t = 0;
  uint64_t delta = 0;
};
// Writes `t`, the `index`-th timestamp of its stream.
void WriteTimestamp(BitWriter& w, int64_t t, int index, TimestampState& st);
// Reads the `index`-th timestamp; false on corruption.
bool ReadTimestamp(BitReader& r, int index, TimestampState& st);
// A stream of values, each XORed with the previous and written as its meaningful bits.
struct XorState {
  uint64_t bits = 0;
  uint8_t leading = 0xFF;  // 0xFF: no window yet
  uint8_t trailing = 0;
};
void WriteXorValue(BitWriter& w, uint64_t v_bits, XorState& st);
// Reads the next value into st.bits; false on corruption.
bool ReadXorValue(BitReader& r, XorState& st);
void WriteUvarint(BitWriter& w, uint64_t v);
bool ReadUvarint(BitReader& r, uint64_t* out);
// The header both chunks start with: the sample count, a big-endian u16.
void SetChunkSampleCount(std::vector<uint8_t>& bytes, int n);
// A chunk's sample count and the bit stream after its header; false if it is too short.
bool ReadChunkHeader(std::span<const uint8_t> chunk, int* n, std::span<const uint8_t>* body);

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
  int64_t last_timestamp() const { return ts_.t; }

 private:
  std::vector<uint8_t>* bytes_;
  int num_ = 0;
  uint8_t free_bits_ = 0;
  TimestampState ts_;
  XorState value_;
};

// XorIterator decodes a chunk it borrows. Malformed input never reads out of bounds: the
// iterator stops and `corrupt()` turns true. Not thread-safe.
class XorIterator {
 public:
  explicit XorIterator(std::span<const uint8_t> chunk);

  // Advances to the next sample; false at the end or on corruption.
  bool Next();
  int64_t t() const { return ts_.t; }
  double v() const;
  bool corrupt() const { return corrupt_; }
  int num_samples() const { return total_; }

 private:
  BitReader reader_;
  int total_ = 0;
  int read_ = 0;
  bool corrupt_ = false;
  TimestampState ts_;
  XorState value_;
};

}  // namespace strata::chunkenc
