#include "base/parallel.h"

#include "base/mutex.h"

namespace strata {

namespace {

thread_local bool tl_helper = false;  // this thread is one of the CPU helpers

// Threads that pick up "help with this job" requests; they live for the process. The CPU
// helpers are one per core (plus spares for helpers that block a while); the blocking pool
// starts a thread whenever a request finds none idle, up to its cap, and keeps it, so a call
// that fans out over object-store reads does not pay for creating threads.
class Helpers {
 public:
  // Never destroyed: their detached threads outlive main.
  static Helpers& Cpu() {
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): leaked on purpose, see above
    static auto* h = new Helpers(std::max(1u, std::thread::hardware_concurrency()), 0, true);
    return *h;
  }
  static Helpers& Blocking() {
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): leaked on purpose, see above
    static auto* h = new Helpers(0, kMaxBlocking, false);
    return *h;
  }

  void Offer(const std::function<void()>& task, size_t copies) EXCLUDES(mu_) {
    {
      MutexLock lk(mu_);
      for (size_t i = 0; i < copies; ++i) queue_.push_back(task);
      while (idle_ < queue_.size() && threads_ < max_threads_) Start();
    }
    cv_.notify_all();
  }
  size_t size() const { return cores_; }

  // A CPU helper about to wait for a while: another one takes its place if none is idle.
  void StartSpareIfBusy() EXCLUDES(mu_) {
    MutexLock lk(mu_);
    if (idle_ == 0 && spare_ < kMaxSpare) {
      ++spare_;
      Start();
    }
  }

 private:
  static constexpr size_t kMaxSpare = 256;
  static constexpr size_t kMaxBlocking = 256;

  // `n` threads now; more on demand up to `max_threads` (none beyond n when it is 0).
  Helpers(size_t n, size_t max_threads, bool cpu)
      : cores_(n), max_threads_(max_threads), cpu_(cpu) {
    MutexLock lk(mu_);
    for (size_t i = 0; i < n; ++i) Start();
  }
  void Start() REQUIRES(mu_) {
    ++idle_;
    ++threads_;
    std::thread([this] {
      tl_helper = cpu_;
      Run();
    }).detach();
  }
  void Run() EXCLUDES(mu_) {
    UniqueLock lk(mu_);
    for (;;) {
      lk.Wait(cv_, [this]() REQUIRES(mu_) { return !queue_.empty(); });
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      --idle_;
      lk.unlock();
      task();
      lk.lock();
      ++idle_;
    }
  }

  const size_t cores_;
  const size_t max_threads_;
  const bool cpu_;
  Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  size_t idle_ GUARDED_BY(mu_) = 0;     // threads not running a task
  size_t threads_ GUARDED_BY(mu_) = 0;  // threads started
  size_t spare_ GUARDED_BY(mu_) = 0;    // threads started for blocked CPU helpers
};

struct Job {
  size_t n;
  size_t grain;
  const std::function<void(size_t, size_t)>* fn;
  std::atomic<size_t> next{0};
  Mutex mu;
  std::condition_variable cv;
  size_t running GUARDED_BY(mu) = 0;   // participants inside a chunk
  bool closed GUARDED_BY(mu) = false;  // no new participants once the caller has finished

  // Takes chunks until none are left. False if the job was already over.
  bool Work() {
    {
      MutexLock lk(mu);
      if (closed) return false;
      ++running;
    }
    for (;;) {
      size_t begin = next.fetch_add(grain);
      if (begin >= n) break;
      (*fn)(begin, std::min(n, begin + grain));
    }
    MutexLock lk(mu);
    if (--running == 0) cv.notify_all();
    return true;
  }
};

// Runs fn over chunks of [0, n) on the calling thread and on up to `helpers` threads of
// `pool`; waits only for the helpers that started a chunk.
void RunJob(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn, Helpers& pool,
            size_t helpers) {
  auto job = std::make_shared<Job>();
  job->n = n;
  job->grain = grain;
  job->fn = &fn;
  pool.Offer([job] { job->Work(); }, helpers);
  job->Work();
  UniqueLock lk(job->mu);
  job->closed = true;  // late helpers see this and leave `fn` alone
  lk.Wait(job->cv, [&]() REQUIRES(job->mu) { return job->running == 0; });
}

}  // namespace

void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (grain == 0) grain = 1;
  size_t chunks = (n + grain - 1) / grain;
  if (chunks <= 1) {
    if (n > 0) fn(0, n);
    return;
  }
  Helpers& helpers = Helpers::Cpu();
  RunJob(n, grain, fn, helpers, std::min(chunks - 1, helpers.size()));
}

void BlockingRegion(const std::function<void()>& wait) {
  if (tl_helper) Helpers::Cpu().StartSpareIfBusy();
  wait();
}

Status RunConcurrently(size_t n, size_t threads, const std::function<Status(size_t)>& fn) {
  if (n <= 1 || threads <= 1) {
    for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(fn(i));
    return Status::Ok();
  }
  std::atomic<bool> failed{false};
  Mutex mu;
  Status first;
  std::function<void(size_t, size_t)> one = [&](size_t i, size_t) {
    if (failed) return;
    Status st = fn(i);
    if (st.ok()) return;
    MutexLock lk(mu);
    if (first.ok()) first = st;
    failed = true;
  };
  RunJob(n, 1, one, Helpers::Blocking(), std::min(n, threads) - 1);
  return first;
}

}  // namespace strata
