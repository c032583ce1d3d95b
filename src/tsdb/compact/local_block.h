#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/sample.h"
#include "base/status.h"
#include "objstore/bucket.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/meta.h"
#include "tsdb/block/reader.h"

namespace strata::tsdb::compact {

// A block copied from the bucket to a local directory, each file downloaded once with a
// whole-object GET: compaction reads every source byte exactly once. Not thread-safe.
class LocalBlock {
 public:
  static Result<std::unique_ptr<LocalBlock>> Download(objstore::Bucket& bucket,
                                                      const std::string& tenant,
                                                      const block::BlockMeta& meta,
                                                      const std::string& dir);
  // Opens a block written locally (by BlockWriter).
  static Result<std::unique_ptr<LocalBlock>> Open(const std::string& dir,
                                                  const block::BlockMeta& meta);
  ~LocalBlock();

  const block::BlockMeta& meta() const { return meta_; }
  uint64_t bytes() const { return bytes_; }

  // Iterates one shard's series in label order.
  class ShardIterator {
   public:
    bool Next();  // false at the end or on error (see status())
    const Labels& labels() const { return series_[pos_].labels; }
    // Decodes the current series' float and native histogram samples (appended).
    Status Samples(std::vector<Sample>& out, std::vector<histogram::HistogramSample>& histograms);
    // Decodes the current series' aggregates and native histograms (downsampled blocks),
    // appending.
    Status Aggregates(block::AggrSeries& out, std::vector<histogram::HistogramSample>& histograms);
    const Status& status() const { return status_; }

   private:
    friend class LocalBlock;
    ShardIterator(const LocalBlock& block, uint32_t shard, block::ShardIndex index);
    // Calls fn(record) for each chunk record of the current series.
    Status ForEachRecord(const std::function<Status(std::string_view)>& fn);
    const LocalBlock& block_;
    uint32_t shard_;
    block::ShardIndex index_;
    std::vector<block::SeriesRef> series_;
    size_t next_ordinal_ = 0;
    size_t pos_ = 0;
    Status status_;
  };
  Result<std::unique_ptr<ShardIterator>> Shard(uint32_t shard) const;

 private:
  LocalBlock(std::string dir, block::BlockMeta meta);
  Status Load();

  std::string dir_;
  block::BlockMeta meta_;
  uint64_t bytes_ = 0;
  std::vector<std::string> indexes_;  // whole index files
  std::vector<int> chunk_fds_;
};

}  // namespace strata::tsdb::compact
