#pragma once

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace strata::cache {

// DiskCache is the object-store range cache's second tier: pages of immutable objects in an
// LMDB database under the data directory, bounded in bytes (oldest insertions evicted first),
// kept across restarts. It is only a cache: a database that cannot be opened is recreated
// empty, and writes are not fsynced. Thread-safe.
class DiskCache {
 public:
  static Result<std::unique_ptr<DiskCache>> Open(const std::string& dir, uint64_t max_bytes);
  ~DiskCache();

  // The page, or nullopt on a miss.
  std::optional<std::string> Get(const std::string& key);
  void Put(std::span<const std::pair<std::string, std::string>> pages) EXCLUDES(write_mu_);
  uint64_t bytes() const;

 private:
  DiskCache(MDB_env* env, uint64_t max_bytes) : env_(env), max_bytes_(max_bytes) {}
  Status Init();
  // Deletes the oldest entries until `need` more bytes fit. Inside a write transaction.
  void Evict(MDB_txn* txn, uint64_t need) REQUIRES(write_mu_);

  MDB_env* env_;
  MDB_dbi pages_ = 0;  // key -> seq (8 bytes, big-endian) + page
  MDB_dbi order_ = 0;  // seq (big-endian) -> key
  const uint64_t max_bytes_;
  mutable Mutex write_mu_;
  uint64_t bytes_ GUARDED_BY(write_mu_) = 0;
  uint64_t next_seq_ GUARDED_BY(write_mu_) = 1;
};

}  // namespace strata::cache
