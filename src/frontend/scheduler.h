#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace strata::frontend {

struct SchedulerOptions {
  size_t workers = 0;                       // queries run at once; 0: one per core
  size_t max_outstanding_per_tenant = 100;  // queued + running requests of one tenant
};

// FairScheduler runs queries and their sub-queries in `workers` slots, taken from
// per-tenant queues: the next free slot goes to the waiting tenant that used the least
// worker time recently (decaying over ~10 s), so a tenant flooding the server waits behind
// itself while a light tenant's request starts at the next free slot. A request waiting
// for its sub-queries gives its slot up (another thread takes it) instead of holding it, and
// a running query of a heavy tenant pauses at its next Yield() while a much lighter tenant
// has work, so that work gets the CPU at once. Thread-safe. The destructor finishes queued
// work and joins.
class FairScheduler {
 public:
  // `registry` (may be null) gets the queue depth per tenant and the pauses.
  explicit FairScheduler(SchedulerOptions opts, prometheus::Registry* registry = nullptr);
  ~FairScheduler();
  FairScheduler(const FairScheduler&) = delete;
  FairScheduler& operator=(const FairScheduler&) = delete;

  // Queues a request of `tenant`. ResourceExhausted when the tenant already has
  // max_outstanding_per_tenant requests queued or running (the task is dropped).
  Status Submit(const std::string& tenant, std::function<void()> task) EXCLUDES(mu_);

  // Runs `tasks` (sub-queries of one request of `tenant`) with up to `parallelism` of them
  // at once, each in a slot in the tenant's turn, and returns when all are done.
  void RunGroup(const std::string& tenant, std::vector<std::function<void()>> tasks,
                size_t parallelism) EXCLUDES(mu_);

  // Called by a running query of `tenant` at safe points (the engine's interrupt checks):
  // while a tenant that used far less worker time recently has work queued or running, it
  // blocks (up to 1 s at a time), giving its slot up. Cheap when only one tenant is busy.
  void Yield(const std::string& tenant) EXCLUDES(mu_);

  size_t workers() const { return slots_; }

 private:
  struct Group;
  struct Item {
    std::function<void()> task;  // a request; or empty for a share of `group`
    std::shared_ptr<Group> group;
    bool request = false;  // counts against the tenant's outstanding requests
  };
  struct Tenant {
    std::deque<Item> queue;
    size_t outstanding = 0;
    size_t running = 0;
    double usage_s = 0;  // worker time of finished items, decayed to usage_at
    std::chrono::steady_clock::time_point usage_at;
    double running_since_s = 0;  // sum over running items of their start (steady seconds)
    std::chrono::steady_clock::time_point last_done;  // when an item of it last finished
  };

  void Enqueue(const std::string& tenant, Item item) REQUIRES(mu_);
  void SetQueued(const std::string& tenant, size_t n) REQUIRES(mu_);
  // The waiting tenant with the least recent usage; queued_ must be > 0.
  std::map<std::string, Tenant>::iterator Next() REQUIRES(mu_);
  // Worker time used recently, running items included.
  static double Usage(const Tenant& t, std::chrono::steady_clock::time_point now);
  // True if another tenant with work used less than half of `tenant`'s recent worker time.
  bool LighterBusy(const std::string& tenant, std::chrono::steady_clock::time_point now)
      REQUIRES(mu_);
  // Whether more than one tenant has work, for Yield's fast path.
  void UpdateContended() REQUIRES(mu_);
  void Spawn() REQUIRES(mu_);
  void Work() EXCLUDES(mu_);

  const SchedulerOptions opts_;
  const size_t slots_;
  const size_t max_threads_;
  Mutex mu_;
  std::condition_variable cv_;
  std::condition_variable yield_cv_;  // an item finished: paused queries look again
  std::atomic<bool> contended_{false};
  std::map<std::string, Tenant> tenants_ GUARDED_BY(mu_);  // every tenant seen (few)
  size_t queued_ GUARDED_BY(mu_) = 0;                      // items in all queues
  size_t running_ GUARDED_BY(mu_) = 0;                     // items holding a slot
  size_t idle_ GUARDED_BY(mu_) = 0;                        // threads waiting for an item
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
  prometheus::Family<prometheus::Gauge>* queued_gauge_ = nullptr;
  prometheus::Family<prometheus::Counter>* pauses_ = nullptr;
};

}  // namespace strata::frontend
