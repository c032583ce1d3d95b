#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "blocks/block_set.h"
#include "cache/page_cache.h"
#include "cache/range_reader.h"
#include "logs/block/format.h"
#include "logs/block/reader.h"
#include "logs/querier.h"
#include "objstore/bucket.h"

namespace strata::logs {

// Gateway serves the log blocks in the object store, as the metrics store gateway does
// theirs and with the same parts: blocks::BlockSet keeps each tenant's readers in step with
// the bucket (one recursive LIST, meta.json read once per new block), reads go through the
// shared page cache. Thread-safe.
class Gateway {
 public:
  // The bucket of a tenant's blocks (instrumented for the store-gateway component).
  using BucketFor = std::function<std::shared_ptr<objstore::Bucket>(const std::string& tenant)>;

  // `cache` outlives this.
  Gateway(cache::PageCache& cache, const cache::RangeReadOptions& opts, BucketFor bucket_for)
      : cache_(cache), opts_(opts), bucket_for_(std::move(bucket_for)) {}

  Status Sync(const std::string& tenant);
  // Makes a block just uploaded by this process visible at once.
  void AddBlock(const std::string& tenant, const block::BlockMeta& meta);
  // A querier over the tenant's blocks with entries in [mint_ns, maxt_ns]; they stay
  // readable while it lives.
  std::unique_ptr<Querier> TenantQuerier(const std::string& tenant, int64_t mint_ns,
                                         int64_t maxt_ns) const;
  std::vector<block::BlockMeta> Blocks(const std::string& tenant) const;
  // Drops the indexes of blocks unused for `idle_ms`, then the least recently used until
  // the rest fit `max_bytes`.
  void EvictIndexes(int64_t now_ms, int64_t idle_ms, uint64_t max_bytes);

 private:
  std::shared_ptr<block::BlockReader> Open(const std::string& tenant,
                                           const std::shared_ptr<objstore::Bucket>& bucket,
                                           block::BlockMeta meta) const;

  cache::PageCache& cache_;
  const cache::RangeReadOptions opts_;
  const BucketFor bucket_for_;
  blocks::BlockSet<block::BlockReader> blocks_;
};

// A querier over one log block's entries in [mint_ns, maxt_ns]; `reader` stays alive while it
// does.
std::unique_ptr<Querier> NewBlockQuerier(std::shared_ptr<block::BlockReader> reader,
                                         int64_t mint_ns = INT64_MIN, int64_t maxt_ns = INT64_MAX);

}  // namespace strata::logs
