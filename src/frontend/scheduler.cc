#include "frontend/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/mutex.h"
#include "base/parallel.h"

namespace strata::frontend {
namespace {

using Clock = std::chrono::steady_clock;

// Set on the scheduler's own threads, so RunGroup knows whether its caller holds a slot.
thread_local const FairScheduler* tl_scheduler = nullptr;
// Time the current item spent waiting in RunGroup, not charged to its tenant.
thread_local Clock::duration tl_blocked{};

constexpr double kUsageDecaySeconds = 10;
// Threads beyond the slots, for requests waiting on their sub-queries.
constexpr size_t kSpareThreads = 64;

// A paused query waits at most this long before it looks again.
constexpr auto kMaxPause = std::chrono::seconds(1);
// A tenant that used less worker time than this recently never pauses for others.
constexpr double kMinUsageToYield = 0.2;
// A light tenant counts as busy this long after its last item, so that its next request (a
// dashboard's next panel) does not find the heavy tenant's queries running again.
constexpr auto kBusyGrace = std::chrono::milliseconds(50);

double Decayed(double usage, Clock::time_point at, Clock::time_point now) {
  return usage * std::exp(-std::chrono::duration<double>(now - at).count() / kUsageDecaySeconds);
}

double Seconds(Clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

// The tasks of one RunGroup call, taken one at a time by the scheduler's threads.
struct FairScheduler::Group {
  Mutex mu;
  std::condition_variable done;
  std::deque<std::function<void()>> pending GUARDED_BY(mu);
  size_t unfinished GUARDED_BY(mu) = 0;

  // Runs one pending task; false if none was left. `more` tells whether others wait.
  bool RunOne(bool* more) EXCLUDES(mu) {
    std::function<void()> task;
    {
      MutexLock lk(mu);
      if (pending.empty()) return false;
      task = std::move(pending.front());
      pending.pop_front();
    }
    task();
    MutexLock lk(mu);
    *more = !pending.empty();
    if (--unfinished == 0) done.notify_all();
    return true;
  }
};

FairScheduler::FairScheduler(SchedulerOptions opts, prometheus::Registry* registry)
    : opts_(opts),
      slots_(opts.workers != 0 ? opts.workers : std::max(1u, std::thread::hardware_concurrency())),
      max_threads_(slots_ + kSpareThreads) {
  if (registry != nullptr) {
    queued_gauge_ = &prometheus::BuildGauge()
                         .Name("strata_query_queue_length")
                         .Help("Queries and sub-queries waiting for a query worker, by tenant.")
                         .Register(*registry);
    pauses_ = &prometheus::BuildCounter()
                   .Name("strata_query_pauses_total")
                   .Help("Running queries paused so that a lighter tenant's work ran first.")
                   .Register(*registry);
  }
  MutexLock lk(mu_);
  for (size_t i = 0; i < slots_; ++i) Spawn();
}

FairScheduler::~FairScheduler() {
  {
    MutexLock lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (;;) {
    std::vector<std::thread> threads;
    {
      MutexLock lk(mu_);
      threads.swap(threads_);
    }
    if (threads.empty()) break;
    for (auto& t : threads) t.join();
  }
}

void FairScheduler::Spawn() {
  threads_.emplace_back([this] { Work(); });
}

void FairScheduler::Enqueue(const std::string& tenant, Item item) {
  Tenant& t = tenants_[tenant];
  t.queue.push_back(std::move(item));
  ++queued_;
  SetQueued(tenant, t.queue.size());
  UpdateContended();
}

void FairScheduler::SetQueued(const std::string& tenant, size_t n) {
  if (queued_gauge_ != nullptr) {
    queued_gauge_->Add({{"tenant", tenant}}).Set(static_cast<double>(n));
  }
}

double FairScheduler::Usage(const Tenant& t, Clock::time_point now) {
  return Decayed(t.usage_s, t.usage_at, now) + static_cast<double>(t.running) * Seconds(now) -
         t.running_since_s;
}

bool FairScheduler::LighterBusy(const std::string& tenant, Clock::time_point now) {
  auto me = tenants_.find(tenant);
  if (me == tenants_.end()) return false;
  double mine = Usage(me->second, now);
  if (mine < kMinUsageToYield) return false;
  for (const auto& [name, t] : tenants_) {
    bool busy = !t.queue.empty() || t.running > 0 || now - t.last_done < kBusyGrace;
    if (name != tenant && busy && Usage(t, now) < mine / 2) return true;
  }
  return false;
}

void FairScheduler::UpdateContended() {
  auto now = Clock::now();
  size_t busy = 0;
  for (const auto& [name, t] : tenants_) {
    busy += (!t.queue.empty() || t.running > 0 || now - t.last_done < kBusyGrace) ? 1 : 0;
  }
  contended_.store(busy > 1, std::memory_order_relaxed);
}

std::map<std::string, FairScheduler::Tenant>::iterator FairScheduler::Next() {
  auto now = Clock::now();
  auto best = tenants_.end();
  double best_usage = std::numeric_limits<double>::infinity();
  for (auto it = tenants_.begin(); it != tenants_.end(); ++it) {
    if (it->second.queue.empty()) continue;
    double u = Usage(it->second, now);
    if (u < best_usage) {
      best_usage = u;
      best = it;
    }
  }
  return best;
}

Status FairScheduler::Submit(const std::string& tenant, std::function<void()> task) {
  {
    MutexLock lk(mu_);
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
  {
    MutexLock lk(group->mu);
    group->unfinished = tasks.size();
    for (auto& t : tasks) group->pending.push_back(std::move(t));
  }
  size_t shares = std::min(std::max<size_t>(parallelism, 1), tasks.size());
  const bool holds_slot = tl_scheduler == this;
  UniqueLock lk(mu_);
  if (holds_slot && (threads_.size() >= max_threads_ || (stop_ && idle_ == 0))) {
    // No thread could take the slot over: run the group in it.
    lk.unlock();
    bool more = false;
    while (group->RunOne(&more)) {
    }
  } else {
    for (size_t i = 0; i < shares; ++i) Enqueue(tenant, Item{{}, group, false});
    if (holds_slot) {
      // Wait without the slot: another thread runs queued work (sub-queries included).
      --running_;
      if (idle_ == 0) Spawn();
    }
    lk.unlock();
    cv_.notify_all();
  }
  auto began = Clock::now();
  {
    UniqueLock g(group->mu);
    g.Wait(group->done, [&]() REQUIRES(group->mu) { return group->unfinished == 0; });
  }
  if (holds_slot) {
    tl_blocked += Clock::now() - began;
    MutexLock relock(mu_);
    ++running_;  // back in a slot (briefly over the count if all are taken)
  }
}

void FairScheduler::Yield(const std::string& tenant) {
  if (!contended_.load(std::memory_order_relaxed)) return;
  UniqueLock lk(mu_);
  auto began = Clock::now();
  if (!LighterBusy(tenant, began)) return;
  if (pauses_ != nullptr) pauses_->Add({{"tenant", tenant}}).Increment();
  const bool holds_slot = tl_scheduler == this;
  if (holds_slot) {
    // Paused: the slot goes to the lighter tenant's work.
    --running_;
    if (idle_ == 0 && !stop_ && threads_.size() < max_threads_) Spawn();
    cv_.notify_all();
  }
  auto deadline = began + kMaxPause;
  BlockingRegion([&]() REQUIRES(mu_) {
    // Woken when an item finishes; the grace period ends unannounced, so look every 10 ms.
    for (auto now = began; now < deadline && LighterBusy(tenant, now); now = Clock::now()) {
      lk.WaitUntil(yield_cv_, std::min(deadline, now + std::chrono::milliseconds(10)));
    }
  });
  if (holds_slot) {
    ++running_;
    tl_blocked += Clock::now() - began;
  }
}

void FairScheduler::Work() {
  tl_scheduler = this;
  UniqueLock lk(mu_);
  for (;;) {
    ++idle_;
    lk.Wait(cv_, [this]() REQUIRES(mu_) {
      return (queued_ > 0 && running_ < slots_) || (stop_ && queued_ == 0);
    });
    --idle_;
    if (queued_ == 0) return;  // stopping, and nothing is left
    auto it = Next();
    std::string tenant = it->first;
    Item item = std::move(it->second.queue.front());
    it->second.queue.pop_front();
    --queued_;
    SetQueued(tenant, it->second.queue.size());
    ++running_;
    auto began = Clock::now();
    it->second.running++;
    it->second.running_since_s += Seconds(began);
    lk.unlock();

    tl_blocked = {};
    bool more = false;
    if (item.group) {
      item.group->RunOne(&more);  // one sub-query, then the share queues again
    } else {
      item.task();
    }
    auto now = Clock::now();
    double held = std::chrono::duration<double>(now - began - tl_blocked).count();

    lk.lock();
    --running_;
    Tenant& t = tenants_[tenant];
    t.usage_s = Decayed(t.usage_s, t.usage_at, now) + held;
    t.usage_at = now;
    t.running--;
    t.running_since_s -= Seconds(began);
    t.last_done = now;
    if (more) Enqueue(tenant, Item{{}, std::move(item.group), false});
    if (item.request) --t.outstanding;
    UpdateContended();
    cv_.notify_all();
    yield_cv_.notify_all();
  }
}

}  // namespace strata::frontend
