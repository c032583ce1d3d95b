#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "traces/block/format.h"
#include "traces/block/writer.h"
#include "traces/head.h"
#include "traces/wal_record.h"
#include "wal/wal.h"

namespace strata::traces {

struct DbOptions {
  wal::WalOptions wal;
  // A block is due once the head took this many bytes of spans since the last cut, or once
  // the first of them arrived this long ago.
  uint64_t cut_bytes = uint64_t{64} << 20;
  int64_t cut_age_ms = int64_t{5} * 60'000;
  // A cut takes the traces without an append for this long (Tempo's trace_idle_period): the
  // others are probably still growing.
  int64_t idle_ms = 10'000;
  block::WriterOptions block;
};

// Uploads a block written to a local directory and makes it readable; the head drops the
// block's spans only after it returns OK.
using BlockShipper = std::function<Status(const std::string& dir, const block::BlockMeta&)>;

// Per-tenant rules an append is checked against.
struct AppendLimits {
  uint64_t max_bytes_per_trace = 0;  // fragments' bytes a trace may hold in the head; 0: any
};

enum class Rejection {
  kTraceTooLarge,  // the trace would be over max_bytes_per_trace
  kTooLarge,       // a fragment over kMaxFragmentBytes: no WAL record could hold it
};

// The largest fragment a Db takes: half the WAL's record limit, so a fragment and its record
// framing always fit one record.
inline constexpr uint64_t kMaxFragmentBytes = wal::kMaxRecordSize / 2;

// Receives the index of each fragment the Db refused, and why.
using RejectFn = std::function<void(size_t index, Rejection)>;

struct AppendOutcome {
  uint64_t spans = 0;            // in the fragments taken
  uint64_t duplicates = 0;       // spans in fragments identical to stored ones (not stored again)
  uint64_t lsn = 0;              // durable once the WAL reaches it; see WhenDurable
  std::vector<uint32_t> stored;  // the indexes of the fragments taken (not refused, not known)
};

// Db is one tenant's trace store: the in-memory head backed by a write-ahead log (the WAL
// every store uses, with the records of traces/wal_record.h). Appends are applied to the head
// and logged in one critical section per batch, so the WAL order is the head's; durability is
// awaited outside it (group commit). Thread-safe.
class Db {
 public:
  // Opens `dir` (created if missing) and replays its WAL into a new head.
  static Result<std::unique_ptr<Db>> Open(const std::string& dir, const DbOptions& opts,
                                          const std::string& name);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Appends the fragments `limits` allow to the head and logs them. Refusals go to `reject`;
  // the batch fails only when the WAL cannot take it (kUnavailable), and then nothing was
  // applied.
  Result<AppendOutcome> Append(std::span<const Fragment> fragments, const AppendLimits& limits,
                               const RejectFn& reject) EXCLUDES(commit_mu_);
  // Calls done(status) once `lsn` is durable (wal::Wal::WhenDurable).
  void WhenDurable(uint64_t lsn, wal::DurableFn done) { wal_->WhenDurable(lsn, std::move(done)); }
  Status Close();

  // Whether a block is due at `now_ms` (DbOptions::cut_bytes, cut_age_ms).
  bool CutDue(int64_t now_ms) const;
  // Cuts a block when one is due (or `force`: every trace, now): seals the idle traces'
  // spans, writes them under `staging_dir`, ships the block, drops them from the head and
  // replaces the WAL segments that held them by a checkpoint of the spans still in the head.
  // The block's meta, or nullopt when nothing was cut. On a shipping error the head keeps
  // the sealed spans and the next call retries them.
  Result<std::optional<block::BlockMeta>> CutBlock(const std::string& staging_dir,
                                                   const BlockShipper& ship, bool force,
                                                   int64_t now_ms) EXCLUDES(commit_mu_, cut_mu_);

  const Head& head() const { return head_; }
  const wal::ReplayStats& replay_stats() const { return replay_stats_; }

 private:
  Db(DbOptions opts, std::string name) : opts_(std::move(opts)), name_(std::move(name)) {}
  // Applies one WAL record to the head (replay) as appended at `now_ms`.
  Status ApplyRecord(wal::RecordType type, std::string_view payload, int64_t now_ms);
  // Notes bytes appended since the last cut, for CutDue.
  void Unsealed(uint64_t bytes, int64_t now_ms);
  // Writes a checkpoint of the head's fragments numbered below `seq` in place of the
  // segments before `first_kept`.
  Status Checkpoint(uint32_t first_kept, uint64_t seq);

  // A cut whose block is not shipped yet: the segments before `first_kept` hold its spans and
  // the fragments numbered below `seq` still in the head.
  struct Pending {
    uint32_t first_kept = 0;
    uint64_t seq = 0;
  };

  const DbOptions opts_;
  const std::string name_;
  Head head_;
  std::unique_ptr<wal::Wal> wal_;
  wal::ReplayStats replay_stats_;
  Mutex commit_mu_;  // orders head application with WAL appends
  Mutex cut_mu_;     // one block cut at a time
  std::atomic<uint64_t> unsealed_bytes_{0};
  std::atomic<int64_t> unsealed_since_ms_{0};  // when the first unsealed bytes came; 0: none
  std::optional<Pending> pending_ GUARDED_BY(cut_mu_);
  // A cut dropped its spans but could not checkpoint: done before the next cut.
  std::optional<Pending> checkpoint_due_ GUARDED_BY(cut_mu_);
};

}  // namespace strata::traces
