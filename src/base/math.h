#pragma once

#include <cstdint>

namespace strata {

// a / b rounded toward negative infinity (b != 0): the index of the aligned window of width b
// that holds a, for negative timestamps too.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - static_cast<int64_t>(a % b != 0 && (a < 0) != (b < 0));
}

static_assert(FloorDiv(7, 2) == 3 && FloorDiv(-7, 2) == -4 && FloorDiv(-8, 2) == -4 &&
              FloorDiv(7, -2) == -4);

}  // namespace strata
