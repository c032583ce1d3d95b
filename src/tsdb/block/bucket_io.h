#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "objstore/bucket.h"
#include "tsdb/block/meta.h"

namespace strata::tsdb::block {

// Where a block lives in a bucket: "<tenant>/<block id>/".
inline std::string BlockPrefix(const std::string& tenant, const std::string& id) {
  return tenant + "/" + id + "/";
}

// Uploads a block written by BlockWriter in `dir`: the shard files first, meta.json last, so
// the block becomes visible only once complete. Safe to repeat after a failure.
Status UploadBlock(objstore::Bucket& bucket, const std::string& tenant, const std::string& dir,
                   const BlockMeta& meta);

// Writes "<tenant>/tenant.json" unless present, so that a delimited listing of the bucket's
// root finds the tenant even on stores that only report prefixes holding an object directly
// (s3rver does; AWS S3 does not need it).
Status EnsureTenantMarker(objstore::Bucket& bucket, const std::string& tenant);

struct ListedBlock {
  std::string id;
  bool complete = false;  // meta.json present
  bool marked = false;    // deletion-mark.json present
};

// The tenant's block directories, sorted by ID, from one recursive listing (no GETs), so
// discovery costs LIST requests only; meta.json of new blocks is read with ReadMeta.
Result<std::vector<ListedBlock>> ListBlocks(objstore::Bucket& bucket, const std::string& tenant);
Result<BlockMeta> ReadMeta(objstore::Bucket& bucket, const std::string& tenant,
                           const std::string& id);
// Reads the meta.json of many blocks with parallel GETs. A block deleted meanwhile, or whose
// meta.json is unreadable (logged), comes back empty; other errors fail the call.
Result<std::vector<std::optional<BlockMeta>>> ReadMetas(objstore::Bucket& bucket,
                                                        const std::string& tenant,
                                                        const std::vector<std::string>& ids);

// Retires a block: deletion-mark.json records when. Store gateways stop reading it at their
// next sync; its objects are deleted after a delay, so queries already reading it finish.
Status MarkForDeletion(objstore::Bucket& bucket, const std::string& tenant, const std::string& id,
                       int64_t now_ms);
// When the block was marked (ms).
Result<int64_t> ReadDeletionMark(objstore::Bucket& bucket, const std::string& tenant,
                                 const std::string& id);
// Deletes a block: meta.json first (the block turns incomplete, invisible to readers), then
// its files, then the mark. Safe to repeat after a crash.
Status DeleteBlock(objstore::Bucket& bucket, const std::string& tenant, const std::string& id);

}  // namespace strata::tsdb::block
