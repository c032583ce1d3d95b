#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "logs/block/bloom.h"

// The files of a log block and what its index and meta.json hold; docs/format/log-block.md
// describes every byte.
namespace strata::logs::block {

// Version 3 leaves digit-only tokens shorter than 15 bytes out of the filters; version 2
// blocks (every token) are still read, with the needle features they were written with.
inline constexpr int kFormatVersion = 3;
inline constexpr int kOldestFormatVersion = 2;
// Whether a block of this version holds digit-only tokens shorter than 15 bytes as features.
inline bool FiltersShortNumbers(int version) { return version < 3; }
inline constexpr const char* kIndexFile = "index";
inline constexpr const char* kDataFile = "data";
inline constexpr const char* kBloomsFile = "blooms";
inline constexpr char kIndexMagic[4] = {'S', 'L', 'B', 'I'};

// Bounds a reader holds untrusted input to.
inline constexpr uint32_t kMaxFields = 15;
inline constexpr uint64_t kMaxPageEntries = uint64_t{1} << 20;
// A page's line and metadata bytes reach page_bytes (at most kMaxPageBytes) before one more
// entry (at most half a WAL record, 32 MiB) ends it.
inline constexpr uint64_t kMaxPageBytes = uint64_t{16} << 20;
inline constexpr uint64_t kMaxPageRawBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxIndexRawBytes = uint64_t{1} << 30;
// A decompressed index is at most this many times its file (indexes compress 2-5x).
inline constexpr uint64_t kMaxIndexRatio = 64;

// A page: consecutive entries of one stream, in time order. Its frames lie back to back in
// the data file: timestamps, structured metadata (when an entry has some), then the body
// (lines split into fields), so that reading times and metadata skips the text.
struct PageInfo {
  int64_t min_ts = 0;  // Unix ns, inclusive
  int64_t max_ts = 0;
  uint32_t entries = 0;
  uint64_t line_bytes = 0;  // the lines' length, summed
  uint64_t offset = 0;      // of the timestamps frame in the data file
  uint32_t ts_len = 0;      // compressed lengths
  uint32_t body_len = 0;
  uint64_t body_raw = 0;     // decompressed length of the body
  uint32_t meta_len = 0;     // compressed length of the structured metadata frame; 0: none
  uint64_t meta_raw = 0;     // its decompressed length
  uint32_t bloom_class = 0;  // size class of the page's bloom filter (bloom.h)
  bool operator==(const PageInfo&) const = default;
};

struct StreamInfo {
  Labels labels;
  uint32_t first_page = 0;  // pages [first_page, first_page + num_pages) are this stream's
  uint32_t num_pages = 0;
  bool operator==(const StreamInfo&) const = default;
};

struct BlockIndex {
  uint32_t fields = 0;              // splits per line at spaces; parts = fields + 1 at most
  std::string dictionary;           // zstd dictionary of the page bodies; empty: none
  std::vector<StreamInfo> streams;  // sorted by labels
  std::vector<PageInfo> pages;      // in data-file order
  bool operator==(const BlockIndex&) const = default;
};

// Where the pages' filters lie in the blooms file: the filters of one size class form a table,
// block-major (block b of every page of the class together), the classes' tables in
// increasing class order. Block b of the page of rank r among the n pages of its class is at
// offset[class] + (b * n + r) * kBloomBlockBytes.
struct BloomLayout {
  std::vector<uint32_t> rank;  // per page: how many pages of its class come before it
  std::array<uint64_t, kMaxBloomClass + 1> offset{};
  std::array<uint32_t, kMaxBloomClass + 1> pages{};
  uint64_t bytes = 0;  // of the blooms file
};
BloomLayout MakeBloomLayout(const BlockIndex& index);

// The index file: magic, then one zstd frame (with checksum) of the encoded index.
std::string EncodeIndex(const BlockIndex& index);
// Parses and validates an index file (untrusted: from the bucket) against the data file's size.
Result<BlockIndex> DecodeIndex(std::string_view file, uint64_t data_bytes);

// meta.json of a log block.
struct BlockMeta {
  int version = kFormatVersion;
  std::string id;           // ULID
  int64_t min_time_ns = 0;  // inclusive
  int64_t max_time_ns = 0;  // inclusive
  uint64_t num_streams = 0;
  uint64_t num_entries = 0;
  uint64_t num_pages = 0;
  uint64_t line_bytes = 0;
  uint64_t index_bytes = 0;
  uint64_t data_bytes = 0;
  uint64_t blooms_bytes = 0;
  int level = 1;
  std::vector<std::string> sources;  // IDs of the level-1 blocks merged into this one
  bool operator==(const BlockMeta&) const = default;
};

std::string EncodeMeta(const BlockMeta& meta);
Result<BlockMeta> DecodeMeta(std::string_view json);

}  // namespace strata::logs::block
