#include "base/swar.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <initializer_list>

namespace strata::swar {
namespace {

uint64_t Word(const std::array<uint8_t, 8>& bytes) {
  uint64_t w = 0;
  std::memcpy(&w, bytes.data(), 8);
  return w;
}

// Every pair of byte values at every pair of places, against the byte-by-byte definitions.
TEST(Swar, WordTestsAgreeWithEveryByte) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      for (size_t i = 0; i < 8; ++i) {
        for (size_t j = 0; j < 8; j += 3) {
          std::array<uint8_t, 8> bytes;
          bytes.fill('m');
          bytes[j] = static_cast<uint8_t>(b);
          bytes[i] = static_cast<uint8_t>(a);
          const uint64_t w = Word(bytes);
          bool high = false;
          for (uint8_t x : bytes) high |= x >= 0x80;
          ASSERT_EQ(HasHighByte(w), high) << a << " " << b;
          for (int n : std::initializer_list<int>{1, 0x20, 0x21, 0x61, 0x80}) {
            bool below = false;
            for (uint8_t x : bytes) below |= x < n;
            ASSERT_EQ(HasByteBelow(w, static_cast<uint8_t>(n)), below)
                << a << " " << b << " below " << int(n);
          }
          for (int c : std::initializer_list<int>{0, '"', '\\', '=', 'm', 0x7f, 0x80, 0xff}) {
            bool has = false;
            for (uint8_t x : bytes) has |= x == c;
            ASSERT_EQ(HasByte(w, static_cast<uint8_t>(c)), has)
                << a << " " << b << " has " << int(c);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace strata::swar
