#include "frontend/results_cache.h"

#include <fmt/format.h>
#include <libmemcached/memcached.h>
#include <libmemcached/util.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/encoding.h"
#include "base/mutex.h"
#include "tsdb/chunkenc/histogram.h"

namespace strata::frontend {

std::optional<std::string> MemoryCache::Get(const std::string& key) {
  MutexLock lk(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void MemoryCache::Set(const std::string& key, const std::string& value) {
  uint64_t size = key.size() + value.size();
  if (size > max_bytes_) return;
  MutexLock lk(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    auto entry = it->second;
    bytes_ -= entry->first.size() + entry->second.size();
    index_.erase(it);
    lru_.erase(entry);
  }
  lru_.emplace_front(key, value);
  index_.emplace(lru_.front().first, lru_.begin());
  bytes_ += size;
  while (bytes_ > max_bytes_) {
    auto& last = lru_.back();
    bytes_ -= last.first.size() + last.second.size();
    index_.erase(last.first);
    lru_.pop_back();
  }
}

// A pool of libmemcached handles; each call borrows one for its duration.
struct MemcachedCache::Pool {
  memcached_st* master = nullptr;
  memcached_pool_st* pool = nullptr;
  ~Pool() {
    if (pool) memcached_pool_destroy(pool);
    if (master) memcached_free(master);
  }
};

namespace {

std::string HashKey(const std::string& key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return "strata:qfe:" +
         HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace

Result<std::unique_ptr<MemcachedCache>> MemcachedCache::Open(const MemcachedOptions& opts) {
  if (opts.addresses.empty()) {
    return Status::InvalidArgument("memcached: no addresses configured");
  }
  auto pool = std::make_unique<Pool>();
  pool->master = memcached_create(nullptr);
  if (pool->master == nullptr) return Status::Unavailable("memcached: cannot create a client");
  for (const auto& a : opts.addresses) {
    auto colon = a.rfind(':');
    int port = 0;
    if (colon != std::string::npos) {
      auto [end, ec] = std::from_chars(a.data() + colon + 1, a.data() + a.size(), port);
      if (ec != std::errc() || end != a.data() + a.size()) port = 0;
    }
    if (port <= 0 || port > 65535) {
      return Status::InvalidArgument(fmt::format("memcached: address \"{}\" is not host:port", a));
    }
    std::string host = a.substr(0, colon);
    if (memcached_server_add(pool->master, host.c_str(), static_cast<in_port_t>(port)) !=
        MEMCACHED_SUCCESS) {
      return Status::InvalidArgument(fmt::format("memcached: cannot add server \"{}\"", a));
    }
  }
  auto timeout = static_cast<uint64_t>(opts.timeout_ms);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, timeout);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, timeout);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_SND_TIMEOUT, timeout * 1000);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, timeout * 1000);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                         MEMCACHED_DISTRIBUTION_CONSISTENT);
  // A dead server is skipped for a while instead of stalling every query.
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 2);
  memcached_behavior_set(pool->master, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 5);
  pool->pool = memcached_pool_create(pool->master, 1, 16);
  if (pool->pool == nullptr) return Status::Unavailable("memcached: cannot create a pool");
  return std::unique_ptr<MemcachedCache>(new MemcachedCache(opts, std::move(pool)));
}

MemcachedCache::MemcachedCache(MemcachedOptions opts, std::unique_ptr<Pool> pool)
    : opts_(std::move(opts)), pool_(std::move(pool)) {}

MemcachedCache::~MemcachedCache() = default;

std::optional<std::string> MemcachedCache::Get(const std::string& key) {
  memcached_return_t rc;
  memcached_st* mc = memcached_pool_fetch(pool_->pool, nullptr, &rc);
  if (mc == nullptr) return std::nullopt;
  std::string hashed = HashKey(key);
  size_t len = 0;
  uint32_t flags = 0;
  char* value = memcached_get(mc, hashed.data(), hashed.size(), &len, &flags, &rc);
  memcached_pool_release(pool_->pool, mc);
  if (value == nullptr) return std::nullopt;
  std::string stored(value, len);
  free(value);  // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): libmemcached
                // allocated it
  // The value starts with the logical key: a hash collision or a foreign entry is a miss.
  ByteReader r(stored);
  std::string_view k;
  if (!r.ReadLengthPrefixed(&k) || k != key) return std::nullopt;
  return stored.substr(stored.size() - r.remaining());
}

void MemcachedCache::Set(const std::string& key, const std::string& value) {
  std::string stored;
  PutLengthPrefixed(stored, key);
  stored += value;
  if (stored.size() > opts_.max_item_bytes) return;
  memcached_return_t rc;
  memcached_st* mc = memcached_pool_fetch(pool_->pool, nullptr, &rc);
  if (mc == nullptr) return;
  std::string hashed = HashKey(key);
  memcached_set(mc, hashed.data(), hashed.size(), stored.data(), stored.size(),
                static_cast<time_t>(opts_.ttl_s), 0);
  memcached_pool_release(pool_->pool, mc);
}

Result<std::unique_ptr<Cache>> OpenCache(const ResultsCacheConfig& c) {
  if (c.type == "none") return std::unique_ptr<Cache>();
  if (c.type == "memory")
    return std::unique_ptr<Cache>(std::make_unique<MemoryCache>(c.memory_bytes));
  if (c.type == "memcached") {
    ASSIGN_OR_RETURN(auto mc, MemcachedCache::Open(c.memcached));
    return std::unique_ptr<Cache>(std::move(mc));
  }
  return Status::InvalidArgument(
      fmt::format("results cache type \"{}\": want memory, memcached or none", c.type));
}

namespace {

constexpr uint8_t kExtentVersion = 2;  // 2: with native histogram points

void PutAnnotations(std::string& out, const std::set<promql::Annotations::Entry>& entries) {
  PutUvarint(out, entries.size());
  for (const auto& e : entries) {
    PutLengthPrefixed(out, e.message);
    PutVarint(out, e.pos.start);
    PutVarint(out, e.pos.end);
  }
}

}  // namespace

std::optional<std::string> EncodeExtent(const Extent& e) {
  std::string out;
  out.push_back(static_cast<char>(kExtentVersion));
  PutVarint(out, e.from);
  PutVarint(out, e.to);
  PutAnnotations(out, e.annotations.warnings());
  PutAnnotations(out, e.annotations.infos());
  PutUvarint(out, e.series.size());
  for (const auto& s : e.series) {
    PutUvarint(out, s.labels.size());
    for (const auto& l : s.labels) {
      PutLengthPrefixed(out, l.name);
      PutLengthPrefixed(out, l.value);
    }
    PutUvarint(out, s.points.size());
    int64_t prev = e.from;
    for (const auto& p : s.points) {
      PutVarint(out, p.t - prev);
      PutDouble(out, p.v);
      prev = p.t;
    }
    // Histograms: each as a float histogram chunk of one sample (chunkenc/histogram.h).
    PutUvarint(out, s.histograms.size());
    std::vector<uint8_t> chunk;
    for (const auto& p : s.histograms) {
      chunk.clear();
      chunkenc::FloatHistogramAppender app(chunk, *p.h);
      if (!app.Append(p.t, *p.h)) return std::nullopt;  // e.g. a sum of too many buckets
      PutLengthPrefixed(
          out, std::string_view(reinterpret_cast<const char*>(chunk.data()), chunk.size()));
    }
  }
  uint32_t crc = Crc32c(out);
  PutFixed32(out, crc);
  return out;
}

Result<Extent> DecodeExtent(std::string_view data) {
  auto bad = [] { return Status::Corruption("results cache: malformed extent"); };
  if (data.size() < 5) return bad();
  std::string_view body = data.substr(0, data.size() - 4);
  if (Crc32c(body) != LoadFixed32(data.data() + body.size())) return bad();
  ByteReader r(body);
  Extent e;
  uint8_t version = 0;
  uint64_t n = 0;
  if (!r.ReadByte(&version) || version != kExtentVersion || !r.ReadVarint(&e.from) ||
      !r.ReadVarint(&e.to) || e.to < e.from) {
    return bad();
  }
  for (int kind = 0; kind < 2; ++kind) {
    if (!r.ReadUvarint(&n) || n > r.remaining()) return bad();
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view msg;
      int64_t start = 0, end = 0;
      if (!r.ReadLengthPrefixed(&msg) || !r.ReadVarint(&start) || !r.ReadVarint(&end)) {
        return bad();
      }
      promql::Annotations::Entry entry{std::string(msg),
                                       {static_cast<int>(start), static_cast<int>(end)}};
      if (kind == 0) {
        e.annotations.AddWarningEntry(std::move(entry));
      } else {
        e.annotations.AddInfoEntry(std::move(entry));
      }
    }
  }
  if (!r.ReadUvarint(&n) || n > r.remaining()) return bad();
  e.series.resize(n);
  for (auto& s : e.series) {
    uint64_t nl = 0;
    if (!r.ReadUvarint(&nl) || nl > r.remaining()) return bad();
    s.labels.resize(nl);
    for (auto& l : s.labels) {
      std::string_view name, value;
      if (!r.ReadLengthPrefixed(&name) || !r.ReadLengthPrefixed(&value)) return bad();
      l.name = std::string(name);
      l.value = std::string(value);
    }
    uint64_t np = 0;
    if (!r.ReadUvarint(&np) || np > r.remaining() / 9) return bad();
    s.points.resize(np);
    int64_t prev = e.from;
    for (auto& p : s.points) {
      int64_t delta = 0;
      if (!r.ReadVarint(&delta) || !r.ReadDouble(&p.v)) return bad();
      p.t = static_cast<int64_t>(static_cast<uint64_t>(prev) + static_cast<uint64_t>(delta));
      if (p.t < e.from || p.t > e.to || (&p != s.points.data() && p.t <= prev)) return bad();
      prev = p.t;
    }
    uint64_t nh = 0;
    if (!r.ReadUvarint(&nh) || nh > r.remaining()) return bad();
    s.histograms.reserve(nh);
    for (uint64_t k = 0; k < nh; ++k) {
      std::string_view bytes;
      if (!r.ReadLengthPrefixed(&bytes)) return bad();
      chunkenc::FloatHistogramIterator it(
          {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
      if (!it.Next() || it.t() < e.from || it.t() > e.to ||
          (!s.histograms.empty() && it.t() <= s.histograms.back().t)) {
        return bad();
      }
      s.histograms.push_back({it.t(), std::make_shared<const histogram::FloatHistogram>(it.h())});
    }
  }
  if (!r.empty()) return bad();
  return e;
}

}  // namespace strata::frontend
