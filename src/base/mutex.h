#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "base/thread_annotations.h"

namespace strata {

// std::mutex and std::shared_mutex with clang's capability annotations, and the scoped locks
// that hold them, so -Wthread-safety checks every GUARDED_BY: libstdc++'s own types carry no
// annotations. Same costs as the std types they wrap.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class UniqueLock;
  std::mutex mu_;
};

class CAPABILITY("mutex") SharedMutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a Mutex (or a SharedMutex exclusively) for its scope: std::lock_guard.
template <typename M>
class SCOPED_CAPABILITY LockGuard {
 public:
  explicit LockGuard(M& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~LockGuard() RELEASE() { mu_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  M& mu_;
};
using MutexLock = LockGuard<Mutex>;
using WriterLock = LockGuard<SharedMutex>;

// Holds a SharedMutex shared for its scope: std::shared_lock.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// A Mutex held for its scope that can be released and taken again, and waited on with a
// std::condition_variable: std::unique_lock<std::mutex>. A wait releases and retakes the
// mutex inside the call; to the analysis the lock is held throughout, as it is for the code
// around the wait. Predicates that read guarded members say so: `[&]() REQUIRES(mu_) {...}`.
class SCOPED_CAPABILITY UniqueLock {
 public:
  explicit UniqueLock(Mutex& mu) ACQUIRE(mu) : lk_(mu.mu_) {}
  ~UniqueLock() RELEASE() {}
  UniqueLock(const UniqueLock&) = delete;
  UniqueLock& operator=(const UniqueLock&) = delete;

  void lock() ACQUIRE() { lk_.lock(); }
  void unlock() RELEASE() { lk_.unlock(); }

  void Wait(std::condition_variable& cv) { cv.wait(lk_); }
  template <typename Pred>
  void Wait(std::condition_variable& cv, Pred pred) {
    cv.wait(lk_, std::move(pred));
  }
  template <typename Duration, typename Pred>
  bool WaitFor(std::condition_variable& cv, Duration d, Pred pred) {
    return cv.wait_for(lk_, d, std::move(pred));
  }
  template <typename Duration>
  std::cv_status WaitFor(std::condition_variable& cv, Duration d) {
    return cv.wait_for(lk_, d);
  }
  template <typename TimePoint>
  std::cv_status WaitUntil(std::condition_variable& cv, TimePoint t) {
    return cv.wait_until(lk_, t);
  }
  template <typename TimePoint, typename Pred>
  bool WaitUntil(std::condition_variable& cv, TimePoint t, Pred pred) {
    return cv.wait_until(lk_, t, std::move(pred));
  }

 private:
  std::unique_lock<std::mutex> lk_;
};

}  // namespace strata
