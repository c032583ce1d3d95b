#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/coding.h"

namespace strata::proto {

// Protocol-buffers wire types.
enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// WireReader walks the fields of one protobuf message in a borrowed buffer. It never reads
// past the end: malformed input sets `error()` and ends iteration. Not thread-safe.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : r_(data), size_(data.size()) {}

  // Reads the next field's key; false at the end of the message or on error.
  bool NextField() {
    if (r_.empty() || r_.error()) return false;
    field_begin_ = size_ - r_.remaining();
    uint64_t key;
    if (!r_.ReadUvarint(&key)) return false;
    field_ = static_cast<uint32_t>(key >> 3);
    wire_type_ = static_cast<uint8_t>(key & 7);
    if (field_ == 0) return r_.Fail();
    return true;
  }

  uint32_t field() const { return field_; }
  // Offset in the message where the current field (its key) begins.
  size_t field_begin() const { return field_begin_; }
  uint8_t wire_type() const { return wire_type_; }
  bool error() const { return r_.error(); }

  bool ReadVarint(uint64_t* out) { return r_.ReadUvarint(out); }
  bool ReadDouble(double* out) { return r_.ReadDouble(out); }
  bool ReadFixed64(uint64_t* out) { return r_.ReadFixed64(out); }
  bool ReadFixed32(uint32_t* out) { return r_.ReadFixed32(out); }
  // A length-delimited field's bytes, borrowed from the buffer.
  bool ReadBytes(std::string_view* out) { return r_.ReadLengthPrefixed(out); }
  // Checks the current field has wire type `want`; a mismatch is malformed input.
  bool Expect(WireType want) { return wire_type_ == static_cast<uint8_t>(want) || r_.Fail(); }
  // Skips the current field's value (unknown fields are ignored, as protobuf requires).
  bool Skip() {
    uint64_t tmp;
    std::string_view sv;
    switch (wire_type_) {
      case 0:
        return r_.ReadUvarint(&tmp);
      case 1:
        return r_.ReadFixed64(&tmp);
      case 2:
        return r_.ReadLengthPrefixed(&sv);
      case 5:
        return r_.Skip(4);
      default:
        return r_.Fail();
    }
  }

 private:
  ByteReader r_;
  size_t size_;
  size_t field_begin_ = 0;
  uint32_t field_ = 0;
  uint8_t wire_type_ = 0;
};

// A sint32 field's value: zigzag over its low 32 bits, as protobuf decodes it.
inline int32_t DecodeSInt32(uint64_t u) {
  auto v = static_cast<uint32_t>(u);
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}

// Calls fn(value) for each value of the current field, a repeated varint packed or not.
// False on malformed input or when fn refuses a value (returns false).
template <typename Fn>
bool ReadRepeatedVarint(WireReader& r, Fn fn) {
  uint64_t u;
  if (r.wire_type() == static_cast<uint8_t>(WireType::kVarint)) return r.ReadVarint(&u) && fn(u);
  std::string_view packed;
  if (!r.Expect(WireType::kLen) || !r.ReadBytes(&packed)) return false;
  ByteReader p(packed);
  while (!p.empty()) {
    if (!p.ReadUvarint(&u) || !fn(u)) return false;
  }
  return true;
}

// The same for a repeated double.
template <typename Fn>
bool ReadRepeatedDouble(WireReader& r, Fn fn) {
  double d;
  if (r.wire_type() == static_cast<uint8_t>(WireType::kFixed64)) return r.ReadDouble(&d) && fn(d);
  std::string_view packed;
  if (!r.Expect(WireType::kLen) || !r.ReadBytes(&packed) || packed.size() % 8 != 0) return false;
  ByteReader p(packed);
  while (!p.empty()) {
    if (!p.ReadDouble(&d) || !fn(d)) return false;
  }
  return true;
}

// Appending encoders. Each writes one complete field.
inline void PutKey(std::string& out, uint32_t field, WireType wt) {
  PutUvarint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint8_t>(wt));
}
inline void PutVarintField(std::string& out, uint32_t field, uint64_t v) {
  PutKey(out, field, WireType::kVarint);
  PutUvarint(out, v);
}
inline void PutDoubleField(std::string& out, uint32_t field, double v) {
  PutKey(out, field, WireType::kFixed64);
  PutDouble(out, v);
}
inline void PutFixed64Field(std::string& out, uint32_t field, uint64_t v) {
  PutKey(out, field, WireType::kFixed64);
  PutFixed64(out, v);
}
inline void PutFixed32Field(std::string& out, uint32_t field, uint32_t v) {
  PutKey(out, field, WireType::kFixed32);
  PutFixed32(out, v);
}
inline void PutBytesField(std::string& out, uint32_t field, std::string_view v) {
  PutKey(out, field, WireType::kLen);
  PutLengthPrefixed(out, v);
}

}  // namespace strata::proto
