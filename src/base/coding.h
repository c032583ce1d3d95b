#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace strata {

// Little-endian fixed-width and LEB128 varint encoding, shared by every binary format.

inline void PutUvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
inline void PutVarint(std::string& out, int64_t v) { PutUvarint(out, ZigZagEncode(v)); }
inline size_t UvarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
inline void PutFixed32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // little-endian hosts only (x86_64, aarch64)
  out.append(b, 4);
}
inline void PutFixed64(std::string& out, uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}
inline void PutDouble(std::string& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  PutFixed64(out, bits);
}
inline void PutLengthPrefixed(std::string& out, std::string_view s) {
  PutUvarint(out, s.size());
  out.append(s);
}
inline uint32_t LoadFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ByteReader consumes a borrowed buffer. Every read is bounds-checked: a short or malformed
// read returns false, sets `error()` and leaves the reader at the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  bool empty() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool error() const { return error_; }

  bool ReadUvarint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      auto b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return Fail();
  }
  bool ReadVarint(int64_t* out) {
    uint64_t u;
    if (!ReadUvarint(&u)) return false;
    *out = ZigZagDecode(u);
    return true;
  }
  bool ReadFixed32(uint32_t* out) { return ReadRaw(out, 4); }
  bool ReadFixed64(uint64_t* out) { return ReadRaw(out, 8); }
  bool ReadDouble(double* out) { return ReadRaw(out, 8); }
  bool ReadByte(uint8_t* out) { return ReadRaw(out, 1); }
  bool ReadBytes(size_t n, std::string_view* out) {
    if (n > remaining()) return Fail();
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool ReadLengthPrefixed(std::string_view* out) {
    uint64_t n;
    return ReadUvarint(&n) && ReadBytes(n, out);
  }
  bool Skip(size_t n) {
    if (n > remaining()) return Fail();
    p_ += n;
    return true;
  }
  bool Fail() {
    error_ = true;
    p_ = end_;
    return false;
  }

 private:
  bool ReadRaw(void* out, size_t n) {
    if (n > remaining()) return Fail();
    std::memcpy(out, p_, n);
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
  bool error_ = false;
};

}  // namespace strata
