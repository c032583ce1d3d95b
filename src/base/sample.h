#pragma once

#include <bit>
#include <cstdint>

namespace strata {

// One float sample: milliseconds since epoch and value.
struct Sample {
  int64_t t;
  double v;
};

// Prometheus's staleness marker: a specific NaN that ends a series. Compare bits, not values.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }
inline double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }

}  // namespace strata
