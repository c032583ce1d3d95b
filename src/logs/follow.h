#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "logs/db.h"

namespace strata::logs {

// An entry a tenant's head took: streams[stream].entries holds it.
struct Taken {
  uint32_t stream;
  const EntryInput* entry;
};

// Receives what one append took; the spans live for the call only.
using FollowFn =
    std::function<void(std::span<const StreamInput> streams, std::span<const Taken> taken)>;

// Followers hands the entries each tenant's heads take to those following the tenant (the
// live tail), as they are taken, whatever their timestamps: an entry that arrives late is
// followed when it arrives. Delivery runs on the appending thread, alongside other appends'
// deliveries, and never after unfollowing returns, so a FollowFn must be quick and
// thread-safe (copy what it wants and return). Costs an atomic load per append when no one
// follows. Thread-safe.
class Followers {
 public:
  // Following ends when the returned handle goes.
  class Handle {
   public:
    Handle(Followers& f, std::string tenant, uint64_t id)
        : f_(f), tenant_(std::move(tenant)), id_(id) {}
    ~Handle() { f_.Unfollow(tenant_, id_); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

   private:
    Followers& f_;
    const std::string tenant_;
    const uint64_t id_;
  };

  [[nodiscard]] std::unique_ptr<Handle> Follow(const std::string& tenant, FollowFn fn)
      EXCLUDES(mu_);

  // Whether anyone follows any tenant (checked before collecting what an append takes).
  bool Any() const { return count_.load(std::memory_order_acquire) > 0; }
  void Deliver(const std::string& tenant, std::span<const StreamInput> streams,
               std::span<const Taken> taken) const EXCLUDES(mu_);

 private:
  void Unfollow(const std::string& tenant, uint64_t id) EXCLUDES(mu_);

  // Shared by deliveries, exclusive to (un)following.
  mutable SharedMutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::map<std::string, std::map<uint64_t, FollowFn>, std::less<>> by_tenant_ GUARDED_BY(mu_);
  std::atomic<int64_t> count_{0};
};

}  // namespace strata::logs
