#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "cache/page_cache.h"
#include "objstore/bucket.h"

namespace strata::cache {

struct RangeReadOptions {
  uint64_t page_size = 16u << 10;  // cache granularity
  uint64_t max_gap = 64u << 10;    // missing pages closer than this are fetched in one GET
  size_t fetch_concurrency = 8;    // parallel GETs per read
};

// Reads byte ranges of an immutable object of `object_size` bytes through the page cache:
// cached pages are served from memory or disk, missing ones fetched with coalesced range GETs
// (run concurrently) and cached. Returns one string per range, in order. A range outside the
// object, or an object shorter than `object_size`, is kCorruption. What every signal's block
// reader uses.
Result<std::vector<std::string>> ReadRanges(objstore::Bucket& bucket, PageCache& cache,
                                            const std::string& key, uint64_t object_size,
                                            std::span<const objstore::ByteRange> ranges,
                                            const RangeReadOptions& opts);

}  // namespace strata::cache
