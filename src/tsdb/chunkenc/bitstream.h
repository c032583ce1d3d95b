#pragma once

#include <cstddef>
#include <cstdint>
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

  // Writes the low `n` bits of `v` (n <= 64).
  void WriteBits(uint64_t v, int n) {
    while (n > 0) {
      if (free_ == 0) {
        bytes_.push_back(0);
        free_ = 8;
      }
      int take = n < free_ ? n : free_;
      uint64_t chunk = (v >> (n - take)) & ((1ULL << take) - 1);
      bytes_.back() |= static_cast<uint8_t>(chunk << (free_ - take));
      free_ = static_cast<uint8_t>(free_ - take);
      n -= take;
    }
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
  explicit BitReader(std::span<const uint8_t> data) : data_(data) {}

  bool ReadBit() {
    if (pos_ >= data_.size() * 8) {
      overflow_ = true;
      return false;
    }
    bool bit = (data_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1;
    ++pos_;
    return bit;
  }

  uint64_t ReadBits(int n) {
    if (pos_ + static_cast<size_t>(n) > data_.size() * 8) {
      overflow_ = true;
      pos_ = data_.size() * 8;
      return 0;
    }
    uint64_t v = 0;
    while (n > 0) {
      int in_byte = 8 - static_cast<int>(pos_ & 7);
      int take = n < in_byte ? n : in_byte;
      uint8_t byte = data_[pos_ >> 3];
      uint64_t bits = (byte >> (in_byte - take)) & ((1u << take) - 1);
      v = (v << take) | bits;
      pos_ += take;
      n -= take;
    }
    return v;
  }

  uint8_t ReadByte() { return static_cast<uint8_t>(ReadBits(8)); }
  bool overflow() const { return overflow_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool overflow_ = false;
};

}  // namespace strata::chunkenc
