#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

// The files of a trace block and what its index and meta.json hold; docs/format/trace-block.md
// describes every byte.
namespace strata::traces::block {

// Version 1 pages are one zstd frame of entries; version 2 pages are columnar (columns.h).
// Readers take both; writers write 2 unless told otherwise.
inline constexpr int kFormatVersion = 2;
inline constexpr int kMinFormatVersion = 1;
inline constexpr const char* kIndexFile = "index";
inline constexpr const char* kDataFile = "data";
inline constexpr char kIndexMagic[4] = {'S', 'T', 'B', 'I'};

// Bounds a reader holds untrusted input to.
inline constexpr uint64_t kMaxPageRawBytes = uint64_t{1} << 30;
inline constexpr uint64_t kMaxIndexBytes = uint64_t{1} << 30;

// A page: consecutive traces in ID order, one zstd frame (version 1) or columns (version 2) in
// the data file.
struct PageInfo {
  std::string first_id;  // 16 bytes each
  std::string last_id;
  uint64_t offset = 0;  // in the data file
  uint64_t length = 0;  // compressed
  uint64_t raw_length = 0;
  uint32_t traces = 0;
  bool operator==(const PageInfo&) const = default;
};

// The index file: the pages, and the fingerprints of the block's trace IDs (index version 2)
// or a blocked bloom filter (blocks/bloom.h) over them (version 1).
struct BlockIndex {
  std::vector<PageInfo> pages;
  // Sorted, one per trace: a lookup of an ID the block does not hold reads a page with
  // probability traces/2^32, so a tenant's false reads per lookup stay below its traces/2^32
  // however its traces are split into blocks.
  std::vector<uint32_t> fingerprints;
  std::string bloom;  // version 1 only: whole 64-byte blocks
  bool operator==(const BlockIndex&) const = default;

  // Whether the block may hold the trace (false: it certainly does not).
  bool MayHold(std::string_view trace_id) const;
  // The page whose ID range holds `trace_id`, or -1.
  int64_t PageOf(std::string_view trace_id) const;
};

// The filter feature of a trace ID (version 1 indexes' bloom filters).
uint64_t TraceIdFeature(std::string_view trace_id);
// The fingerprint of a trace ID: the feature's high 32 bits.
uint32_t TraceIdFingerprint(std::string_view trace_id);

std::string EncodeIndex(const BlockIndex& index);
// kCorruption naming the problem for bytes that are not a valid index.
Result<BlockIndex> DecodeIndex(std::string_view data);

struct BlockMeta {
  int version = kFormatVersion;
  std::string id;           // ULID
  int64_t min_time_ns = 0;  // the earliest span start, inclusive
  int64_t max_time_ns = 0;  // the latest span end, inclusive
  uint64_t num_traces = 0;
  uint64_t num_spans = 0;
  uint64_t num_pages = 0;
  uint64_t trace_bytes = 0;  // the traces' serialized size, summed
  uint64_t index_bytes = 0;
  uint64_t data_bytes = 0;
  int level = 1;
  std::vector<std::string> sources;  // IDs of the level-1 blocks merged into this one
  bool operator==(const BlockMeta&) const = default;
};

std::string EncodeMeta(const BlockMeta& meta);
Result<BlockMeta> DecodeMeta(std::string_view json);

}  // namespace strata::traces::block
