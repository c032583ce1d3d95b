#pragma once

#include <bit>
#include <cstdint>
#include <vector>

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

// Merges `more` into `acc`, both sorted by time (t), keeping the point of `acc` where a time
// repeats; `scratch` is working space. For float and histogram samples alike.
template <typename T>
void MergeByTime(std::vector<T>& acc, const std::vector<T>& more, std::vector<T>& scratch) {
  if (acc.empty()) {
    acc = more;
    return;
  }
  if (more.empty()) return;
  if (acc.back().t < more.front().t) {
    acc.insert(acc.end(), more.begin(), more.end());
    return;
  }
  scratch.clear();
  scratch.reserve(acc.size() + more.size());
  size_t a = 0;
  size_t b = 0;
  while (a < acc.size() || b < more.size()) {
    if (b == more.size() || (a < acc.size() && acc[a].t <= more[b].t)) {
      if (b < more.size() && acc[a].t == more[b].t) ++b;
      scratch.push_back(acc[a++]);
    } else {
      scratch.push_back(more[b++]);
    }
  }
  acc.swap(scratch);
}

}  // namespace strata
