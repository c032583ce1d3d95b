#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace strata::proto {

// Protocol-buffers wire types.
enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// WireReader walks the fields of one protobuf message in a borrowed buffer. It never reads
// past the end: malformed input sets `error()` and ends iteration. Not thread-safe.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  // Reads the next field's key; false at the end of the message or on error.
  bool NextField() {
    if (p_ == end_ || error_) return false;
    uint64_t key;
    if (!ReadVarint(&key)) return false;
    field_ = static_cast<uint32_t>(key >> 3);
    wire_type_ = static_cast<uint8_t>(key & 7);
    if (field_ == 0) return Fail();
    return true;
  }

  uint32_t field() const { return field_; }
  uint8_t wire_type() const { return wire_type_; }
  bool error() const { return error_; }

  bool ReadVarint(uint64_t* out) {
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
  bool ReadFixed64(uint64_t* out) {
    if (end_ - p_ < 8) return Fail();
    std::memcpy(out, p_, 8);
    p_ += 8;
    return true;
  }
  bool ReadDouble(double* out) {
    uint64_t bits;
    if (!ReadFixed64(&bits)) return false;
    std::memcpy(out, &bits, 8);
    return true;
  }
  // A length-delimited field's bytes, borrowed from the buffer.
  bool ReadBytes(std::string_view* out) {
    uint64_t n;
    if (!ReadVarint(&n)) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return Fail();
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  // Reads a value of the current field's wire type, checking it matches `want`.
  bool Expect(WireType want) { return wire_type_ == static_cast<uint8_t>(want) || Fail(); }
  // Skips the current field's value (unknown fields are ignored, as protobuf requires).
  bool Skip() {
    uint64_t tmp;
    std::string_view sv;
    switch (wire_type_) {
      case 0:
        return ReadVarint(&tmp);
      case 1:
        return ReadFixed64(&tmp);
      case 2:
        return ReadBytes(&sv);
      case 5:
        if (end_ - p_ < 4) return Fail();
        p_ += 4;
        return true;
      default:
        return Fail();
    }
  }

 private:
  bool Fail() {
    error_ = true;
    p_ = end_;
    return false;
  }

  const char* p_;
  const char* end_;
  uint32_t field_ = 0;
  uint8_t wire_type_ = 0;
  bool error_ = false;
};

// Appending encoders. Each writes one complete field.
inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void PutKey(std::string& out, uint32_t field, WireType wt) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint8_t>(wt));
}
inline void PutVarintField(std::string& out, uint32_t field, uint64_t v) {
  PutKey(out, field, WireType::kVarint);
  PutVarint(out, v);
}
inline void PutDoubleField(std::string& out, uint32_t field, double v) {
  PutKey(out, field, WireType::kFixed64);
  char buf[8];
  std::memcpy(buf, &v, 8);
  out.append(buf, 8);
}
inline void PutBytesField(std::string& out, uint32_t field, std::string_view v) {
  PutKey(out, field, WireType::kLen);
  PutVarint(out, v.size());
  out.append(v);
}
inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace strata::proto
