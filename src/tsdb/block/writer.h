#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/sample.h"
#include "base/status.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/meta.h"

namespace strata::tsdb::block {

struct WriterOptions {
  int64_t min_time = 0;  // inclusive
  int64_t max_time = 0;  // exclusive
  uint32_t shards = 1;
  int level = 1;
  int64_t resolution_ms = 0;         // > 0: a downsampled block (AddAggregateSeries only)
  std::vector<std::string> sources;  // empty: the block is its own source
  std::string id;                    // empty: a new ULID
};

// BlockWriter writes one block into a local directory: per shard a chunks file and an index
// file (index-of-index at its end), then meta.json. Series are assigned to shards by label
// hash. The directory is then uploaded with UploadBlock. Not thread-safe.
class BlockWriter {
 public:
  // `dir` is created; anything in it is removed first.
  static Result<std::unique_ptr<BlockWriter>> Create(const std::string& dir, WriterOptions opts);
  ~BlockWriter();

  // Adds one series: its float samples and its native histogram samples, each sorted by
  // time, within [min_time, max_time). Series must come in strictly increasing label order.
  // Series without samples are skipped.
  Status AddSeries(const Labels& labels, std::span<const Sample> samples,
                   std::span<const histogram::HistogramSample> histograms = {});
  // Adds one downsampled series (windows in time order, within the block's range). Native
  // histograms are not aggregated: they are kept as they are, beside the aggregates.
  Status AddAggregateSeries(const Labels& labels, const AggrSeries& aggr,
                            std::span<const histogram::HistogramSample> histograms = {});
  // Writes the indexes and meta.json and closes the files.
  Result<BlockMeta> Finish();

  const std::string& dir() const { return dir_; }

 private:
  struct ChunkRef {
    int64_t min_t;
    int64_t max_t;
    uint64_t offset;
    uint32_t length;
  };
  struct SeriesEntry {
    std::vector<std::pair<std::string_view, std::string_view>> labels;  // interned
    std::vector<ChunkRef> chunks;
  };
  struct Shard {
    int fd = -1;
    std::string path;
    std::string buf;  // pending chunk bytes
    uint64_t written = 0;
    std::vector<SeriesEntry> series;
  };

  BlockWriter(std::string dir, WriterOptions opts);
  Status FlushChunks(Shard& shard, bool all);
  // Checks label order and returns the series' shard and a new entry for it.
  Result<Shard*> StartSeries(const Labels& labels, SeriesEntry& entry);
  // Appends the chunk record in shard.buf[rec_start..] to the entry.
  void EndChunk(Shard& shard, SeriesEntry& entry, size_t rec_start, int64_t min_t, int64_t max_t);
  // Appends histogram chunk records to a series entry.
  Status WriteHistogramChunks(Shard& shard, SeriesEntry& entry, const Labels& labels,
                              std::span<const histogram::HistogramSample> histograms);
  Status WriteIndex(uint32_t shard_no, Shard& shard, ShardMeta& meta);
  std::string_view Intern(std::string_view s);

  const std::string dir_;
  WriterOptions opts_;
  std::vector<Shard> shards_;
  std::unordered_set<std::string> strings_;
  Labels last_labels_;
  BlockMeta meta_;
  std::vector<uint8_t> chunk_;
};

// Whether a chunk record (or chunk) holds native histograms.
bool IsHistogramRecord(std::string_view record);
// Checks a chunk record's length and CRC32C.
Status CheckChunkRecord(std::string_view record);
// Decodes one chunk record of a chunks file (encoding byte, data, CRC32C), appending float
// samples to `floats` and native histogram samples to `histograms`; a null vector leaves
// that kind of chunk out.
Status DecodeChunkRecord(std::string_view record, std::vector<Sample>* floats,
                         std::vector<histogram::HistogramSample>* histograms);
// Decodes a chunk led by its encoding byte (kEncXor or kEncPacked), appending to `out`.
Status DecodeChunk(std::string_view chunk, std::vector<Sample>& out);

}  // namespace strata::tsdb::block
