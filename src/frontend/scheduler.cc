#include "frontend/scheduler.h"

#include <fmt/format.h>

#include <algorithm>

namespace strata::frontend {

// The tasks of one RunGroup call, taken one at a time by the caller and by workers.
struct FairScheduler::Group {
  std::mutex mu;
  std::condition_variable done;
  std::deque<std::function<void()>> pending GUARDED_BY(mu);
  size_t unfinished GUARDED_BY(mu) = 0;

  // Runs one pending task; false if none was left. `more` tells whether others wait.
  bool RunOne(bool* more) EXCLUDES(mu) {
    std::function<void()> task;
    {
      std::lock_guard lk(mu);
      if (pending.empty()) return false;
      task = std::move(pending.front());
      pending.pop_front();
    }
    task();
    std::lock_guard lk(mu);
    *more = !pending.empty();
    if (--unfinished == 0) done.notify_all();
    return true;
  }
};

FairScheduler::FairScheduler(SchedulerOptions opts) : opts_(opts) {
  size_t n = opts_.workers != 0 ? opts_.workers : std::max(1u, std::thread::hardware_concurrency());
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
}

FairScheduler::~FairScheduler() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void FairScheduler::Enqueue(const std::string& tenant, Item item) {
  Tenant& t = tenants_[tenant];
  if (t.queue.empty()) turn_.push_back(tenant);
  t.queue.push_back(std::move(item));
}

Status FairScheduler::Submit(const std::string& tenant, std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (stop_) return Status::Unavailable("the server is shutting down");
    Tenant& t = tenants_[tenant];
    if (t.outstanding >= opts_.max_outstanding_per_tenant) {
      return Status::ResourceExhausted(
          fmt::format("too many outstanding requests for tenant {} (limit "
                      "frontend.max_outstanding_per_tenant: {}); retry later",
                      tenant, opts_.max_outstanding_per_tenant));
    }
    ++t.outstanding;
    Enqueue(tenant, Item{std::move(task), nullptr, true});
  }
  cv_.notify_one();
  return Status::Ok();
}

void FairScheduler::RunGroup(const std::string& tenant, std::vector<std::function<void()>> tasks,
                             size_t parallelism) {
  if (tasks.empty()) return;
  auto group = std::make_shared<Group>();
  size_t helpers = std::min(std::max<size_t>(parallelism, 1), tasks.size()) - 1;
  {
    std::lock_guard lk(group->mu);
    group->unfinished = tasks.size();
    for (auto& t : tasks) group->pending.push_back(std::move(t));
  }
  if (helpers > 0) {
    {
      std::lock_guard lk(mu_);
      for (size_t i = 0; i < helpers; ++i) Enqueue(tenant, Item{{}, group, false});
    }
    cv_.notify_all();
  }
  bool more = false;
  while (group->RunOne(&more)) {
  }
  std::unique_lock lk(group->mu);
  group->done.wait(lk, [&] { return group->unfinished == 0; });
}

void FairScheduler::Work() {
  for (;;) {
    Item item;
    std::string tenant;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !turn_.empty(); });
      if (turn_.empty()) return;
      tenant = std::move(turn_.front());
      turn_.pop_front();
      Tenant& t = tenants_[tenant];
      item = std::move(t.queue.front());
      t.queue.pop_front();
      if (!t.queue.empty()) turn_.push_back(tenant);
    }
    bool more = false;
    if (item.group) {
      // One sub-query, then the group goes to the back of its tenant's queue again.
      item.group->RunOne(&more);
    } else {
      item.task();
    }
    std::unique_lock lk(mu_);
    if (more) {
      Enqueue(tenant, Item{{}, std::move(item.group), false});
      lk.unlock();
      cv_.notify_one();
      continue;
    }
    Tenant& t = tenants_[tenant];
    if (item.request) --t.outstanding;
    if (t.outstanding == 0 && t.queue.empty()) tenants_.erase(tenant);
  }
}

}  // namespace strata::frontend
