#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "blocks/live_blocks.h"
#include "blocks/tidy.h"
#include "limits/limits.h"
#include "objstore/bucket.h"
#include "traces/block/format.h"
#include "traces/block/writer.h"

namespace strata::traces {

struct CompactorOptions {
  blocks::TidyOptions tidy;
  // Blocks cut from heads (level 1) are merged with the others whose earliest span falls in
  // the same window (Tempo's compaction_window), once the window is over by `settle_ms` (the
  // heads have cut its traces), or earlier when `max_sources` of them, or `max_block_bytes`
  // of stored bytes, are waiting. A merged block is not merged again: compaction reads each
  // byte a head wrote once, and nothing twice.
  int64_t window_ms = 3'600'000;
  int64_t settle_ms = 900'000;
  uint64_t max_block_bytes = uint64_t{2} << 30;
  size_t max_sources = 64;
  // A source's pages are read in GETs of this many bytes (or one page, when larger), straight
  // from the bucket: a merge holds one such read per source.
  uint64_t read_bytes = uint64_t{4} << 20;
  block::WriterOptions block;
  std::string work_dir;  // merged blocks are written here before upload
};

struct CompactorStats {
  int compacted = 0;           // blocks written by merging
  int marked = 0;              // blocks marked for deletion
  int deleted = 0;             // blocks deleted
  uint64_t bytes_read = 0;     // of the merged blocks' sources (index and data files)
  uint64_t bytes_written = 0;  // of the merged blocks (all their files)
};

// Compactor keeps a tenant's trace blocks tidy through the lifecycle every signal shares
// (blocks::Tidy, deletion marks, superseded blocks): merges the level-1 blocks of a window
// into one (traces by ID, the parts of a trace cut into several blocks joined, each span
// once), retires blocks whose last span is past the tenant's trace retention, and deletes
// retired blocks after a delay. A merge reads its sources' pages in ID order side by side
// (their traces are sorted by ID), each page once. One pass per tenant at a time;
// thread-safe across tenants.
class Compactor {
 public:
  using BucketFor = std::function<std::shared_ptr<objstore::Bucket>(const std::string& tenant)>;

  // Retention comes from each tenant's limits (`limits` outlives the Compactor).
  Compactor(CompactorOptions opts, const limits::TenantOverrides& limits, BucketFor bucket_for)
      : opts_(std::move(opts)),
        limits_(limits),
        bucket_for_(std::move(bucket_for)),
        live_(Signal::kTraces, block::DecodeMeta, opts_.tidy) {}

  // Runs jobs for `tenant` until none is left.
  Result<CompactorStats> Run(const std::string& tenant, int64_t now_ms);
  void Stop() { stopping_ = true; }

 private:
  // Writes the traces of `sources` as one block and retires them. The new block's ID and the
  // marks are stamped NowMillis() - offset_ms (the pass's clock).
  Status Merge(objstore::Bucket& bucket, const std::string& tenant,
               const std::vector<block::BlockMeta>& sources, int64_t offset_ms,
               CompactorStats& stats);

  const CompactorOptions opts_;
  const limits::TenantOverrides& limits_;
  const BucketFor bucket_for_;
  blocks::LiveBlocks<block::BlockMeta> live_;
  std::atomic<bool> stopping_{false};
};

}  // namespace strata::traces
