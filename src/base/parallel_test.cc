#include "base/parallel.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
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

// Every item runs once, in parallel when items block, and the first error stops the rest.
TEST(RunConcurrently, RunsItemsInParallelAndStopsAtTheFirstError) {
  std::vector<std::atomic<int>> hits(16);
  auto began = std::chrono::steady_clock::now();
  Status st = RunConcurrently(16, 8, [&](size_t i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    hits[i].fetch_add(1);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok());
  for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
  // 16 items of 50 ms on 8 threads: about 100 ms, far below 800 ms one after another.
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(600));

  std::atomic<int> ran{0};
  st = RunConcurrently(1000, 4, [&](size_t i) {
    ran.fetch_add(1);
    return i == 3 ? Status::IOError("item 3") : Status::Ok();
  });
  EXPECT_EQ(st.message(), "item 3");
  EXPECT_LT(ran.load(), 1000);
}

// Calls reuse the pool's threads: a thousand calls run on a handful of threads, not on
// thousands started and joined.
TEST(RunConcurrently, KeepsItsThreads) {
  std::mutex mu;
  std::set<pid_t> tids;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(RunConcurrently(8, 8, [&](size_t) {
                  std::this_thread::sleep_for(std::chrono::microseconds(100));
                  std::lock_guard lk(mu);
                  tids.insert(::gettid());
                  return Status::Ok();
                }).ok());
  }
  EXPECT_LE(tids.size(), 64u);
}

}  // namespace
}  // namespace strata
