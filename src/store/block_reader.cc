#include "store/block_reader.h"

#include <fmt/format.h>

#include "base/mutex.h"
#include "base/units.h"
#include "cache/range_reader.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"

namespace strata::store {

namespace blk = tsdb::block;

BlockReader::BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string tenant,
                         blk::BlockMeta meta, cache::PageCache& cache,
                         const cache::RangeReadOptions& opts)
    : bucket_(std::move(bucket)),
      tenant_(std::move(tenant)),
      prefix_(blk::BlockPrefix(tenant_, meta.id)),
      meta_(std::move(meta)),
      cache_(cache),
      opts_(opts),
      indexes_(meta_.shards.size()) {}

Result<std::shared_ptr<const blk::ShardIndex>> BlockReader::Index(uint32_t shard) {
  last_used_ms_.store(NowMillis(), std::memory_order_relaxed);
  {
    MutexLock lk(mu_);
    if (indexes_[shard]) return indexes_[shard];
  }
  const auto& sm = meta_.shards[shard];
  std::string key = prefix_ + blk::IndexFile(shard);
  ASSIGN_OR_RETURN(std::string ioi, bucket_->GetRange(key, sm.ioi_offset, sm.ioi_length));
  if (ioi.size() != sm.ioi_length) {
    return Status::Corruption(fmt::format("{}: index shorter than meta.json says", key));
  }
  auto parsed = blk::ShardIndex::Parse(ioi, sm.index_bytes);
  if (!parsed.ok()) return parsed.status().Annotate(key);
  auto idx = std::make_shared<const blk::ShardIndex>(std::move(*parsed));
  MutexLock lk(mu_);
  if (!indexes_[shard]) indexes_[shard] = idx;
  return indexes_[shard];
}

size_t BlockReader::IndexMemoryBytes() const {
  MutexLock lk(mu_);
  size_t n = 0;
  for (const auto& i : indexes_) n += i ? i->MemoryBytes() : 0;
  return n;
}

void BlockReader::EvictIndexes() {
  MutexLock lk(mu_);
  for (auto& i : indexes_) i.reset();
}

blk::RangeFetcher BlockReader::IndexFetcher(uint32_t shard) {
  return [this, shard](std::span<const blk::ByteRange> ranges) {
    return ReadRanges(blk::IndexFile(shard), meta_.shards[shard].index_bytes, ranges);
  };
}

Result<std::vector<std::string>> BlockReader::ReadChunks(uint32_t shard,
                                                         std::span<const blk::ByteRange> ranges) {
  return ReadRanges(blk::ChunksFile(shard), meta_.shards[shard].chunks_bytes, ranges);
}

Result<std::vector<std::string>> BlockReader::ReadRanges(const std::string& file,
                                                         uint64_t file_size,
                                                         std::span<const blk::ByteRange> ranges) {
  last_used_ms_.store(NowMillis(), std::memory_order_relaxed);
  return cache::ReadRanges(*bucket_, cache_, prefix_ + file, file_size, ranges, opts_);
}

}  // namespace strata::store
