#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "cache/disk_cache.h"

namespace strata::cache {

using Page = std::shared_ptr<const std::string>;

// PageCache holds fixed-size pages of immutable objects (the files of any signal's blocks),
// keyed by "<object key>#<page>", in two tiers: a memory LRU bounded in bytes (sharded to
// keep lock hold times short) and, optionally, a DiskCache that survives restarts. Pages never
// change (objects are written once). Thread-safe.
class PageCache {
 public:
  PageCache(uint64_t max_bytes, std::unique_ptr<DiskCache> disk, prometheus::Registry* registry);

  // Memory first, then disk (a disk hit is promoted to memory); null on a miss.
  Page Get(const std::string& key);
  // Pages just fetched from the bucket go to both tiers.
  void Put(const std::vector<std::pair<std::string, Page>>& pages);
  uint64_t bytes() const;

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    std::string key;
    Page page;
  };
  struct Shard {
    mutable Mutex mu;
    std::list<Entry> lru GUARDED_BY(mu);  // front = most recent
    std::unordered_map<std::string, std::list<Entry>::iterator> map GUARDED_BY(mu);
    uint64_t bytes GUARDED_BY(mu) = 0;
  };
  Shard& ShardFor(const std::string& key);
  void PutMemory(const std::string& key, Page page);

  const uint64_t max_bytes_per_shard_;
  std::array<Shard, kShards> shards_;
  std::unique_ptr<DiskCache> disk_;
  struct TierMetrics {
    prometheus::Counter* hits = nullptr;
    prometheus::Counter* misses = nullptr;
    prometheus::Counter* hit_bytes = nullptr;
    void Hit(size_t bytes) const {
      if (hits) hits->Increment();
      if (hit_bytes) hit_bytes->Increment(static_cast<double>(bytes));
    }
    void Miss() const {
      if (misses) misses->Increment();
    }
  };
  TierMetrics memory_metrics_;
  TierMetrics disk_metrics_;
  prometheus::Gauge* size_ = nullptr;
};

}  // namespace strata::cache
