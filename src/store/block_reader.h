#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "objstore/bucket.h"
#include "store/page_cache.h"
#include "tsdb/block/meta.h"
#include "tsdb/block/reader.h"

namespace strata::store {

struct ReaderOptions {
  uint64_t page_size = 16u << 10;  // cache granularity of block files
  uint64_t max_gap = 64u << 10;    // missing pages closer than this are fetched in one GET
  size_t fetch_concurrency = 8;    // parallel GETs per read
};

// BlockReader reads one block of a tenant through the page cache: the shards'
// index-of-index is loaded on first use (one range GET each) and can be evicted; every
// other read is a set of byte ranges, served from cached pages or fetched with coalesced
// range GETs. Thread-safe. The bucket and cache must outlive it.
class BlockReader {
 public:
  BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string tenant,
              tsdb::block::BlockMeta meta, PageCache& cache, const ReaderOptions& opts);

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
  PageCache& cache_;
  const ReaderOptions opts_;
  std::atomic<int64_t> last_used_ms_{0};
  mutable Mutex mu_;
  std::vector<std::shared_ptr<const tsdb::block::ShardIndex>> indexes_ GUARDED_BY(mu_);
};

}  // namespace strata::store
