#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/parallel.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "blocks/lifecycle.h"

namespace strata::blocks {

// The blocks of every tenant that a reader of object storage (a store gateway, of any signal)
// serves, kept in step with the bucket: a sync keeps the readers of blocks still listed, opens
// readers for complete blocks that appeared, and drops the deleted and the marked ones. A
// reader stays usable by whoever holds it after it is dropped. Thread-safe.
template <typename Reader>
class BlockSet {
 public:
  using Ptr = std::shared_ptr<Reader>;
  // Opens readers for blocks by ID; one entry per ID, in order, null for a block left out
  // (deleted meanwhile, unreadable meta.json).
  using OpenFn = std::function<Result<std::vector<Ptr>>(const std::vector<std::string>& ids)>;

  // Brings the tenant's set in line with `listed` (blocks::ListBlocks of its root).
  Status Sync(const std::string& tenant, const std::vector<ListedBlock>& listed, const OpenFn& open)
      EXCLUDES(mu_) {
    std::map<std::string, Ptr> current;
    {
      ReaderLock lk(mu_);
      auto it = tenants_.find(tenant);
      if (it != tenants_.end()) current = it->second;
    }
    std::map<std::string, Ptr> next;
    std::vector<std::string> fresh;
    for (const auto& b : listed) {
      if (!b.complete || b.marked) continue;
      auto it = current.find(b.id);
      if (it != current.end()) {
        next[b.id] = it->second;
      } else {
        fresh.push_back(b.id);
      }
    }
    ASSIGN_OR_RETURN(std::vector<Ptr> opened, open(fresh));
    for (size_t i = 0; i < fresh.size() && i < opened.size(); ++i) {
      if (opened[i]) next[fresh[i]] = std::move(opened[i]);
    }
    WriterLock lk(mu_);
    // Blocks added by this process since the listing began stay.
    for (const auto& [id, r] : tenants_[tenant]) {
      if (!current.count(id) && !next.count(id)) next[id] = r;
    }
    tenants_[tenant] = std::move(next);
    return Status::Ok();
  }

  // Brings the tenant's set in line with the blocks under `root` in `bucket`: one recursive
  // LIST, and each new block's meta.json read once; `open` makes a reader of a block from
  // its ID and meta.json, and is called from up to 16 threads at once (it may read the
  // block's index: a gateway finding thousands of blocks must not wait for them one by one).
  // A block `open` refuses (damaged, of a format this build does not read, its index not
  // readable now) is left out with a warning naming `signal`'s block.
  Status SyncWithBucket(
      const std::string& tenant, objstore::Bucket& bucket, const std::string& root,
      std::string_view signal,
      const std::function<Result<Ptr>(const std::string& id, std::string_view meta_json)>& open)
      EXCLUDES(mu_) {
    ASSIGN_OR_RETURN(auto listed, ListBlocks(bucket, root));
    return Sync(tenant, listed,
                [&](const std::vector<std::string>& ids) -> Result<std::vector<Ptr>> {
                  ASSIGN_OR_RETURN(auto metas, ReadMetaFiles(bucket, root, ids));
                  std::vector<Ptr> out(metas.size());
                  RETURN_IF_ERROR(RunConcurrently(metas.size(), 16, [&](size_t i) -> Status {
                    if (!metas[i]) return Status::Ok();
                    auto reader = open(ids[i], *metas[i]);
                    if (!reader.ok()) {
                      spdlog::warn("msg=\"{} block left out\" tenant={} block={} err=\"{}\"",
                                   signal, tenant, ids[i], reader.status().message());
                      return Status::Ok();
                    }
                    out[i] = std::move(reader).value();
                    return Status::Ok();
                  }));
                  return out;
                });
  }

  // Makes a block this process just uploaded visible at once.
  void Add(const std::string& tenant, const std::string& id, Ptr reader) EXCLUDES(mu_) {
    WriterLock lk(mu_);
    tenants_[tenant][id] = std::move(reader);
  }

  // The tenant's readers, by block ID.
  std::vector<Ptr> Of(const std::string& tenant) const EXCLUDES(mu_) {
    std::vector<Ptr> out;
    ReaderLock lk(mu_);
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) return out;
    out.reserve(it->second.size());
    for (const auto& [id, r] : it->second) out.push_back(r);
    return out;
  }

  // Every tenant's readers.
  std::vector<Ptr> All() const EXCLUDES(mu_) {
    std::vector<Ptr> out;
    ReaderLock lk(mu_);
    for (const auto& [t, readers] : tenants_) {
      for (const auto& [id, r] : readers) out.push_back(r);
    }
    return out;
  }

  // Drops the indexes of readers unused for `idle_ms` at `now_ms`, then of the least recently
  // used until the rest fit `max_bytes`. A Reader has last_used_ms(), IndexMemoryBytes() and
  // EvictIndexes().
  void EvictIndexes(int64_t now_ms, int64_t idle_ms, uint64_t max_bytes) const {
    std::vector<Ptr> readers = All();
    uint64_t total = 0;
    for (const auto& r : readers) {
      if (now_ms - r->last_used_ms() > idle_ms) {
        r->EvictIndexes();
      } else {
        total += r->IndexMemoryBytes();
      }
    }
    std::sort(readers.begin(), readers.end(),
              [](const auto& a, const auto& b) { return a->last_used_ms() < b->last_used_ms(); });
    for (const auto& r : readers) {
      if (total <= max_bytes) break;
      uint64_t n = r->IndexMemoryBytes();
      r->EvictIndexes();
      total -= n;
    }
  }

 private:
  mutable SharedMutex mu_;
  std::map<std::string, std::map<std::string, Ptr>> tenants_ GUARDED_BY(mu_);
};

}  // namespace strata::blocks
