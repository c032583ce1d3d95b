#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "objstore/bucket.h"

namespace strata::tsdb::block {

using ByteRange = objstore::ByteRange;

// Reads byte ranges of one file of a block; returns one string per range, in order. The
// store gateway plugs caching and request coalescing in here.
using RangeFetcher = std::function<Result<std::vector<std::string>>(std::span<const ByteRange>)>;

// A RangeFetcher over a whole file in memory, which must outlive it; ranges outside the
// file are Corruption.
RangeFetcher FetcherOver(std::string_view file);

struct ChunkRef {
  int64_t min_t = 0;
  int64_t max_t = 0;
  uint64_t offset = 0;  // in the shard's chunks file
  uint32_t length = 0;  // whole record: encoding, data, CRC32C
};

struct SeriesRef {
  Labels labels;
  std::vector<ChunkRef> chunks;
};

// ShardIndex is the decoded index-of-index of one shard, held in memory by the store gateway.
// It answers matcher and label queries by fetching only the index ranges it needs (postings
// tables, postings lists, series groups). Long postings lists (a metric name every series
// has) are kept decoded once read: decoding them would cost more than the rest of a lookup.
// All input is untrusted: anything malformed is Corruption. Thread-safe.
class ShardIndex {
 public:
  // Parses the index-of-index bytes (the [ioi_offset, ioi_offset+ioi_length) range).
  static Result<ShardIndex> Parse(std::string_view ioi, uint64_t index_size);

  size_t num_series() const { return num_series_; }
  // Includes the decoded postings lists kept so far.
  size_t MemoryBytes() const;

  // Ordinals of the series matching all matchers (all series when there are none), sorted.
  Result<std::vector<uint32_t>> Postings(std::span<const Matcher> matchers,
                                         const RangeFetcher& index) const;
  // The series with the given sorted ordinals, keeping only chunks that overlap
  // [mint, maxt]; series left without chunks are dropped unless `keep_empty`.
  Result<std::vector<SeriesRef>> Series(std::span<const uint32_t> ordinals, int64_t mint,
                                        int64_t maxt, int64_t block_min_time, bool keep_empty,
                                        const RangeFetcher& index) const;
  std::vector<std::string> LabelNames() const;
  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               const RangeFetcher& index) const;

 private:
  struct TableBlock {
    uint32_t first_value;  // symbol
    uint64_t offset;
    uint64_t length;
  };
  struct Table {
    uint32_t name;  // symbol
    std::vector<TableBlock> blocks;
  };
  struct ListRef {
    uint32_t value;
    ByteRange range;
  };
  using List = std::shared_ptr<const std::vector<uint32_t>>;
  // Decoded postings lists of at least kKeepDecodedEntries entries, by offset in the index;
  // at most 16 bytes per series of the shard (four lists of every series) in all.
  struct DecodedLists {
    Mutex mu;
    std::unordered_map<uint64_t, List> lists GUARDED_BY(mu);
    size_t bytes GUARDED_BY(mu) = 0;
  };

  const Table* FindTable(std::string_view name) const;
  // Postings-list ranges of the table's values that `keep` accepts.
  Result<std::vector<ListRef>> ReadTable(const Table& t, std::span<const size_t> blocks,
                                         const RangeFetcher& index) const;
  // Sorted ordinals of the series whose value of t's label `m` accepts (or rejects).
  Result<List> MatchingPostings(const Table& t, const Matcher& m, bool invert,
                                const RangeFetcher& index) const;
  Result<List> DecodeList(std::string_view data) const;

  std::string symbol_data_;
  std::vector<uint32_t> symbol_offsets_;  // symbol i = symbol_data_[off[i], off[i+1])
  std::vector<Table> tables_;             // sorted by name
  std::vector<ByteRange> groups_;
  size_t num_series_ = 0;
  std::unique_ptr<DecodedLists> decoded_ = std::make_unique<DecodedLists>();

  std::string_view Symbol(uint32_t i) const {
    return std::string_view(symbol_data_)
        .substr(symbol_offsets_[i], symbol_offsets_[i + 1] - symbol_offsets_[i]);
  }
};

}  // namespace strata::tsdb::block
