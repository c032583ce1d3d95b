#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/signal.h"
#include "base/status.h"
#include "objstore/bucket.h"

// The life of a block in object storage, the same for every signal: an immutable directory of
// files named by a ULID, visible once its meta.json exists (uploaded last), listed with one
// recursive LIST, retired by a deletion mark and deleted after a delay, meta.json first. What
// the files and meta.json hold belongs to the signal (tsdb/block for metrics).
namespace strata::blocks {

inline constexpr const char* kMetaFile = "meta.json";
inline constexpr const char* kDeletionMarkFile = "deletion-mark.json";

// Where a tenant's blocks of a signal live in its bucket: "<tenant>/" for metrics (the layout
// since the first release), "<tenant>/<signal>/" for the others.
std::string BlocksRoot(const std::string& tenant, Signal signal);
// A block's directory under a root: "<root><id>/".
inline std::string BlockPrefix(const std::string& root, const std::string& id) {
  return root + id + "/";
}

// Uploads the block in local directory `dir`: each of `files` first, then `meta_json` as
// meta.json, so the block becomes visible only once complete. Safe to repeat after a failure.
Status UploadBlock(objstore::Bucket& bucket, const std::string& root, const std::string& id,
                   const std::string& dir, std::span<const std::string> files,
                   std::string_view meta_json);

// Writes "<tenant>/tenant.json" unless present, so that a delimited listing of the bucket's
// root finds the tenant even on stores that only report prefixes holding an object directly
// (s3rver does; AWS S3 does not need it).
Status EnsureTenantMarker(objstore::Bucket& bucket, const std::string& tenant);

struct ListedBlock {
  std::string id;
  bool complete = false;  // meta.json present
  bool marked = false;    // deletion-mark.json present
};

// The block directories under `root`, sorted by ID, from one recursive listing (no GETs), so
// discovery costs LIST requests only. Entries that are not ULIDs (another signal's root under
// the metrics root) are skipped.
Result<std::vector<ListedBlock>> ListBlocks(objstore::Bucket& bucket, const std::string& root);

// The meta.json of each block, read with parallel GETs; a block deleted meanwhile comes back
// empty, other errors fail the call.
Result<std::vector<std::optional<std::string>>> ReadMetaFiles(objstore::Bucket& bucket,
                                                              const std::string& root,
                                                              const std::vector<std::string>& ids);

// Retires a block: deletion-mark.json records when. Readers stop reading it at their next
// sync; its objects are deleted after a delay, so queries already reading it finish.
Status MarkForDeletion(objstore::Bucket& bucket, const std::string& root, const std::string& id,
                       int64_t now_ms);
// When the block was marked (ms); kCorruption for an unreadable mark.
Result<int64_t> ReadDeletionMark(objstore::Bucket& bucket, const std::string& root,
                                 const std::string& id);
// Deletes a block: meta.json first (the block turns incomplete, invisible to readers), then
// its files, then the mark. Safe to repeat after a crash.
Status DeleteBlock(objstore::Bucket& bucket, const std::string& root, const std::string& id);

}  // namespace strata::blocks
