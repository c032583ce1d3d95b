#include "base/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace strata {
namespace {

TEST(ParallelFor, CoversEveryIndexOnce) {
  for (size_t n : {0u, 1u, 7u, 1000u, 100003u}) {
    std::vector<std::atomic<int>> hits(n);
    ParallelFor(n, 64, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << n << " " << i;
  }
}

TEST(ParallelFor, NestedAndConcurrentCallsFinish) {
  std::atomic<uint64_t> sum{0};
  std::vector<std::thread> callers;
  callers.reserve(4);
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      ParallelFor(64, 1, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) {
          ParallelFor(100, 10, [&](size_t b2, size_t e2) { sum.fetch_add(e2 - b2); });
        }
      });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 4u * 64 * 100);
}

}  // namespace
}  // namespace strata
