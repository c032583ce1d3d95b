#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::tsdb::block {

struct ShardMeta {
  uint64_t series = 0;
  uint64_t chunks_bytes = 0;
  uint64_t index_bytes = 0;  // whole index file, index-of-index included
  uint64_t ioi_offset = 0;   // where the index-of-index starts in the index file
  uint64_t ioi_length = 0;
  bool operator==(const ShardMeta&) const = default;
};

// meta.json: what a block covers and how it is laid out. Written last: a block without it is
// incomplete and invisible.
struct BlockMeta {
  std::string id;             // ULID
  int64_t min_time = 0;       // inclusive, ms
  int64_t max_time = 0;       // exclusive
  int64_t resolution_ms = 0;  // 0 = raw samples; else the downsampling interval
  uint64_t num_series = 0;
  uint64_t num_samples = 0;
  uint64_t num_chunks = 0;
  int level = 1;                     // 1 = cut from a head; compaction adds one
  std::vector<std::string> sources;  // IDs of the level-1 blocks merged into this one
  std::vector<ShardMeta> shards;
  bool operator==(const BlockMeta&) const = default;
};

std::string EncodeMeta(const BlockMeta& meta);
// Parses and validates meta.json (untrusted: from the bucket).
Result<BlockMeta> DecodeMeta(std::string_view json);

}  // namespace strata::tsdb::block
