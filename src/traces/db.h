#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "traces/head.h"
#include "traces/wal_record.h"
#include "wal/wal.h"

namespace strata::traces {

struct DbOptions {
  wal::WalOptions wal;
};

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
  uint64_t spans = 0;  // in the fragments taken
  uint64_t lsn = 0;    // durable once the WAL reaches it; see WhenDurable
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

  const Head& head() const { return head_; }
  const wal::ReplayStats& replay_stats() const { return replay_stats_; }

 private:
  explicit Db(std::string name) : name_(std::move(name)) {}
  // Applies one WAL record to the head (replay).
  Status ApplyRecord(wal::RecordType type, std::string_view payload);

  const std::string name_;
  Head head_;
  std::unique_ptr<wal::Wal> wal_;
  wal::ReplayStats replay_stats_;
  Mutex commit_mu_;  // orders head application with WAL appends
};

}  // namespace strata::traces
