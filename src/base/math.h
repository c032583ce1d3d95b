#pragma once

#include <cstdint>
#include <limits>

namespace strata {

// a / b rounded toward negative infinity (b != 0): the index of the aligned window of width b
// that holds a, for negative timestamps too.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - static_cast<int64_t>(a % b != 0 && (a < 0) != (b < 0));
}

static_assert(FloorDiv(7, 2) == 3 && FloorDiv(-7, 2) == -4 && FloorDiv(-8, 2) == -4 &&
              FloorDiv(7, -2) == -4);

// a / b rounded toward positive infinity (b > 0), without overflowing near the limits.
constexpr int64_t CeilDiv(int64_t a, int64_t b) { return FloorDiv(a, b) + (a % b != 0 ? 1 : 0); }

static_assert(CeilDiv(7, 2) == 4 && CeilDiv(-7, 2) == -3 && CeilDiv(8, 2) == 4 &&
              CeilDiv(INT64_MAX, 1'000'000) == INT64_MAX / 1'000'000 + 1);

// a - b, clamped to int64_t's range instead of overflowing.
constexpr int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_sub_overflow(a, b, &out)) return out;
  return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// a + b and a * b, clamped to int64_t's range instead of overflowing.
constexpr int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}
constexpr int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_mul_overflow(a, b, &out)) return out;
  return (a < 0) != (b < 0) ? std::numeric_limits<int64_t>::min()
                            : std::numeric_limits<int64_t>::max();
}

static_assert(SaturatingAdd(std::numeric_limits<int64_t>::max(), 1) ==
                  std::numeric_limits<int64_t>::max() &&
              SaturatingMul(std::numeric_limits<int64_t>::max() / 2, 3) ==
                  std::numeric_limits<int64_t>::max() &&
              SaturatingMul(-4, std::numeric_limits<int64_t>::max()) ==
                  std::numeric_limits<int64_t>::min() &&
              SaturatingMul(-4, 5) == -20);

static_assert(SaturatingSub(5, 7) == -2 &&
              SaturatingSub(std::numeric_limits<int64_t>::min(), 1) ==
                  std::numeric_limits<int64_t>::min() &&
              SaturatingSub(std::numeric_limits<int64_t>::max(), -1) ==
                  std::numeric_limits<int64_t>::max());

}  // namespace strata
