#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace strata::index {

// Reclaimer frees the objects a head removed (series, streams) once no reader can still hold
// them. A reader that keeps raw pointers beyond one call (a querier) takes a Pin before it
// looks them up; a removal unlinks the objects from every index first and then retires them
// here, and they are freed once every pin taken before the retirement is released. Removal
// epochs order the two: a pin of epoch e may reach objects retired in epochs >= e only.
// Thread-safe.
template <typename T>
class Reclaimer {
 public:
  // Holds off freeing while it (or a copy) lives.
  using Pin = std::shared_ptr<const void>;

  Reclaimer() = default;
  Reclaimer(const Reclaimer&) = delete;
  Reclaimer& operator=(const Reclaimer&) = delete;

  Pin Take() const EXCLUDES(mu_) {
    MutexLock lk(mu_);
    uint64_t epoch = epoch_;
    ++pins_[epoch];
    return std::make_shared<Token>(this, epoch);
  }

  // Takes objects already unreachable from the head's indexes; frees them when no older pin
  // is left.
  void Retire(std::vector<std::unique_ptr<T>> objects) EXCLUDES(mu_) {
    MutexLock lk(mu_);
    for (auto& o : objects) retired_.emplace_back(epoch_, std::move(o));
    ++epoch_;
    FreeUnpinned();
  }

  // Starts a new epoch and returns it: pins taken from now on are of it or later.
  uint64_t Advance() EXCLUDES(mu_) {
    MutexLock lk(mu_);
    return ++epoch_;
  }
  // Whether every pin taken before `epoch` began is released.
  bool Drained(uint64_t epoch) const EXCLUDES(mu_) {
    MutexLock lk(mu_);
    return pins_.empty() || pins_.begin()->first >= epoch;
  }

 private:
  // Releases its pin when the last copy of the Pin goes.
  class Token {
   public:
    Token(const Reclaimer* r, uint64_t epoch) : r_(r), epoch_(epoch) {}
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;
    ~Token() { r_->Unpin(epoch_); }

   private:
    const Reclaimer* r_;
    uint64_t epoch_;
  };

  void Unpin(uint64_t epoch) const EXCLUDES(mu_) {
    MutexLock lk(mu_);
    auto it = pins_.find(epoch);
    if (--it->second == 0) pins_.erase(it);
    FreeUnpinned();
  }
  void FreeUnpinned() const REQUIRES(mu_) {
    uint64_t oldest = pins_.empty() ? UINT64_MAX : pins_.begin()->first;
    std::erase_if(retired_, [&](const auto& r) { return r.first < oldest; });
  }

  mutable Mutex mu_;
  uint64_t epoch_ GUARDED_BY(mu_) = 0;
  mutable std::map<uint64_t, uint32_t> pins_ GUARDED_BY(mu_);  // epoch -> pins taken in it
  mutable std::vector<std::pair<uint64_t, std::unique_ptr<T>>> retired_
      GUARDED_BY(mu_);  // (epoch of retirement, object)
};

}  // namespace strata::index
