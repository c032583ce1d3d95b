#include "agent/export/health.h"

#include "base/mutex.h"

namespace strata::agent {

bool BackendHealth::Report(bool ok) {
  MutexLock lk(mu_);
  streak_ = ok ? std::max(streak_, 0) + 1 : std::min(streak_, 0) - 1;
  bool up = up_.load(std::memory_order_relaxed);
  bool next = up ? streak_ > -opts_.unhealthy_after : streak_ >= opts_.healthy_after;
  if (next == up) return false;
  up_.store(next, std::memory_order_relaxed);
  transitions_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace strata::agent
