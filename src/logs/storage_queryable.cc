#include "logs/storage_queryable.h"

#include <vector>

#include "base/math.h"

namespace strata::logs {

Result<std::unique_ptr<Querier>> StorageQueryable::TenantQuerier(
    const std::string& tenant, const query::ReadHints& hints) const {
  const Storage* st = storage_.load(std::memory_order_acquire);
  if (st == nullptr) return Status::Unavailable("log storage is not ready: WAL replay in progress");
  constexpr int64_t kNsPerMs = 1'000'000;
  // The head is pinned before the blocks are listed: a cut makes its block visible, then
  // drops the entries from the head only once every earlier pin is gone (Db::CutBlock), so
  // each entry is in the head or in a listed block. The head leaves out what a block it
  // knows to be visible holds (the blocks listed after hold it too), so counts (index/stats,
  // volume) see each entry once; in the moment between a block becoming visible and the
  // head knowing it, an entry is in both, and a log query's merge returns it once.
  std::vector<std::unique_ptr<Querier>> parts;
  if (const Db* db = st->Find(tenant)) {
    parts.push_back(NewHeadQuerier(db->head(), db->shipped_seal()));
  }
  if (const Gateway* gw = gateway_.load(std::memory_order_acquire)) {
    parts.push_back(
        gw->TenantQuerier(tenant, SaturatingMul(hints.mint, kNsPerMs),
                          SaturatingAdd(SaturatingMul(hints.maxt, kNsPerMs), kNsPerMs - 1)));
  }
  if (parts.empty()) return NewEmptyQuerier();
  return NewMergeQuerier(std::move(parts));
}

}  // namespace strata::logs
