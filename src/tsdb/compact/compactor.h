#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "limits/limits.h"
#include "objstore/bucket.h"
#include "tsdb/block/meta.h"

namespace strata::tsdb::compact {

struct CompactorOptions {
  // Aligned ranges blocks are merged into; the first is the range heads are cut at.
  std::vector<int64_t> ranges = {int64_t{2} * 3600'000, int64_t{12} * 3600'000,
                                 int64_t{24} * 3600'000};
  int64_t downsample_5m_after_ms = int64_t{40} * 3600'000;    // raw blocks this old get a 5m copy
  int64_t downsample_1h_after_ms = int64_t{10} * 86'400'000;  // 5m blocks this old get 1h
  int64_t deletion_delay_ms = 3600'000;                       // between mark and delete
  int64_t abandoned_upload_ms = int64_t{6} * 3600'000;  // incomplete blocks older than this go
  uint64_t shard_target_bytes = 256u << 20;
  std::string work_dir;  // downloads and outputs
};

struct PassStats {
  int compacted = 0;    // blocks written by merging
  int downsampled = 0;  // blocks written by downsampling
  int marked = 0;       // blocks marked for deletion
  int deleted = 0;      // blocks deleted
};

// Compactor keeps a tenant's bucket tidy: merges adjacent blocks into larger aligned ones
// (removing duplicates and overlaps), writes downsampled copies, applies retention, and
// deletes retired blocks in two phases. It downloads each source file once per job. It can
// run inside `strata serve` or next to the bucket as `strata compactor`. One pass per tenant
// at a time; thread-safe across tenants.
class Compactor {
 public:
  using BucketFor = std::function<std::shared_ptr<objstore::Bucket>(const std::string& tenant)>;

  // Retention comes from each tenant's limits (`limits` outlives the Compactor).
  Compactor(CompactorOptions opts, const limits::TenantOverrides& limits, BucketFor bucket_for,
            prometheus::Registry* registry);

  // Runs jobs for `tenant` until none is left.
  Result<PassStats> Run(const std::string& tenant, int64_t now_ms);
  // Makes running and later passes return Cancelled at the next series or job (shutdown).
  // An interrupted job's output is never made visible; a later pass cleans it up.
  void Stop() { stopping_ = true; }

 private:
  struct Block {
    block::BlockMeta meta;
    bool marked = false;
  };
  Result<std::vector<Block>> Load(objstore::Bucket& bucket, const std::string& tenant,
                                  int64_t now_ms, PassStats& stats);
  // Merges `sources` into one block [min_time, max_time) of `resolution` (0: merge, else
  // downsample to it), uploads it, and marks the sources unless `keep_sources`.
  Status Merge(objstore::Bucket& bucket, const std::string& tenant,
               const std::vector<const Block*>& sources, int64_t min_time, int64_t max_time,
               int64_t resolution, bool keep_sources, int64_t now_ms);
  const CompactorOptions opts_;
  const limits::TenantOverrides& limits_;
  const BucketFor bucket_for_;
  std::atomic<bool> stopping_{false};
  Mutex meta_mu_;
  std::map<std::string, block::BlockMeta> metas_ GUARDED_BY(meta_mu_);  // immutable once read
  // Per tenant: when each block was marked for deletion (blocks::Tidy's cache).
  std::map<std::string, std::map<std::string, int64_t>> marked_at_ GUARDED_BY(meta_mu_);

  prometheus::Family<prometheus::Counter>* jobs_ = nullptr;
  prometheus::Family<prometheus::Counter>* blocks_ = nullptr;
  prometheus::Family<prometheus::Gauge>* progress_ = nullptr;
};

}  // namespace strata::tsdb::compact
