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

}  // namespace

XorAppender::XorAppender(std::vector<uint8_t>& bytes) : bytes_(&bytes) {
  bytes_->assign(kXorHeaderSize, 0);
}

bool XorAppender::Append(int64_t t, double v) {
  if (num_ >= kMaxSamplesPerChunk || (num_ > 0 && t <= t_)) return false;
  uint64_t v_bits = std::bit_cast<uint64_t>(v);
  BitWriter w(*bytes_, free_bits_);
  if (num_ == 0) {
    WriteUvarint(w, ZigZagEncode(t));
    w.WriteBits(v_bits, 64);
    v_bits_ = v_bits;
    free_bits_ = w.free_bits();
  } else if (num_ == 1) {
    // Wrapping arithmetic: extreme timestamps must round-trip, not overflow.
    t_delta_ = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    WriteUvarint(w, t_delta_);
    free_bits_ = w.free_bits();
    WriteValue(v_bits);
  } else {
    uint64_t t_delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    auto dod = static_cast<int64_t>(t_delta - t_delta_);
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
    t_delta_ = t_delta;
    free_bits_ = w.free_bits();
    WriteValue(v_bits);
  }
  t_ = t;
  ++num_;
  (*bytes_)[0] = static_cast<uint8_t>(num_ >> 8);
  (*bytes_)[1] = static_cast<uint8_t>(num_);
  return true;
}

void XorAppender::WriteValue(uint64_t v_bits) {
  BitWriter w(*bytes_, free_bits_);
  uint64_t delta = v_bits ^ v_bits_;
  if (delta == 0) {
    w.WriteBit(false);
  } else {
    w.WriteBit(true);
    auto leading = static_cast<uint8_t>(std::countl_zero(delta));
    auto trailing = static_cast<uint8_t>(std::countr_zero(delta));
    if (leading >= 32) leading = 31;  // 5 bits hold the leading-zero count
    if (leading_ != 0xFF && leading >= leading_ && trailing >= trailing_) {
      w.WriteBit(false);
      w.WriteBits(delta >> trailing_, 64 - leading_ - trailing_);
    } else {
      leading_ = leading;
      trailing_ = trailing;
      w.WriteBit(true);
      w.WriteBits(leading, 5);
      int sigbits = 64 - leading - trailing;
      // 64 significant bits are written as 0: the reader maps 0 back to 64.
      w.WriteBits(static_cast<uint64_t>(sigbits), 6);
      w.WriteBits(delta >> trailing, sigbits);
    }
  }
  v_bits_ = v_bits;
  free_bits_ = w.free_bits();
}

XorIterator::XorIterator(std::span<const uint8_t> chunk)
    : reader_(chunk.size() >= kXorHeaderSize ? chunk.subspan(kXorHeaderSize)
                                             : std::span<const uint8_t>()) {
  if (chunk.size() < kXorHeaderSize) {
    corrupt_ = true;
    return;
  }
  total_ = (chunk[0] << 8) | chunk[1];
}

double XorIterator::v() const { return std::bit_cast<double>(v_bits_); }

bool XorIterator::Next() {
  if (corrupt_ || read_ >= total_) return false;
  if (read_ == 0) {
    uint64_t zz;
    if (!ReadUvarint(reader_, &zz)) {
      corrupt_ = true;
      return false;
    }
    t_ = ZigZagDecode(zz);
    v_bits_ = reader_.ReadBits(64);
  } else if (read_ == 1) {
    if (!ReadUvarint(reader_, &t_delta_)) {
      corrupt_ = true;
      return false;
    }
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + t_delta_);
    if (!ReadValue()) return false;
  } else {
    int ones = 0;
    while (ones < 4 && reader_.ReadBit()) ++ones;
    static constexpr int kBucketBits[] = {0, 14, 17, 20, 64};
    int nbits = kBucketBits[ones];
    uint64_t dod = 0;
    if (nbits > 0) {
      dod = reader_.ReadBits(nbits);
      if (nbits < 64 && dod > (uint64_t{1} << (nbits - 1))) dod -= uint64_t{1} << nbits;
    }
    t_delta_ += dod;
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + t_delta_);
    if (!ReadValue()) return false;
  }
  if (reader_.overflow()) {
    corrupt_ = true;
    return false;
  }
  ++read_;
  return true;
}

bool XorIterator::ReadValue() {
  if (!reader_.ReadBit()) {  // value unchanged
    corrupt_ = reader_.overflow();
    return !corrupt_;
  }
  if (reader_.ReadBit()) {
    leading_ = static_cast<uint8_t>(reader_.ReadBits(5));
    auto sigbits = static_cast<uint8_t>(reader_.ReadBits(6));
    if (sigbits == 0) sigbits = 64;
    if (leading_ + sigbits > 64) {
      corrupt_ = true;
      return false;
    }
    trailing_ = static_cast<uint8_t>(64 - leading_ - sigbits);
  }
  int sigbits = 64 - leading_ - trailing_;
  uint64_t bits = reader_.ReadBits(sigbits);
  v_bits_ ^= bits << trailing_;
  if (reader_.overflow()) {
    corrupt_ = true;
    return false;
  }
  return true;
}

}  // namespace strata::chunkenc
