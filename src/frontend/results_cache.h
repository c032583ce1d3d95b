#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "promql/engine.h"

namespace strata::frontend {

// A byte cache the results cache stores extents in: in memory (default) or memcached
// (shared by several servers). Keys may be long; implementations bound or hash them.
// Thread-safe. A miss, an unreachable backend or a corrupt entry all read as nullopt.
class Cache {
 public:
  virtual ~Cache() = default;
  virtual std::optional<std::string> Get(const std::string& key) = 0;
  virtual void Set(const std::string& key, const std::string& value) = 0;
};

// Bounded in-memory LRU.
class MemoryCache : public Cache {
 public:
  explicit MemoryCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  std::optional<std::string> Get(const std::string& key) override EXCLUDES(mu_);
  void Set(const std::string& key, const std::string& value) override EXCLUDES(mu_);

 private:
  using Entry = std::pair<std::string, std::string>;
  const uint64_t max_bytes_;
  Mutex mu_;
  std::list<Entry> lru_ GUARDED_BY(mu_);  // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_ GUARDED_BY(mu_);
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
};

struct MemcachedOptions {
  std::vector<std::string> addresses;  // host:port
  int64_t timeout_ms = 200;
  int64_t ttl_s = int64_t{7} * 86'400;
  uint64_t max_item_bytes = 1u << 20;  // memcached's default item size limit
};

// memcached through libmemcached, one connection pool per cache. Keys are SHA-256 of the
// logical key; the logical key is stored in the value and checked on read.
class MemcachedCache : public Cache {
 public:
  static Result<std::unique_ptr<MemcachedCache>> Open(const MemcachedOptions& opts);
  ~MemcachedCache() override;
  std::optional<std::string> Get(const std::string& key) override;
  void Set(const std::string& key, const std::string& value) override;

 private:
  struct Pool;
  MemcachedCache(MemcachedOptions opts, std::unique_ptr<Pool> pool);
  const MemcachedOptions opts_;
  std::unique_ptr<Pool> pool_;
};

struct ResultsCacheConfig {
  std::string type = "memory";         // memory, memcached or none
  uint64_t memory_bytes = 256u << 20;  // type memory
  MemcachedOptions memcached;          // type memcached
};

// The configured cache; null for type none. InvalidArgument for a bad configuration.
Result<std::unique_ptr<Cache>> OpenCache(const ResultsCacheConfig& c);

// A range query's result over [from, to] (step timestamps, inclusive) of one split.
struct Extent {
  int64_t from = 0;
  int64_t to = 0;
  std::vector<promql::ResultSeries> series;  // sorted by labels
  promql::Annotations annotations;
};

// Empty when the extent cannot be cached: a histogram beyond what a chunk holds.
std::optional<std::string> EncodeExtent(const Extent& e);
// Untrusted bytes (a shared cache): Corruption on anything malformed.
Result<Extent> DecodeExtent(std::string_view data);

}  // namespace strata::frontend
