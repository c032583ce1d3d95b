#include "logs/follow.h"

namespace strata::logs {

std::unique_ptr<Followers::Handle> Followers::Follow(const std::string& tenant, FollowFn fn) {
  WriterLock lk(mu_);
  const uint64_t id = next_id_++;
  by_tenant_[tenant].emplace(id, std::move(fn));
  count_.fetch_add(1, std::memory_order_acq_rel);
  return std::make_unique<Handle>(*this, tenant, id);
}

void Followers::Unfollow(const std::string& tenant, uint64_t id) {
  WriterLock lk(mu_);
  auto it = by_tenant_.find(tenant);
  if (it == by_tenant_.end() || it->second.erase(id) == 0) return;
  if (it->second.empty()) by_tenant_.erase(it);
  count_.fetch_sub(1, std::memory_order_acq_rel);
}

void Followers::Deliver(const std::string& tenant, std::span<const StreamInput> streams,
                        std::span<const Taken> taken) const {
  if (taken.empty()) return;
  ReaderLock lk(mu_);
  auto it = by_tenant_.find(tenant);
  if (it == by_tenant_.end()) return;
  for (const auto& [id, fn] : it->second) fn(streams, taken);
}

}  // namespace strata::logs
