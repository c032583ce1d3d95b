#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "blocks/lifecycle.h"
#include "objstore/bucket.h"
#include "tsdb/block/meta.h"

// Metrics blocks in object storage: the shared block lifecycle (blocks/lifecycle.h) with the
// metrics layout (shard files) and meta.json.
namespace strata::tsdb::block {

// Where a tenant's metrics blocks live: blocks::BlocksRoot(tenant, Signal::kMetrics).
std::string MetricsRoot(const std::string& tenant);
// A metrics block's directory: "<tenant>/<block id>/".
inline std::string BlockPrefix(const std::string& tenant, const std::string& id) {
  return blocks::BlockPrefix(MetricsRoot(tenant), id);
}

// Uploads a block written by BlockWriter in `dir`: the shard files first, meta.json last, so
// the block becomes visible only once complete. Safe to repeat after a failure.
Status UploadBlock(objstore::Bucket& bucket, const std::string& tenant, const std::string& dir,
                   const BlockMeta& meta);

Result<BlockMeta> ReadMeta(objstore::Bucket& bucket, const std::string& tenant,
                           const std::string& id);
// Reads the meta.json of many blocks with parallel GETs. A block deleted meanwhile, or whose
// meta.json is unreadable (logged), comes back empty; other errors fail the call.
Result<std::vector<std::optional<BlockMeta>>> ReadMetas(objstore::Bucket& bucket,
                                                        const std::string& tenant,
                                                        const std::vector<std::string>& ids);

}  // namespace strata::tsdb::block
