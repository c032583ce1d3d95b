#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "blocks/lifecycle.h"
#include "objstore/bucket.h"

namespace strata::blocks {

struct TidyOptions {
  int64_t deletion_delay_ms = 3600'000;                 // between mark and delete
  int64_t abandoned_upload_ms = int64_t{6} * 3600'000;  // incomplete blocks older than this go
};

// The first step of every signal's compaction pass: one listing of the blocks under `root`,
// in which blocks marked for deletion at least deletion_delay_ms ago are deleted and uploads
// that never completed (no meta.json, their writer gone) are removed once older than
// abandoned_upload_ms. Returns the complete blocks left, marked or not, sorted by ID; the IDs
// deleted go to `deleted`, also when a later step fails. `marked_at` caches when each block
// was marked (marks never change), so each mark is read once.
Result<std::vector<ListedBlock>> Tidy(objstore::Bucket& bucket, const std::string& root,
                                      int64_t now_ms, const TidyOptions& opts,
                                      std::vector<std::string>& deleted,
                                      std::map<std::string, int64_t>& marked_at);

}  // namespace strata::blocks
