#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/labels.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "index/series_record.h"
#include "logs/block/format.h"
#include "logs/block/writer.h"
#include "logs/head.h"
#include "wal/wal.h"

namespace strata::logs {

class Followers;

struct DbOptions {
  wal::WalOptions wal;
  // A block is cut once the head holds this many bytes of lines and metadata since the last
  // cut, or once its oldest such entry arrived this long ago.
  uint64_t cut_bytes = uint64_t{64} << 20;
  int64_t cut_age_ms = int64_t{30} * 60'000;
  // Called when appends bring the head to cut_bytes (without the Db's locks held), so that
  // the block can be cut at once.
  std::function<void()> on_cut_due;
  block::WriterOptions block;
  // Given each entry the head takes, as Append takes it, under the Db's name (its tenant).
  // Outlives the Db; null: none.
  const Followers* followers = nullptr;
};

// Uploads a block written to a local directory (and makes it queryable); the head drops the
// block's entries only after it returns OK.
using BlockShipper = std::function<Status(const std::string& dir, const block::BlockMeta&)>;

struct EntryInput {
  int64_t ts_ns = 0;
  std::string_view line;
  std::span<const LabelView> metadata;
};

// One stream of an append batch: labels already validated and sorted, with their hash.
struct StreamInput {
  std::span<const LabelView> labels;
  uint64_t hash = 0;
  std::span<const EntryInput> entries;
};

// Per-tenant rules an append is checked against.
struct AppendLimits {
  uint64_t max_streams = 0;  // 0 = unlimited
  // How much older than a stream's newest entry an entry may be (Loki: max_chunk_age / 2).
  int64_t window_ns = int64_t{3600} * 1'000'000'000;
};

enum class Rejection {
  kTooOld,       // behind its stream's newest entry by more than the window
  kStreamLimit,  // the tenant has max_streams streams and this is a new one
  kTooLarge,     // line and metadata over kMaxEntryBytes: no WAL record could hold it
};

// The largest entry (line plus structured metadata bytes) a Db takes: half the WAL's record
// limit, so an entry and its record framing always fit one record.
inline constexpr uint64_t kMaxEntryBytes = wal::kMaxRecordSize / 2;

// Receives each entry (or whole stream: `entry` null) the Db refused; for kTooOld,
// `oldest_ns` is the oldest timestamp the stream accepted then.
using RejectFn =
    std::function<void(size_t stream_index, const EntryInput* entry, Rejection, int64_t oldest_ns)>;

struct AppendOutcome {
  uint64_t accepted = 0;
  uint64_t duplicates = 0;  // identical to an entry already stored: kept once
  uint64_t streams_created = 0;
  uint64_t lsn = 0;  // durable once the WAL reaches it; see WhenDurable
};

// Db is one tenant's log store: the in-memory head backed by a write-ahead log (the WAL
// metrics use, with the records of logs/wal_record.h). Appends are applied to the head and
// logged in one critical section per batch, so the WAL order matches the head order;
// durability is awaited outside it (group commit). Thread-safe.
class Db {
 public:
  // Opens `dir` (created if missing) and replays its WAL into a new head.
  static Result<std::unique_ptr<Db>> Open(const std::string& dir, const DbOptions& opts,
                                          const std::string& name);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Creates missing streams (within `limits`), appends entries and logs them. Refusals go to
  // `reject`; the batch fails only when the WAL cannot take it (kUnavailable), and then
  // nothing was applied.
  Result<AppendOutcome> Append(std::span<const StreamInput> streams, const AppendLimits& limits,
                               const RejectFn& reject) EXCLUDES(commit_mu_);
  // Calls done(status) once `lsn` is durable (wal::Wal::WhenDurable).
  void WhenDurable(uint64_t lsn, wal::DurableFn done) { wal_->WhenDurable(lsn, std::move(done)); }
  Status WaitDurable(uint64_t lsn) { return wal_->WaitDurable(lsn); }
  Status Close();

  // Whether a block is due at `now_ms` (DbOptions::cut_bytes, cut_age_ms).
  bool CutDue(int64_t now_ms) const;
  // Cuts the head into a block when one is due (or `force`, and the head holds anything):
  // seals every stream's entries, writes them under `staging_dir`, ships the block, then
  // drops them from the head (once queries that began before the block was visible are
  // done: a later call finishes this) and replaces the WAL segments that held them by a
  // checkpoint of the stream records. The block's meta, or null when nothing was shipped.
  // On a shipping error the head keeps the sealed entries and the next call retries them.
  Result<std::optional<block::BlockMeta>> CutBlock(const std::string& staging_dir,
                                                   const BlockShipper& ship, bool force,
                                                   int64_t now_ms) EXCLUDES(commit_mu_, cut_mu_);

  const Head& head() const { return head_; }
  // The last seal (Head::SealAll) whose entries are in a block that queries see: a head read
  // may leave them out (NewHeadQuerier) as the blocks listed after it hold them.
  uint64_t shipped_seal() const { return shipped_seal_.load(std::memory_order_acquire); }
  const wal::ReplayStats& replay_stats() const { return replay_stats_; }

 private:
  Db(DbOptions opts, std::string name) : opts_(std::move(opts)), name_(std::move(name)) {}
  // Applies one WAL record to the head (replay).
  using Replay = index::SeriesReplay<Head, Stream>;
  Status ApplyRecord(Replay& replay, wal::RecordType type, std::string_view payload);
  // Notes bytes appended since the last seal, for CutDue; whether they made cut_bytes.
  bool Unsealed(uint64_t bytes);
  // Writes a checkpoint of the stream records in place of the segments before `first_kept`.
  Status CheckpointStreams(uint32_t first_kept);
  // Drops the shipped sealed entries when no earlier reader is left; whether it did.
  Result<bool> MaybeDropShipped() REQUIRES(cut_mu_);

  const DbOptions opts_;
  const std::string name_;
  Head head_;
  std::unique_ptr<wal::Wal> wal_;
  wal::ReplayStats replay_stats_;
  Mutex commit_mu_;  // orders head application with WAL appends
  Mutex cut_mu_;     // one block cut at a time
  std::atomic<uint64_t> unsealed_bytes_{0};
  std::atomic<int64_t> unsealed_since_ms_{0};  // when the first unsealed entry came; 0: none
  // The sealed entries wait for shipping: the WAL segments before this hold them.
  std::optional<uint32_t> sealed_until_ GUARDED_BY(cut_mu_);
  uint64_t seal_ GUARDED_BY(cut_mu_) = 0;  // the seal of the entries waiting
  std::atomic<uint64_t> shipped_seal_{0};
  // The sealed entries are in a shipped block; they are dropped once the head's readers
  // that began before this epoch are done.
  std::optional<uint64_t> drop_epoch_ GUARDED_BY(cut_mu_);
  // A cut dropped its entries but could not checkpoint: segments before this are stale.
  std::optional<uint32_t> checkpoint_due_ GUARDED_BY(cut_mu_);
};

}  // namespace strata::logs
