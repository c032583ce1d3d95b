#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "blocks/live_blocks.h"
#include "blocks/tidy.h"
#include "limits/limits.h"
#include "logs/block/format.h"
#include "logs/block/writer.h"
#include "objstore/bucket.h"

namespace strata::logs {

struct CompactorOptions {
  blocks::TidyOptions tidy;
  // Blocks are merged with the others whose oldest entry is in the same UTC day, once the
  // day is over by `settle_ms` (late entries have arrived), or earlier when together they
  // hold `max_block_bytes`. A merged block holds at most that many stored bytes.
  int64_t day_ms = 86'400'000;
  int64_t settle_ms = 3'600'000;
  uint64_t max_block_bytes = uint64_t{2} << 30;
  // Blocks that big are not merged further.
  uint64_t large_block_bytes = uint64_t{1} << 30;
  block::WriterOptions block = [] {
    block::WriterOptions o;
    // Written once, beside the bucket, read many times: zstd's strongest regular level and
    // 4 MiB pages (on the LogHub corpus, data 433,556 bytes against 492,808 at level 9 and
    // 442,514 with 1 MiB pages; 3.7 MB/s of text per core). Decompression is as fast.
    o.level = 19;
    o.page_bytes = uint64_t{4} << 20;
    o.dict_bytes = size_t{16} << 10;  // big pages gain little from a dictionary
    return o;
  }();
  std::string work_dir;  // merged blocks are written here before upload
};

struct CompactorStats {
  int compacted = 0;  // blocks written by merging
  int rewritten = 0;  // blocks written again without the entries past their retention
  int marked = 0;     // blocks marked for deletion
  int deleted = 0;    // blocks deleted
};

// Compactor keeps a tenant's log blocks tidy, as tsdb::compact::Compactor does the metrics
// ones and through the same lifecycle (blocks::Tidy, deletion marks, superseded blocks):
// merges the small blocks of a day into one (streams merged by labels, entries by time,
// identical entries once), applies retention per tenant and per stream selector (Loki's
// retention_period and retention_stream, at day granularity: entries older than the start
// of the day `period` ago go; whole blocks past it are retired, blocks with some entries past
// it are written again without them), and deletes retired blocks after a delay. Each source
// page is read once per job. One pass per tenant at a time; thread-safe across tenants.
class Compactor {
 public:
  using BucketFor = std::function<std::shared_ptr<objstore::Bucket>(const std::string& tenant)>;

  // Retention comes from each tenant's limits (`limits` outlives the Compactor).
  Compactor(CompactorOptions opts, const limits::TenantOverrides& limits, BucketFor bucket_for)
      : opts_(std::move(opts)),
        limits_(limits),
        bucket_for_(std::move(bucket_for)),
        live_(Signal::kLogs, block::DecodeMeta, opts_.tidy) {}

  // Runs jobs for `tenant` until none is left.
  Result<CompactorStats> Run(const std::string& tenant, int64_t now_ms);
  void Stop() { stopping_ = true; }

 private:
  // Per retention period in a block: its streams' oldest and newest entry (from its index,
  // read once per block).
  struct Span {
    int64_t keep_ms;
    int64_t min_ts;
    int64_t max_ts;
  };
  // Writes the entries of `sources` (merged, within retention at `now_ms`) as one block, if
  // any are left, and retires the sources. The new block's ID and the marks are stamped
  // NowMillis() - offset_ms (the pass's clock, advanced by the time it has run).
  Status Merge(objstore::Bucket& bucket, const std::string& tenant,
               const std::vector<block::BlockMeta>& sources, int64_t now_ms, int64_t offset_ms);
  Result<std::vector<block::BlockMeta>> Load(objstore::Bucket& bucket, const std::string& tenant,
                                             int64_t now_ms, CompactorStats& stats);
  // The block's retention spans; null for a block whose index cannot be read (left alone).
  std::optional<std::vector<Span>> Spans(const std::shared_ptr<objstore::Bucket>& bucket,
                                         const std::string& tenant, const block::BlockMeta& m);
  // Entries older than this are past a retention of `keep_ms` at `now_ms` (whole days).
  int64_t Cutoff(int64_t keep_ms, int64_t now_ms) const;

  const CompactorOptions opts_;
  const limits::TenantOverrides& limits_;
  const BucketFor bucket_for_;
  std::atomic<bool> stopping_{false};
  blocks::LiveBlocks<block::BlockMeta> live_;
  Mutex meta_mu_;
  std::map<std::string, std::vector<Span>> spans_ GUARDED_BY(meta_mu_);  // by block ID
};

}  // namespace strata::logs
