#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/thread_annotations.h"

namespace strata::store {

using Page = std::shared_ptr<const std::string>;

// PageCache is the store gateway's memory tier: an LRU of fixed-size pages of block files
// (index and chunks), keyed by "<tenant>/<block>/<file>#<page>", bounded in bytes. Sharded to
// keep lock hold times short. Thread-safe.
class PageCache {
 public:
  PageCache(uint64_t max_bytes, prometheus::Registry* registry);

  Page Get(const std::string& key);
  void Put(const std::string& key, Page page);
  uint64_t bytes() const;

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    std::string key;
    Page page;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru GUARDED_BY(mu);  // front = most recent
    std::unordered_map<std::string, std::list<Entry>::iterator> map GUARDED_BY(mu);
    uint64_t bytes GUARDED_BY(mu) = 0;
  };
  Shard& ShardFor(const std::string& key);

  const uint64_t max_bytes_per_shard_;
  std::array<Shard, kShards> shards_;
  prometheus::Counter* hits_ = nullptr;
  prometheus::Counter* misses_ = nullptr;
  prometheus::Counter* hit_bytes_ = nullptr;
  prometheus::Gauge* size_ = nullptr;
};

}  // namespace strata::store
