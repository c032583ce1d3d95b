#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/mutex.h"
#include "base/sample.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "index/series_record.h"
#include "tsdb/block/meta.h"
#include "tsdb/head/head.h"
#include "tsdb/metadata.h"
#include "wal/wal.h"

namespace strata::tsdb {

struct DbOptions {
  wal::WalOptions wal;
  // A checkpoint is taken once the WAL has grown by this much since the last one (and by at
  // least the size of the last checkpoint, so checkpointing stays a bounded share of I/O).
  uint64_t checkpoint_min_bytes = 256u << 20;
  // Blocks: the head is cut into blocks of this aligned range once it spans 1.5 of them.
  int64_t block_range_ms = 7'200'000;  // 2h
  // A block gets as many shards as keep each shard's chunks near this size.
  uint64_t shard_target_bytes = 256u << 20;
  // The exemplars kept (the newest, over all series; Prometheus's max_exemplars).
  size_t max_exemplars = kDefaultMaxExemplars;
};

// Uploads a block written to a local directory (and makes it queryable); the head drops
// the block's samples only after it returns OK.
using BlockShipper = std::function<Status(const std::string& dir, const block::BlockMeta&)>;

// An exemplar of an append batch: labels valid and sorted by name, time in ms.
struct ExemplarInput {
  std::span<const LabelView> labels;
  double value;
  int64_t t;
};

// One series of an append batch: labels already validated and sorted, with their hash. Its
// exemplars are stored after its samples, if the series is in the head by then.
struct SeriesInput {
  std::span<const LabelView> labels;
  uint64_t hash;
  std::span<const Sample> samples;
  std::span<const ExemplarInput> exemplars = {};
  std::span<const histogram::HistogramSample> histograms = {};  // validated
};

struct MetadataInput {
  std::string_view family;
  uint8_t type;
  std::string_view unit;
  std::string_view help;
};

// Per-tenant rules an append is checked against.
struct AppendLimits {
  uint64_t max_series = 0;             // 0 = unlimited
  uint64_t max_series_per_metric = 0;  // 0 = unlimited
  int64_t ooo_window_ms = 0;           // how much older than a series' newest sample is accepted
};

enum class Rejection {
  kOutOfOrder,
  kDuplicateTimestamp,
  kTooOld,
  kSeriesLimit,
  kMetricSeriesLimit,
};

// Receives each sample, float or histogram, (or whole series) that the Db refused, by its
// time; no time when the whole series was refused.
using RejectFn =
    std::function<void(size_t series_index, std::optional<int64_t> sample_time, Rejection)>;

struct AppendOutcome {
  uint64_t accepted = 0;    // samples and histograms
  uint64_t duplicates = 0;  // samples and histograms
  uint64_t histograms = 0;  // histograms accepted or duplicates
  uint64_t series_created = 0;
  uint64_t exemplars = 0;  // stored (duplicates of a series' newest count as stored)
  // Exemplars not stored (out of order, labels too long, no such series, storage off): as
  // Prometheus does, they never fail a write.
  uint64_t exemplars_refused = 0;
  uint64_t lsn = 0;  // durable once the WAL reaches it; see WhenDurable
};

// A batch's series looked up ahead of its Append (Db::Lookup), so that the caller can spare
// series the head already holds work such as validating their labels again.
struct SeriesLookup {
  std::vector<Head::Found> found;  // one per series of the batch
  uint64_t removals = 0;           // the head's removals() before the lookup
};

// Db is one tenant's time-series store: the in-memory head backed by a write-ahead log.
// Appends are applied to the head and logged in one critical section per batch, so the WAL
// order matches the head order; durability is awaited outside it (group commit).
// Thread-safe.
class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& dir, const DbOptions& opts,
                                          const std::string& name);
  ~Db();

  // Looks up the series of a batch (no lock that appends need is held).
  void Lookup(std::span<const SeriesInput> series, SeriesLookup& out) const;
  // Creates missing series (within `limits`), appends samples and exemplars, stores changed
  // metadata and logs all of it. Refusals go to `reject`; the batch itself fails only when the WAL
  // cannot take it (kUnavailable) and then nothing was applied. `lookup` is Lookup's answer
  // for `series` (an entry may be cleared: that series is looked up again). The inputs'
  // labels must have passed the ingest validation (ingest::ValidateLabels under the
  // tenant's limits): every series appended to is marked labels_checked, and the
  // distributor skips validating those from then on.
  Result<AppendOutcome> Append(std::span<const SeriesInput> series, SeriesLookup& lookup,
                               std::span<const MetadataInput> metadata, const AppendLimits& limits,
                               const RejectFn& reject) EXCLUDES(commit_mu_);
  // Lookup, then Append, under the same rule for the inputs' labels.
  Result<AppendOutcome> Append(std::span<const SeriesInput> series,
                               std::span<const MetadataInput> metadata, const AppendLimits& limits,
                               const RejectFn& reject) EXCLUDES(commit_mu_);
  // Calls done(status) once `lsn` is durable (see wal::Wal::WhenDurable).
  void WhenDurable(uint64_t lsn, wal::DurableFn done) { wal_->WhenDurable(lsn, std::move(done)); }
  // Blocking form, for tools and tests.
  Status WaitDurable(uint64_t lsn) { return wal_->WaitDurable(lsn); }

  // Cuts every complete block range out of the head: writes it under `staging_dir`, ships
  // it, then truncates the head and checkpoints the WAL past it. Returns the number of
  // blocks shipped; on a shipping error the head keeps the data and the next call retries.
  Result<int> CutBlocks(const std::string& staging_dir, const BlockShipper& ship)
      EXCLUDES(commit_mu_);

  // Writes a checkpoint of the head and drops the WAL segments it covers.
  Status Checkpoint() EXCLUDES(commit_mu_);
  // Checkpoints if the WAL has grown enough since the last one.
  Status MaybeCheckpoint();
  Status Close();

  const Head& head() const { return head_; }
  std::map<std::string, MetricMetadata> Metadata() const EXCLUDES(meta_mu_);
  const wal::ReplayStats& replay_stats() const { return replay_stats_; }
  wal::WalStats wal_stats() const { return wal_->stats(); }

  // Replays a data directory's WAL read-only into a fresh Db-less head (offline tools).
  static Status ReadInto(const std::string& dir, Head& head,
                         std::map<std::string, MetricMetadata>* metadata);

 private:
  Db(std::string dir, DbOptions opts, std::string name);
  std::string HeadStatePath() const;
  // Restores the head's minimum valid time saved by the last block cut.
  Status LoadHeadState();
  // Applies one WAL record to the head (replay).
  using Replay = index::SeriesReplay<Head, MemSeries>;
  static Status ApplyRecord(Replay& replay, Head& head,
                            std::map<std::string, MetricMetadata>& metadata, wal::RecordType type,
                            std::string_view payload);

  const std::string dir_;
  const DbOptions opts_;
  const std::string name_;
  Head head_;
  std::unique_ptr<wal::Wal> wal_;
  wal::ReplayStats replay_stats_;

  Mutex commit_mu_;  // orders head application with WAL appends
  mutable Mutex meta_mu_;
  std::map<std::string, MetricMetadata> metadata_ GUARDED_BY(meta_mu_);

  Mutex checkpoint_mu_;  // one checkpoint at a time
  Mutex cut_mu_;         // one block cut at a time
  // End of the last range shipped (head.state). The next cut starts here, not at the
  // head's minimum valid time, which a failed cut has already raised past its range.
  std::atomic<int64_t> shipped_until_{INT64_MIN};
  std::atomic<uint64_t> lsn_at_checkpoint_{0};
  std::atomic<uint64_t> last_checkpoint_bytes_{0};
};

}  // namespace strata::tsdb
