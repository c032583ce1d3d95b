#pragma once

#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/queue/format.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "wal/wal.h"

namespace strata::agent {

// One queued request: the payload an exporter sends, with what it needs to send it.
struct QueueRecord {
  ItemKind kind = ItemKind::kRemoteWrite;
  std::string tenant;  // empty: none (sent without X-Scope-OrgID)
  uint32_t items = 0;  // samples, log lines or spans: what drops and depth are counted in
  int64_t received_ms = 0;
  std::string body;  // the kind's protobuf message, snappy-compressed
};

void EncodeRecord(std::string& out, const QueueRecord& rec);
Result<QueueRecord> DecodeRecord(ItemKind kind, std::string_view payload);

// Joins `n` completions (of appends to several queues, say): the returned callback is to be
// called `n` times, from any threads; after the last, `done` gets OK or the first error.
std::function<void(const Status&)> AllDone(size_t n, std::function<void(const Status&)> done);

// A place in the queue: the byte offset just after a record in a segment.
struct QueuePosition {
  uint32_t segment = 0;
  uint64_t offset = 0;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const QueuePosition&) const = default;
};

enum class FullPolicy {
  kBlock,       // refuse appends (receivers answer 429/503, senders keep their data)
  kDropOldest,  // delete the oldest segment, counting what it held as dropped
};

struct QueueOptions {
  std::string name;  // in log lines and metrics
  uint64_t max_disk_bytes = 1ull << 30;
  FullPolicy full_policy = FullPolicy::kBlock;
  // 0: max_disk_bytes / 8, between 1 MiB and 64 MiB, so a full queue always has old segments
  // to drop and a drained one keeps little acknowledged data on disk.
  uint64_t segment_size = 0;
  // The acknowledged position is saved at most this often (each save is two fsyncs), and
  // whenever a segment becomes deletable; a crash resends what was acknowledged since.
  int64_t ack_sync_interval_ms = 200;
  bool operator==(const QueueOptions&) const = default;
};

struct QueueStats {
  uint64_t pending_items = 0;    // appended, durable, not yet acknowledged by the backend
  uint64_t pending_records = 0;  // the same in records
  uint64_t disk_bytes = 0;
  int64_t oldest_received_ms = 0;  // of the oldest pending record; 0 when nothing is pending
  uint64_t appended_items = 0;     // since this process opened the queue
  uint64_t acked_items = 0;
  std::map<std::string, uint64_t> dropped_items;  // by reason ("queue_full")
  // Bytes of damaged records skipped when read (their item counts are unreadable).
  uint64_t corrupt_bytes = 0;
};

// A record read from the queue, with the position to acknowledge once it was delivered.
struct QueuedRecord {
  QueueRecord record;
  QueuePosition end;
};

// DurableQueue is an exporter's on-disk queue: receivers append records, which become durable
// through the WAL's group commit (concurrent appends share one fdatasync); one consumer reads
// them in append order and acknowledges what the backend accepted, and only acknowledged
// records ever leave the disk. The acknowledged position is a small file replaced atomically
// (write, fdatasync, rename, fsync the directory); segments wholly before it are deleted
// after it is durable, so after a crash at any point the queue resumes at or before the first
// unacknowledged record (a redelivery, never a loss). The disk budget is checked on append:
// full means refusal (kBlock) or dropping the oldest segment (kDropOldest), counted by reason.
//
// Thread-safety: Append and Stats from any thread; Read and Rewind from one consumer thread,
// Ack and SaveAck from one (the same or another).
class DurableQueue {
 public:
  static Result<std::unique_ptr<DurableQueue>> Open(const std::string& dir, QueueOptions opts);
  ~DurableQueue();
  DurableQueue(const DurableQueue&) = delete;
  DurableQueue& operator=(const DurableQueue&) = delete;

  // Admits and appends `rec`, then calls `done(Ok)` once it is durable or `done(error)` if the
  // queue closes first. Returns without calling `done` when not admitted: kUnavailable (the
  // sender retries) when the disk budget is reached under kBlock, when writes are failing (a
  // full disk) or the queue is closed, kTooLarge for a record larger than half the budget or the
  // record limit, kInvalidArgument for a tenant that cannot be queued.
  Status Append(const QueueRecord& rec, std::function<void(const Status&)> done);

  // Returns the records after the read cursor, in order, about `max_bytes` of them (at least
  // one), waiting up to `wait_ms` for one to arrive; none on timeout or close. A damaged
  // record is skipped (logged and counted in corrupt_bytes).
  Result<std::vector<QueuedRecord>> Read(size_t max_bytes, int64_t wait_ms);
  // Moves the read cursor back to the acknowledged position, so unacknowledged records are
  // read again (a consumer that gave up on a batch it had read).
  void Rewind();
  // Records that everything read up to `end` was delivered and deletes segments that hold
  // nothing unacknowledged (the position reaches the disk as ack_sync_interval_ms says).
  Status Ack(const QueuePosition& end);

  // Writes the acknowledged position now (the consumer calls it when it stops).
  Status SaveAck();

  QueueStats Stats() const;
  // False when an append of `bytes` would be refused for space now (policy block, queue full)
  // or the disk is failing: producers that cannot hand back their data (scraping) pause.
  bool HasRoom(uint64_t bytes) const;
  // Wakes a waiting Read and makes the WAL durable; appends fail afterwards.
  Status Close();

 private:
  DurableQueue(std::string dir, QueueOptions opts);
  // Drops the oldest segments until `need` more bytes fit. Returns false when they cannot.
  bool MakeRoom(uint64_t need) REQUIRES(mu_);
  Status RemoveSegmentsBefore(uint32_t n) REQUIRES(mu_);
  // Items of records in segment `n` after `from` (a segment about to be dropped).
  uint64_t CountItems(uint32_t n, uint64_t from) const;
  Status WriteAck(const QueuePosition& pos);
  int64_t ReceivedMsAt(QueuePosition pos) const;
  std::string SegmentPath(uint32_t n) const;

  const std::string dir_;
  const QueueOptions opts_;
  std::unique_ptr<wal::Wal> wal_;

  mutable Mutex mu_;
  std::condition_variable appended_cv_;  // wakes Read
  bool closed_ GUARDED_BY(mu_) = false;
  uint64_t disk_bytes_ GUARDED_BY(mu_) = 0;
  uint32_t first_segment_ GUARDED_BY(mu_) = 0;  // oldest segment on disk
  QueuePosition ack_ GUARDED_BY(mu_);
  QueuePosition cursor_ GUARDED_BY(mu_);
  uint64_t pending_items_ GUARDED_BY(mu_) = 0;
  uint64_t pending_records_ GUARDED_BY(mu_) = 0;
  uint64_t appended_items_ GUARDED_BY(mu_) = 0;
  uint64_t acked_items_ GUARDED_BY(mu_) = 0;
  uint64_t appends_ GUARDED_BY(mu_) = 0;  // durable appends, for Read's wait
  std::map<std::string, uint64_t> dropped_ GUARDED_BY(mu_);
  uint64_t corrupt_bytes_ GUARDED_BY(mu_) = 0;

  // Records read and not yet acknowledged, oldest first.
  struct Unacked {
    QueuePosition end;
    uint32_t items;
    int64_t received_ms;
  };
  std::deque<Unacked> unacked_ GUARDED_BY(mu_);

  // Acknowledging side (Ack, SaveAck).
  QueuePosition saved_ack_;  // the position in the ack file
  int64_t saved_ack_ms_ = 0;
  // Reading side (Read).
  int read_fd_ = -1;
  uint32_t read_fd_segment_ = 0;
};

}  // namespace strata::agent
