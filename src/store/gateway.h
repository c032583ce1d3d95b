#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "blocks/block_set.h"
#include "cache/page_cache.h"
#include "objstore/bucket.h"
#include "query/querier.h"
#include "store/block_reader.h"

namespace strata::store {

struct GatewayOptions {
  cache::RangeReadOptions reader;
  uint64_t cache_bytes = 512u << 20;  // memory page cache
  std::string disk_cache_dir;         // LMDB page cache; empty: none
  uint64_t disk_cache_bytes = 10ull << 30;
  int64_t index_idle_ms = 3'600'000;       // indexes-of-index unused this long are dropped
  uint64_t index_max_bytes = 1024u << 20;  // and the least recently used beyond this
  // Chunk bytes one selection may hold (they are fetched when the engine selects, before it
  // decodes); a selection over more is refused with LimitExceeded. 0: unlimited.
  uint64_t max_select_chunk_bytes = 4ull << 30;
};

// StoreGateway serves the blocks in the object store: it discovers each tenant's blocks
// (Sync: one recursive LIST, meta.json read once per new block), keeps their readers, and
// hands out queriers over a snapshot of them. Blocks marked for deletion are not read (their
// replacement is already uploaded). Thread-safe.
class StoreGateway {
 public:
  // The bucket of a tenant's blocks (instrumented for the store-gateway component).
  using BucketFor = std::function<std::shared_ptr<objstore::Bucket>(const std::string& tenant)>;

  StoreGateway(GatewayOptions opts, BucketFor bucket_for, prometheus::Registry* registry);

  // Brings the tenant's blocks in line with the bucket (blocks::BlockSet).
  Status Sync(const std::string& tenant);
  // Makes a block just uploaded by this process visible at once.
  void AddBlock(const std::string& tenant, const tsdb::block::BlockMeta& meta);
  // A querier over the tenant's current blocks holding data in [hints.mint, hints.maxt]; they
  // stay readable while it lives. `hints.max_resolution_ms` caps the downsampling resolution
  // read: kAutoResolution picks per selection (see docs/format/block.md, "Downsampled
  // data"), 0 reads raw blocks only.
  std::unique_ptr<query::Querier> Querier(const std::string& tenant,
                                          const query::ReadHints& hints = {}) const;
  std::vector<tsdb::block::BlockMeta> Blocks(const std::string& tenant) const;
  // The page cache every signal's block readers share.
  cache::PageCache& page_cache() { return cache_; }
  // Drops indexes-of-index idle longer than index_idle_ms, then the least recently used
  // until the total fits index_max_bytes.
  void EvictIndexes(int64_t now_ms);

 private:
  // Readers of the blocks `ids` of the tenant, from their meta.json.
  Result<std::vector<std::shared_ptr<BlockReader>>> OpenReaders(
      const std::shared_ptr<objstore::Bucket>& bucket, const std::string& tenant,
      const std::vector<std::string>& ids);

  const GatewayOptions opts_;
  const BucketFor bucket_for_;
  cache::PageCache cache_;
  blocks::BlockSet<BlockReader> blocks_;
};

}  // namespace strata::store
