#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "wal/checkpoint.h"
#include "wal/format.h"

namespace strata::wal {

struct WalOptions {
  // true (default): an LSN becomes durable only after fdatasync. false (relaxed mode): it
  // becomes durable once written to the kernel (survives a process crash, not power loss) and
  // fsync runs every `fsync_interval_ms`.
  bool sync_on_commit = true;
  int64_t fsync_interval_ms = 100;
  uint64_t segment_size = 64u << 20;
  // Bytes appended but not yet durable beyond which Append refuses (back-pressure).
  uint64_t max_pending_bytes = 256u << 20;
  // Names this WAL in log lines (e.g. the tenant).
  std::string log_name;
  // Record types 1..max_record_type are valid (required); the type byte belongs to the owner
  // (the metrics store's records, the agent queue's item kinds), so a log of one kind never
  // replays as another.
  RecordType max_record_type = 0;
  // false (the TSDB): damage in any segment ends the log there; later segments are removed.
  // true (the agent queue, whose segments are independent batches): only the newest
  // segment's damaged tail is cut; an older damaged segment is kept for the reader to skip.
  bool keep_segments_after_damage = false;
};

struct ReplayStats {
  uint32_t segments = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t truncated_bytes = 0;  // bytes of a torn or corrupt tail that were cut off
  uint32_t removed_segments = 0;
  bool from_checkpoint = false;
  // Segments replayed after the checkpoint and how many intact records each held, in order.
  std::vector<std::pair<uint32_t, uint64_t>> segment_records;
};

struct WalStats {
  uint64_t fsyncs = 0;
  uint64_t bytes_written = 0;
  uint64_t write_errors = 0;
  uint32_t current_segment = 0;
  // Bytes of the current segment handed to the kernel: where its records end. The file may
  // be longer, its rest zeros (see Preallocate).
  uint64_t current_segment_bytes = 0;
};

using RecordFn = std::function<Status(RecordType, std::string_view)>;
using DurableFn = std::function<void(const Status&)>;

// Wal is a segmented write-ahead log with group commit. Writers append whole framed records
// (wal/frame.h) to an in-memory buffer and get back a log sequence number (LSN: the count of
// bytes appended so far); one background thread writes and fsyncs the buffer, so all requests
// that arrived during one fsync share the next. Failed writes or fsyncs are retried from
// memory, never dropped: an LSN is reported durable only once its bytes really are.
// The current segment's file runs up to 128 KiB past its records in zeros, which replay reads
// as its end; a sealed segment ends at its last record. Thread-safe. Records never span
// segments.
class Wal {
 public:
  // Replays the newest checkpoint in `dir` and every segment after it through `fn`, in order.
  // A torn or corrupt tail is truncated at the last intact record (later segments are
  // removed), with a warning; a corrupt checkpoint is an error. Then starts a new segment.
  static Result<std::unique_ptr<Wal>> Open(const std::string& dir, const WalOptions& opts,
                                           const RecordFn& fn, ReplayStats* stats);
  // The same replay for offline tools: reads up to the first problem, modifies nothing.
  static Status ReplayReadOnly(const std::string& dir, RecordType max_record_type,
                               const RecordFn& fn, ReplayStats* stats);

  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Whether the WAL takes appends now: kUnavailable when closed, when writes are failing or
  // when too much is waiting to become durable. Check before changing state that the
  // records will describe, then Append.
  Status Admit() const EXCLUDES(mu_);
  // Appends framed records (possibly none) and returns the LSN that covers them and
  // everything appended before. Never fails: data is kept in memory until written (or, after
  // Close, until WhenDurable reports the failure to the waiters).
  uint64_t Append(std::string_view frames) EXCLUDES(mu_);
  uint64_t appended_lsn() const EXCLUDES(mu_);
  // Calls `done(Ok)` once `lsn` is durable, from the syncer thread (or inline if it already
  // is); `done(error)` if the WAL closes before that. `done` must be quick and not re-enter.
  void WhenDurable(uint64_t lsn, DurableFn done) EXCLUDES(mu_);
  // Blocking form of WhenDurable.
  Status WaitDurable(uint64_t lsn);

  // Makes everything appended so far durable in the current segment and starts a new one,
  // whose number is returned. Callers must not Append concurrently (they hold the lock that
  // orders their appends), so all earlier records are in segments before the returned one.
  // Gives up with kUnavailable after `timeout_ms` (writes failing): callers hold a lock that
  // ingestion needs, so they must not wait for a disk that may not recover.
  Result<uint32_t> Rotate(int64_t timeout_ms = 10'000) EXCLUDES(mu_);
  // Deletes segments numbered below `n`; returns the bytes they held.
  Result<uint64_t> RemoveSegmentsBefore(uint32_t n);
  // Replaces the segments before `first_kept` (a number Rotate returned) by a checkpoint:
  // `fill` adds the frames of the owner's state, which must cover every record in those
  // segments; once the checkpoint is durable and in place, older checkpoints and the
  // segments go. Returns the checkpoint's bytes.
  Result<uint64_t> Checkpoint(uint32_t first_kept,
                              const std::function<Status(CheckpointWriter&)>& fill);
  // Flushes and syncs everything, then stops the syncer. Idempotent.
  Status Close() EXCLUDES(mu_);

  WalStats stats() const EXCLUDES(mu_);

 private:
  Wal(std::string dir, WalOptions opts, uint32_t first_segment);
  Status OpenSegment(uint32_t n);
  // Syncer thread only: writes inflight_, fsyncs as the mode requires, rotates if asked.
  Status Flush(bool force_sync, bool rotate);
  // Syncer thread only: keeps zeros ahead of the current segment's records after a commit
  // of `flushed` bytes, so the next small commits overwrite allocated space.
  void Preallocate(uint64_t flushed);
  // Syncer thread only: cuts the current segment's file back to its records (sealing it).
  Status TrimPreallocated();
  // Syncer thread only: publishes written_size_ to stats().
  void PublishWritten() EXCLUDES(mu_);
  void SyncLoop();

  const std::string dir_;
  const WalOptions opts_;

  mutable Mutex mu_;
  std::condition_variable cv_;       // wakes the syncer
  std::condition_variable done_cv_;  // wakes Rotate / WaitDurable
  std::string pending_ GUARDED_BY(mu_);
  uint64_t appended_lsn_ GUARDED_BY(mu_) = 0;
  uint64_t durable_lsn_ GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, DurableFn> waiters_ GUARDED_BY(mu_);
  Status failing_ GUARDED_BY(mu_);
  bool rotate_requested_ GUARDED_BY(mu_) = false;
  uint64_t rotations_ GUARDED_BY(mu_) = 0;
  bool stop_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  bool syncer_exited_ GUARDED_BY(mu_) = false;
  WalStats stats_ GUARDED_BY(mu_);

  // Owned by the syncer thread (and by Open before it starts).
  int fd_ = -1;
  uint32_t segment_ = 0;
  uint64_t file_start_lsn_ = 0;  // LSN of byte 0 of the current segment
  uint64_t written_size_ = 0;    // bytes of the segment handed to the kernel
  uint64_t synced_size_ = 0;     // bytes of the segment known durable
  uint64_t file_size_ = 0;       // bytes of the segment file: written_size_, then zeros
  std::string inflight_;         // bytes from synced_size_ on, kept until durable
  int64_t last_sync_ms_ = 0;

  std::thread syncer_;
};

}  // namespace strata::wal
