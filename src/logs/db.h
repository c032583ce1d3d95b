#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/labels.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "logs/head.h"
#include "wal/wal.h"

namespace strata::logs {

struct DbOptions {
  wal::WalOptions wal;
};

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

  const Head& head() const { return head_; }
  const wal::ReplayStats& replay_stats() const { return replay_stats_; }

 private:
  Db() = default;
  // Applies one WAL record to the head (replay).
  static Status ApplyRecord(Head& head, wal::RecordType type, std::string_view payload);

  Head head_;
  std::unique_ptr<wal::Wal> wal_;
  wal::ReplayStats replay_stats_;
  Mutex commit_mu_;  // orders head application with WAL appends
};

}  // namespace strata::logs
