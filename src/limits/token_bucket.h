#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace strata::limits {

// TokenBucket admits `rate` units per second on average with bursts up to `burst` units.
// Thread-safe.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // Takes `n` tokens if available. Otherwise takes none and returns the seconds until `n`
  // tokens will be there (at least 1; a request larger than the burst can never pass, and
  // gets the time to refill the whole bucket). Returns 0 on success.
  int64_t Take(double n, double rate, double burst, Clock::time_point now = Clock::now()) {
    if (rate <= 0) return 0;  // unlimited
    MutexLock lk(mu_);
    if (!started_) {
      tokens_ = burst;
      last_ = now;
      started_ = true;
    }
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst, tokens_ + std::max(0.0, elapsed) * rate);
    last_ = now;
    if (n <= tokens_) {
      tokens_ -= n;
      return 0;
    }
    double need = std::min(n, burst) - tokens_;
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(need / rate)));
  }

 private:
  Mutex mu_;
  bool started_ GUARDED_BY(mu_) = false;
  double tokens_ GUARDED_BY(mu_) = 0;
  Clock::time_point last_ GUARDED_BY(mu_);
};

}  // namespace strata::limits
