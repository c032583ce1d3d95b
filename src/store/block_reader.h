#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "cache/page_cache.h"
#include "cache/range_reader.h"
#include "objstore/bucket.h"
#include "tsdb/block/meta.h"
#include "tsdb/block/reader.h"

namespace strata::store {

// BlockReader reads one block of a tenant through the object-store range cache: the shards'
// index-of-index is loaded on first use (one range GET each) and can be evicted; every
// other read is a set of byte ranges (cache::ReadRanges). Thread-safe. The bucket and cache must
// outlive it.
class BlockReader {
 public:
  BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string tenant,
              tsdb::block::BlockMeta meta, cache::PageCache& cache,
              const cache::RangeReadOptions& opts);

  const tsdb::block::BlockMeta& meta() const { return meta_; }
  Result<std::shared_ptr<const tsdb::block::ShardIndex>> Index(uint32_t shard);
  tsdb::block::RangeFetcher IndexFetcher(uint32_t shard);
  Result<std::vector<std::string>> ReadChunks(uint32_t shard,
                                              std::span<const tsdb::block::ByteRange> ranges);

  // Bytes of the loaded indexes-of-index; last use in ms since the epoch.
  size_t IndexMemoryBytes() const;
  int64_t last_used_ms() const { return last_used_ms_.load(std::memory_order_relaxed); }
  void EvictIndexes();

 private:
  Result<std::vector<std::string>> ReadRanges(const std::string& file, uint64_t file_size,
                                              std::span<const tsdb::block::ByteRange> ranges);

  const std::shared_ptr<objstore::Bucket> bucket_;
  const std::string tenant_;
  const std::string prefix_;
  const tsdb::block::BlockMeta meta_;
  cache::PageCache& cache_;
  const cache::RangeReadOptions opts_;
  std::atomic<int64_t> last_used_ms_{0};
  mutable Mutex mu_;
  std::vector<std::shared_ptr<const tsdb::block::ShardIndex>> indexes_ GUARDED_BY(mu_);
};

}  // namespace strata::store
