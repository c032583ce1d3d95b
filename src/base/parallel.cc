#include "base/parallel.h"

namespace strata {

namespace {

thread_local bool tl_helper = false;  // this thread is one of the Helpers

// Helper threads that pick up "help with this job" requests. Lives for the process.
class Helpers {
 public:
  static Helpers& Get() {
    static Helpers* h = new Helpers(std::max(1u, std::thread::hardware_concurrency()));
    return *h;
  }

  void Offer(const std::function<void()>& task, size_t copies) EXCLUDES(mu_) {
    {
      std::lock_guard lk(mu_);
      for (size_t i = 0; i < copies; ++i) queue_.push_back(task);
    }
    cv_.notify_all();
  }
  size_t size() const { return cores_; }

  // A helper about to wait for a while: another one takes its place if none is idle.
  void Blocking() EXCLUDES(mu_) {
    std::lock_guard lk(mu_);
    if (idle_ == 0 && spare_ < kMaxSpare) {
      ++spare_;
      Start();
    }
  }

 private:
  static constexpr size_t kMaxSpare = 256;

  explicit Helpers(size_t n) : cores_(n) {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < n; ++i) Start();
  }
  void Start() REQUIRES(mu_) {
    std::thread([this] {
      tl_helper = true;
      Run();
    }).detach();
  }
  void Run() EXCLUDES(mu_) {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lk(mu_);
        ++idle_;
        cv_.wait(lk, [this] { return !queue_.empty(); });
        --idle_;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  const size_t cores_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  size_t idle_ GUARDED_BY(mu_) = 0;
  size_t spare_ GUARDED_BY(mu_) = 0;  // threads started for blocked helpers
};

struct Job {
  size_t n;
  size_t grain;
  const std::function<void(size_t, size_t)>* fn;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  size_t running GUARDED_BY(mu) = 0;   // participants inside a chunk
  bool closed GUARDED_BY(mu) = false;  // no new participants once the caller has finished

  // Takes chunks until none are left. False if the job was already over.
  bool Work() {
    {
      std::lock_guard lk(mu);
      if (closed) return false;
      ++running;
    }
    for (;;) {
      size_t begin = next.fetch_add(grain);
      if (begin >= n) break;
      (*fn)(begin, std::min(n, begin + grain));
    }
    std::lock_guard lk(mu);
    if (--running == 0) cv.notify_all();
    return true;
  }
};

}  // namespace

void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (grain == 0) grain = 1;
  size_t chunks = (n + grain - 1) / grain;
  if (chunks <= 1) {
    if (n > 0) fn(0, n);
    return;
  }
  auto job = std::make_shared<Job>();
  job->n = n;
  job->grain = grain;
  job->fn = &fn;
  Helpers& helpers = Helpers::Get();
  helpers.Offer([job] { job->Work(); }, std::min(chunks - 1, helpers.size()));
  job->Work();
  std::unique_lock lk(job->mu);
  job->closed = true;  // late helpers see this and leave `fn` alone
  job->cv.wait(lk, [&] { return job->running == 0; });
}

void BlockingRegion(const std::function<void()>& wait) {
  if (tl_helper) Helpers::Get().Blocking();
  wait();
}

Status RunConcurrently(size_t n, size_t threads, const std::function<Status(size_t)>& fn) {
  if (n <= 1 || threads <= 1) {
    for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(fn(i));
    return Status::Ok();
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;
  auto work = [&] {
    for (size_t i = next++; i < n && !failed; i = next++) {
      Status st = fn(i);
      if (!st.ok()) {
        std::lock_guard lk(mu);
        if (first.ok()) first = st;
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(n, threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return first;
}

}  // namespace strata
