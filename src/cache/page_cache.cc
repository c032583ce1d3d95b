#include "cache/page_cache.h"

#include <functional>

#include "base/mutex.h"

namespace strata::cache {

PageCache::PageCache(uint64_t max_bytes, std::unique_ptr<DiskCache> disk,
                     prometheus::Registry* registry)
    : max_bytes_per_shard_(max_bytes / kShards), disk_(std::move(disk)) {
  if (!registry) return;
  auto& requests = prometheus::BuildCounter()
                       .Name("strata_store_cache_requests_total")
                       .Help("Store-gateway cache lookups by tier and result.")
                       .Register(*registry);
  auto& hit_bytes = prometheus::BuildCounter()
                        .Name("strata_store_cache_hit_bytes_total")
                        .Help("Bytes served from a cache tier instead of the object store.")
                        .Register(*registry);
  for (auto [tier, m] :
       {std::pair{"memory", &memory_metrics_}, std::pair{"disk", &disk_metrics_}}) {
    m->hits = &requests.Add({{"tier", tier}, {"result", "hit"}});
    m->misses = &requests.Add({{"tier", tier}, {"result", "miss"}});
    m->hit_bytes = &hit_bytes.Add({{"tier", tier}});
  }
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
    MutexLock lk(s.mu);
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      page = it->second->page;
    }
  }
  if (page) {
    memory_metrics_.Hit(page->size());
    return page;
  }
  memory_metrics_.Miss();
  if (!disk_) return page;
  if (auto bytes = disk_->Get(key)) {
    disk_metrics_.Hit(bytes->size());
    page = std::make_shared<const std::string>(std::move(*bytes));
    PutMemory(key, page);
  } else {
    disk_metrics_.Miss();
  }
  return page;
}

void PageCache::Put(const std::vector<std::pair<std::string, Page>>& pages) {
  for (const auto& [key, page] : pages) PutMemory(key, page);
  if (!disk_) return;
  std::vector<std::pair<std::string, std::string>> copies;
  copies.reserve(pages.size());
  for (const auto& [key, page] : pages) copies.emplace_back(key, *page);
  disk_->Put(copies);
}

void PageCache::PutMemory(const std::string& key, Page page) {
  if (max_bytes_per_shard_ == 0 || page->size() > max_bytes_per_shard_) return;
  Shard& s = ShardFor(key);
  int64_t delta = 0;
  {
    MutexLock lk(s.mu);
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
    MutexLock lk(s.mu);
    n += s.bytes;
  }
  return n;
}

}  // namespace strata::cache
