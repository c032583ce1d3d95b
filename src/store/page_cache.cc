#include "store/page_cache.h"

#include <functional>

namespace strata::store {

PageCache::PageCache(uint64_t max_bytes, prometheus::Registry* registry)
    : max_bytes_per_shard_(max_bytes / kShards) {
  if (!registry) return;
  auto& requests = prometheus::BuildCounter()
                       .Name("strata_store_cache_requests_total")
                       .Help("Store-gateway cache lookups by tier and result.")
                       .Register(*registry);
  hits_ = &requests.Add({{"tier", "memory"}, {"result", "hit"}});
  misses_ = &requests.Add({{"tier", "memory"}, {"result", "miss"}});
  hit_bytes_ = &prometheus::BuildCounter()
                    .Name("strata_store_cache_hit_bytes_total")
                    .Help("Bytes served from a cache tier instead of the object store.")
                    .Register(*registry)
                    .Add({{"tier", "memory"}});
  size_ = &prometheus::BuildGauge()
               .Name("strata_store_cache_bytes")
               .Help("Bytes held by a cache tier.")
               .Register(*registry)
               .Add({{"tier", "memory"}});
}

PageCache::Shard& PageCache::ShardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

Page PageCache::Get(const std::string& key) {
  Shard& s = ShardFor(key);
  Page page;
  {
    std::lock_guard lk(s.mu);
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      page = it->second->page;
    }
  }
  if (page) {
    if (hits_) hits_->Increment();
    if (hit_bytes_) hit_bytes_->Increment(static_cast<double>(page->size()));
  } else if (misses_) {
    misses_->Increment();
  }
  return page;
}

void PageCache::Put(const std::string& key, Page page) {
  if (max_bytes_per_shard_ == 0 || page->size() > max_bytes_per_shard_) return;
  Shard& s = ShardFor(key);
  int64_t delta = 0;
  {
    std::lock_guard lk(s.mu);
    auto it = s.map.find(key);
    if (it != s.map.end()) return;
    delta += static_cast<int64_t>(page->size());
    s.bytes += page->size();
    s.lru.push_front({key, std::move(page)});
    s.map[key] = s.lru.begin();
    while (s.bytes > max_bytes_per_shard_ && !s.lru.empty()) {
      auto& last = s.lru.back();
      s.bytes -= last.page->size();
      delta -= static_cast<int64_t>(last.page->size());
      s.map.erase(last.key);
      s.lru.pop_back();
    }
  }
  if (size_) size_->Increment(static_cast<double>(delta));
}

uint64_t PageCache::bytes() const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lk(s.mu);
    n += s.bytes;
  }
  return n;
}

}  // namespace strata::store
