#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"

namespace strata::frontend {

struct SchedulerOptions {
  size_t workers = 0;                       // 0: one per core
  size_t max_outstanding_per_tenant = 100;  // queued + running requests of one tenant
};

// FairScheduler runs queries on a fixed set of worker threads, taking work from per-tenant
// queues in turn (round robin), so one tenant's flood of requests waits behind its own
// queue while other tenants' requests start at the next free worker. Sub-queries of a split
// query join the same queues. Thread-safe. The destructor finishes queued work and joins.
class FairScheduler {
 public:
  explicit FairScheduler(SchedulerOptions opts);
  ~FairScheduler();
  FairScheduler(const FairScheduler&) = delete;
  FairScheduler& operator=(const FairScheduler&) = delete;

  // Queues a request of `tenant`. ResourceExhausted when the tenant already has
  // max_outstanding_per_tenant requests queued or running (the task is dropped).
  Status Submit(const std::string& tenant, std::function<void()> task) EXCLUDES(mu_);

  // Runs `tasks` (sub-queries of one request of `tenant`) with up to `parallelism` of them
  // at once and returns when all are done. The calling thread runs tasks too, so this never
  // waits for a worker that is itself waiting here; the others are picked up by workers in
  // the tenant's turn.
  void RunGroup(const std::string& tenant, std::vector<std::function<void()>> tasks,
                size_t parallelism) EXCLUDES(mu_);

  size_t workers() const { return threads_.size(); }

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
  };

  void Enqueue(const std::string& tenant, Item item) REQUIRES(mu_);
  void Work() EXCLUDES(mu_);

  const SchedulerOptions opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Tenant> tenants_ GUARDED_BY(mu_);
  std::deque<std::string> turn_ GUARDED_BY(mu_);  // tenants with queued work, in turn order
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata::frontend
