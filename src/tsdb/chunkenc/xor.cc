#include "tsdb/chunkenc/xor.h"

#include <bit>
#include <cstring>

#include "base/coding.h"

namespace strata::chunkenc {
namespace {

// True if x fits the signed delta-of-delta bucket of `nbits` bits.
bool FitsBits(int64_t x, int nbits) {
  return -((int64_t{1} << (nbits - 1)) - 1) <= x && x <= (int64_t{1} << (nbits - 1));
}

}  // namespace

void WriteUvarint(BitWriter& w, uint64_t v) {
  while (v >= 0x80) {
    w.WriteByte(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  w.WriteByte(static_cast<uint8_t>(v));
}

bool ReadUvarint(BitReader& r, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = r.ReadByte();
    if (r.overflow()) return false;
    if (shift == 63 && b > 1) return false;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

void SetChunkSampleCount(std::vector<uint8_t>& bytes, int n) {
  bytes[0] = static_cast<uint8_t>(n >> 8);
  bytes[1] = static_cast<uint8_t>(n);
}

bool ReadChunkHeader(std::span<const uint8_t> chunk, int* n, std::span<const uint8_t>* body) {
  if (chunk.size() < kXorHeaderSize) return false;
  *n = (chunk[0] << 8) | chunk[1];
  *body = chunk.subspan(kXorHeaderSize);
  return true;
}

void WriteTimestamp(BitWriter& w, int64_t t, int index, TimestampState& st) {
  if (index == 0) {
    WriteUvarint(w, ZigZagEncode(t));
  } else if (index == 1) {
    // Wrapping arithmetic: extreme timestamps must round-trip, not overflow.
    st.delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(st.t);
    WriteUvarint(w, st.delta);
  } else {
    uint64_t t_delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(st.t);
    auto dod = static_cast<int64_t>(t_delta - st.delta);
    if (dod == 0) {
      w.WriteBit(false);
    } else if (FitsBits(dod, 14)) {
      w.WriteBits(0b10, 2);
      w.WriteBits(static_cast<uint64_t>(dod), 14);
    } else if (FitsBits(dod, 17)) {
      w.WriteBits(0b110, 3);
      w.WriteBits(static_cast<uint64_t>(dod), 17);
    } else if (FitsBits(dod, 20)) {
      w.WriteBits(0b1110, 4);
      w.WriteBits(static_cast<uint64_t>(dod), 20);
    } else {
      w.WriteBits(0b1111, 4);
      w.WriteBits(static_cast<uint64_t>(dod), 64);
    }
    st.delta = t_delta;
  }
  st.t = t;
}

bool ReadTimestamp(BitReader& r, int index, TimestampState& st) {
  if (index == 0) {
    uint64_t zz;
    if (!ReadUvarint(r, &zz)) return false;
    st.t = ZigZagDecode(zz);
    return true;
  }
  if (index == 1) {
    if (!ReadUvarint(r, &st.delta)) return false;
  } else {
    int ones = 0;
    while (ones < 4 && r.ReadBit()) ++ones;
    static constexpr int kBucketBits[] = {0, 14, 17, 20, 64};
    int nbits = kBucketBits[ones];
    uint64_t dod = 0;
    if (nbits > 0) {
      dod = r.ReadBits(nbits);
      if (nbits < 64 && dod > (uint64_t{1} << (nbits - 1))) dod -= uint64_t{1} << nbits;
    }
    st.delta += dod;
  }
  st.t = static_cast<int64_t>(static_cast<uint64_t>(st.t) + st.delta);
  return !r.overflow();
}

void WriteXorValue(BitWriter& w, uint64_t v_bits, XorState& st) {
  uint64_t delta = v_bits ^ st.bits;
  if (delta == 0) {
    w.WriteBit(false);
  } else {
    w.WriteBit(true);
    auto leading = static_cast<uint8_t>(std::countl_zero(delta));
    auto trailing = static_cast<uint8_t>(std::countr_zero(delta));
    if (leading >= 32) leading = 31;  // 5 bits hold the leading-zero count
    if (st.leading != 0xFF && leading >= st.leading && trailing >= st.trailing) {
      w.WriteBit(false);
      w.WriteBits(delta >> st.trailing, 64 - st.leading - st.trailing);
    } else {
      st.leading = leading;
      st.trailing = trailing;
      w.WriteBit(true);
      w.WriteBits(leading, 5);
      int sigbits = 64 - leading - trailing;
      // 64 significant bits are written as 0: the reader maps 0 back to 64.
      w.WriteBits(static_cast<uint64_t>(sigbits), 6);
      w.WriteBits(delta >> trailing, sigbits);
    }
  }
  st.bits = v_bits;
}

bool ReadXorValue(BitReader& r, XorState& st) {
  if (!r.ReadBit()) return !r.overflow();  // value unchanged
  if (r.ReadBit()) {
    st.leading = static_cast<uint8_t>(r.ReadBits(5));
    auto sigbits = static_cast<uint8_t>(r.ReadBits(6));
    if (sigbits == 0) sigbits = 64;
    if (st.leading + sigbits > 64) return false;
    st.trailing = static_cast<uint8_t>(64 - st.leading - sigbits);
  } else if (st.leading == 0xFF) {
    // A reuse before any window was set: Prometheus reads it as the whole 64 bits (and its
    // appender writes it when it reopens a chunk of one sample).
    st.leading = 0;
    st.trailing = 0;
  }
  int sigbits = 64 - st.leading - st.trailing;
  uint64_t bits = r.ReadBits(sigbits);
  st.bits ^= bits << st.trailing;
  return !r.overflow();
}

XorAppender::XorAppender(std::vector<uint8_t>& bytes) : bytes_(&bytes) {
  bytes_->assign(kXorHeaderSize, 0);
}

bool XorAppender::Append(int64_t t, double v) {
  if (num_ >= kMaxSamplesPerChunk || (num_ > 0 && t <= ts_.t)) return false;
  uint64_t v_bits = std::bit_cast<uint64_t>(v);
  BitWriter w(*bytes_, free_bits_);
  WriteTimestamp(w, t, num_, ts_);
  if (num_ == 0) {
    w.WriteBits(v_bits, 64);
    value_.bits = v_bits;
  } else {
    WriteXorValue(w, v_bits, value_);
  }
  free_bits_ = w.free_bits();
  SetChunkSampleCount(*bytes_, ++num_);
  return true;
}

XorIterator::XorIterator(std::span<const uint8_t> chunk) : reader_({}) {
  std::span<const uint8_t> body;
  corrupt_ = !ReadChunkHeader(chunk, &total_, &body);
  reader_ = BitReader(body);
}

double XorIterator::v() const { return std::bit_cast<double>(value_.bits); }

bool XorIterator::Next() {
  if (corrupt_ || read_ >= total_) return false;
  bool ok = ReadTimestamp(reader_, read_, ts_);
  if (ok && read_ == 0) {
    value_.bits = reader_.ReadBits(64);
  } else if (ok) {
    ok = ReadXorValue(reader_, value_);
  }
  if (!ok || reader_.overflow()) {
    corrupt_ = true;
    return false;
  }
  ++read_;
  return true;
}

}  // namespace strata::chunkenc
