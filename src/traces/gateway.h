#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "blocks/block_set.h"
#include "cache/page_cache.h"
#include "cache/range_reader.h"
#include "objstore/bucket.h"
#include "traces/block/format.h"
#include "traces/block/reader.h"

namespace strata::traces {

// Gateway serves the trace blocks in the object store with the parts the other signals'
// gateways use: blocks::BlockSet keeps each tenant's readers in step with the bucket, reads
// go through the shared page cache. A block's index (its pages' ID ranges and its trace IDs'
// fingerprints, about 4 bytes a trace held in memory) is loaded when the block is found, so a
// lookup reads only the page that holds the trace, in the blocks whose fingerprints let them
// hold it. Thread-safe.
class Gateway {
 public:
  // The bucket of a tenant's blocks (instrumented for the store-gateway component).
  using BucketFor = std::function<std::shared_ptr<objstore::Bucket>(const std::string& tenant)>;

  // `cache` outlives this.
  Gateway(cache::PageCache& cache, const cache::RangeReadOptions& opts, BucketFor bucket_for)
      : cache_(cache), opts_(opts), bucket_for_(std::move(bucket_for)) {}

  Status Sync(const std::string& tenant);
  // Makes a block just uploaded by this process visible at once.
  Status AddBlock(const std::string& tenant, const block::BlockMeta& meta);

  // The trace with this 16-byte ID in each of the tenant's blocks that holds it (serialized
  // TracesData, oldest block first); adds the bytes read to `bytes_read`.
  Status FindTrace(const std::string& tenant, std::string_view trace_id,
                   std::vector<std::string>& parts, uint64_t* bytes_read) const;
  std::vector<block::BlockMeta> Blocks(const std::string& tenant) const;
  // The readers of the tenant's blocks whose time range meets [start_ns, end_ns], newest
  // first.
  std::vector<std::shared_ptr<block::BlockReader>> BlocksIn(const std::string& tenant,
                                                            int64_t start_ns, int64_t end_ns) const;

 private:
  // A reader of the block with its index loaded.
  Result<std::shared_ptr<block::BlockReader>> Open(const std::shared_ptr<objstore::Bucket>& bucket,
                                                   const std::string& tenant,
                                                   block::BlockMeta meta) const;

  cache::PageCache& cache_;
  const cache::RangeReadOptions opts_;
  const BucketFor bucket_for_;
  blocks::BlockSet<block::BlockReader> blocks_;
};

}  // namespace strata::traces
