#pragma once

#include <atomic>
#include <cstdint>

#include "agent/config.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace strata::agent {

// BackendHealth is one backend's up/down state with hysteresis: it goes down after
// `unhealthy_after` failures in a row and comes back after `healthy_after` successes in a
// row, whether they come from active probes or from sends. Starts up. Thread-safe.
class BackendHealth {
 public:
  explicit BackendHealth(HealthOptions opts) : opts_(opts) {}

  bool up() const { return up_.load(std::memory_order_relaxed); }
  // Records one probe or send outcome; returns true when it changed the state.
  bool Report(bool ok) EXCLUDES(mu_);
  uint64_t transitions() const { return transitions_.load(std::memory_order_relaxed); }

 private:
  const HealthOptions opts_;
  Mutex mu_;
  int streak_ GUARDED_BY(mu_) = 0;  // > 0: successes in a row, < 0: failures in a row
  std::atomic<bool> up_{true};
  std::atomic<uint64_t> transitions_{0};
};

}  // namespace strata::agent
