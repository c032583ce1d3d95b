#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace strata::chunkenc {

// BitWriter appends bits, most significant first, to a borrowed byte vector that must
// outlive it. Not thread-safe.
class BitWriter {
 public:
  // `free_bits` is how many low bits of the vector's last byte are still unused (0..7).
  BitWriter(std::vector<uint8_t>& bytes, uint8_t free_bits) : bytes_(bytes), free_(free_bits) {}

  void WriteBit(bool bit) {
    if (free_ == 0) {
      bytes_.push_back(0);
      free_ = 8;
    }
    if (bit) bytes_.back() |= static_cast<uint8_t>(1u << (free_ - 1));
    --free_;
  }

  // Writes the low `n` bits of `v` (n <= 64): the last byte's free bits first, then the
  // rest as whole new bytes from one big-endian store.
  void WriteBits(uint64_t v, int n) {
    if (n <= 0) return;
    if (n < 64) v &= (uint64_t{1} << n) - 1;
    if (n <= free_) {
      bytes_.back() |= static_cast<uint8_t>(v << (free_ - n));
      free_ = static_cast<uint8_t>(free_ - n);
      return;
    }
    const int rest = n - free_;  // 1..64 bits for new bytes
    if (free_ > 0) bytes_.back() |= static_cast<uint8_t>(v >> rest);
    const uint64_t be = __builtin_bswap64(v << (64 - rest));
    const size_t nbytes = static_cast<size_t>(rest + 7) / 8;
    const size_t old = bytes_.size();
    bytes_.resize(old + nbytes);
    std::memcpy(bytes_.data() + old, &be, nbytes);
    free_ = static_cast<uint8_t>(nbytes * 8 - static_cast<size_t>(rest));
  }

  void WriteByte(uint8_t b) { WriteBits(b, 8); }
  uint8_t free_bits() const { return free_; }

 private:
  std::vector<uint8_t>& bytes_;
  uint8_t free_;
};

// BitReader reads bits, most significant first, from a borrowed span. Every read is bounds
// checked: reading past the end sets `overflow()` and returns zeros.
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> data) : data_(data), bits_(data.size() * 8) {}

  bool ReadBit() {
    if (pos_ >= bits_) {
      overflow_ = true;
      return false;
    }
    bool bit = (data_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1;
    ++pos_;
    return bit;
  }

  // Reads n bits (0..64) with one or two unaligned 64-bit loads instead of a loop over bytes.
  uint64_t ReadBits(int n) {
    if (pos_ + static_cast<size_t>(n) > bits_) {
      overflow_ = true;
      pos_ = bits_;
      return 0;
    }
    if (n == 0) return 0;
    size_t byte = pos_ >> 3;
    int shift = static_cast<int>(pos_ & 7);
    uint64_t w = Load64(byte) << shift;  // the next 64 - shift bits, left-aligned
    uint64_t v = w >> (64 - n);
    int have = 64 - shift;
    if (n > have) {  // only for n > 56 at an unaligned position: one more byte
      int rest = n - have;
      v = (w >> (64 - have) << rest) | (static_cast<uint64_t>(data_[byte + 8]) >> (8 - rest));
    }
    pos_ += static_cast<size_t>(n);
    return v;
  }

  uint8_t ReadByte() { return static_cast<uint8_t>(ReadBits(8)); }
  bool overflow() const { return overflow_; }

 private:
  // Eight bytes from `byte` on, big-endian, zero-padded past the end.
  uint64_t Load64(size_t byte) const {
    uint64_t w = 0;
    if (byte + 8 <= data_.size()) {
      std::memcpy(&w, data_.data() + byte, 8);
      return __builtin_bswap64(w);
    }
    for (size_t i = 0; i < 8; ++i) {
      w = (w << 8) | (byte + i < data_.size() ? data_[byte + i] : 0);
    }
    return w;
  }

  std::span<const uint8_t> data_;
  size_t bits_;
  size_t pos_ = 0;
  bool overflow_ = false;
};

}  // namespace strata::chunkenc
