#pragma once

#include <cstdint>

// Tests of all 8 bytes of a word at once, for scanning text a word at a time (the classic bit
// tricks: each answer is exact for the word as a whole, not for which byte matched).
namespace strata::swar {

inline constexpr uint64_t kOnes = 0x0101010101010101ULL;
inline constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Whether a byte of `w` is 0x80 or above (not ASCII).
constexpr bool HasHighByte(uint64_t w) { return (w & kHighs) != 0; }
// Whether a byte of `w` is below `n`, for n at most 0x80.
constexpr bool HasByteBelow(uint64_t w, uint8_t n) { return ((w - kOnes * n) & ~w & kHighs) != 0; }
// Whether a byte of `w` equals `c`.
constexpr bool HasByte(uint64_t w, uint8_t c) { return HasByteBelow(w ^ (kOnes * c), 1); }

}  // namespace strata::swar
