#include "agent/queue/queue.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/file.h"
#include "base/mutex.h"
#include "base/units.h"
#include "wal/frame.h"
#include "wal/segment.h"

namespace strata::agent {
namespace fs = std::filesystem;

void EncodeRecord(std::string& out, const QueueRecord& rec) {
  out.push_back(static_cast<char>(kRecordVersion));
  PutFixed32(out, rec.items);
  PutFixed64(out, static_cast<uint64_t>(rec.received_ms));
  PutLengthPrefixed(out, rec.tenant);
  out.append(rec.body);
}

std::function<void(const Status&)> AllDone(size_t n, std::function<void(const Status&)> done) {
  struct Pending {
    Mutex mu;
    size_t left;
    Status error;
    std::function<void(const Status&)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = n;
  pending->done = std::move(done);
  return [pending](const Status& st) {
    {
      MutexLock lk(pending->mu);
      if (!st.ok() && pending->error.ok()) pending->error = st;
      if (--pending->left > 0) return;
    }
    pending->done(pending->error);
  };
}

Result<QueueRecord> DecodeRecord(ItemKind kind, std::string_view payload) {
  ByteReader r(payload);
  uint8_t version = 0;
  uint64_t received = 0;
  QueueRecord rec;
  rec.kind = kind;
  std::string_view tenant;
  if (!r.ReadByte(&version) || !r.ReadFixed32(&rec.items) || !r.ReadFixed64(&received) ||
      !r.ReadLengthPrefixed(&tenant)) {
    return Status::Corruption("queue record header is truncated");
  }
  if (version != kRecordVersion) {
    return Status::Corruption(fmt::format("queue record has unknown version {}", version));
  }
  if (tenant.size() > kMaxTenantBytes) return Status::Corruption("queue record tenant too long");
  rec.received_ms = static_cast<int64_t>(received);
  rec.tenant = std::string(tenant);
  std::string_view body;
  r.ReadBytes(r.remaining(), &body);
  rec.body = std::string(body);
  return rec;
}

namespace {

// Items and receive time from a record payload's header, without copying the body.
bool PeekHeader(std::string_view payload, uint32_t* items, int64_t* received_ms) {
  ByteReader r(payload);
  uint8_t version = 0;
  uint64_t received = 0;
  if (!r.ReadByte(&version) || version != kRecordVersion || !r.ReadFixed32(items) ||
      !r.ReadFixed64(&received)) {
    return false;
  }
  *received_ms = static_cast<int64_t>(received);
  return true;
}

Result<QueuePosition> ReadAckFile(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return QueuePosition{};
  ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  if (data.size() != kAckFileSize || Crc32c(data.data(), 12) != LoadFixed32(data.data() + 12)) {
    return Status::Corruption(fmt::format("{} is damaged ({} bytes)", path, data.size()));
  }
  QueuePosition pos;
  pos.segment = LoadFixed32(data.data());
  std::memcpy(&pos.offset, data.data() + 4, 8);
  return pos;
}

// Reads up to `n` bytes at `offset`; fewer at the end of the file.
Result<std::string> ReadAt(int fd, uint64_t offset, size_t n, const std::string& path) {
  std::string buf(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus("read", path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  buf.resize(got);
  return buf;
}

}  // namespace

DurableQueue::DurableQueue(std::string dir, QueueOptions opts)
    : dir_(std::move(dir)), opts_(std::move(opts)) {}

DurableQueue::~DurableQueue() {
  (void)Close();
  if (read_fd_ >= 0) ::close(read_fd_);
}

std::string DurableQueue::SegmentPath(uint32_t n) const { return dir_ + "/" + wal::SegmentName(n); }

Result<std::unique_ptr<DurableQueue>> DurableQueue::Open(const std::string& dir,
                                                         QueueOptions opts) {
  if (opts.segment_size == 0) {
    opts.segment_size = std::clamp<uint64_t>(opts.max_disk_bytes / 8, 1u << 20, 64u << 20);
  }
  if (opts.max_disk_bytes < 2 * opts.segment_size) {
    return Status::InvalidArgument(
        fmt::format("queue {}: max_disk_bytes {} must be at least twice the segment size {}",
                    opts.name, opts.max_disk_bytes, opts.segment_size));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  std::unique_ptr<DurableQueue> q(new DurableQueue(dir, opts));

  std::string ack_path = dir + "/" + kAckFileName;
  auto ack = ReadAckFile(ack_path);
  if (!ack.ok()) {
    // Resending from the oldest record duplicates data; guessing a later position could lose it.
    spdlog::warn(
        "msg=\"agent queue position unreadable; resending from the oldest record\" "
        "queue={} err=\"{}\"",
        opts.name, ack.status().message());
  }
  QueuePosition acked = ack.ok() ? *ack : QueuePosition{};

  struct Frame {
    uint64_t size;
    uint32_t items;
  };
  std::vector<Frame> frames;
  wal::WalOptions wopts;
  wopts.segment_size = opts.segment_size;
  wopts.max_record_type = kMaxItemKind;
  wopts.log_name = "agent-queue-" + opts.name;
  wopts.keep_segments_after_damage = true;
  wal::ReplayStats replay;
  auto opened = wal::Wal::Open(
      dir, wopts,
      [&](wal::RecordType, std::string_view payload) {
        Frame f{wal::kFrameHeaderSize + payload.size(), 0};
        int64_t received = 0;
        PeekHeader(payload, &f.items, &received);  // a bad header is skipped when read
        frames.push_back(f);
        return Status::Ok();
      },
      &replay);
  if (!opened.ok()) return opened.status();
  q->wal_ = std::move(*opened);

  MutexLock lk(q->mu_);
  size_t i = 0;
  for (const auto& [segment, records] : replay.segment_records) {
    uint64_t offset = 0;
    for (uint64_t k = 0; k < records && i < frames.size(); ++k, ++i) {
      offset += frames[i].size;
      if (QueuePosition{segment, offset} > acked) {
        q->pending_items_ += frames[i].items;
        ++q->pending_records_;
      }
    }
  }
  ASSIGN_OR_RETURN(auto segments, wal::ListSegments(dir));
  for (uint32_t n : segments) q->disk_bytes_ += fs::file_size(q->SegmentPath(n), ec);
  q->first_segment_ = segments.empty() ? q->wal_->stats().current_segment : segments.front();
  q->ack_ = std::max(acked, QueuePosition{q->first_segment_, 0});
  q->cursor_ = q->ack_;
  q->saved_ack_ = acked;
  if (q->pending_records_ > 0) {
    spdlog::info(
        "msg=\"agent queue reopened with a backlog\" queue={} records={} items={} "
        "bytes={}",
        opts.name, q->pending_records_, q->pending_items_, q->disk_bytes_);
  }
  return q;
}

bool DurableQueue::HasRoom(uint64_t bytes) const {
  MutexLock lk(mu_);
  if (closed_ || !wal_->Admit().ok()) return false;
  return opts_.full_policy == FullPolicy::kDropOldest ||
         disk_bytes_ + bytes <= opts_.max_disk_bytes;
}

Status DurableQueue::Append(const QueueRecord& rec, std::function<void(const Status&)> done) {
  if (rec.tenant.size() > kMaxTenantBytes) {
    return Status::InvalidArgument(
        fmt::format("tenant name longer than {} bytes cannot be queued", kMaxTenantBytes));
  }
  std::string payload;
  payload.reserve(kRecordFixedHeader + 2 + rec.tenant.size() + rec.body.size());
  EncodeRecord(payload, rec);
  if (payload.size() > wal::kMaxRecordSize) {
    return Status::TooLarge(fmt::format("request of {} bytes exceeds the queue's record limit {}",
                                        payload.size(), wal::kMaxRecordSize));
  }
  std::string frame;
  wal::AppendFrame(frame, static_cast<wal::RecordType>(rec.kind), payload);
  uint64_t need = frame.size();
  uint64_t lsn = 0;
  {
    MutexLock lk(mu_);
    if (closed_) return Status::Unavailable(fmt::format("queue {} is closed", opts_.name));
    RETURN_IF_ERROR(wal_->Admit());
    if (need > opts_.max_disk_bytes / 2) {
      return Status::TooLarge(
          fmt::format("request of {} bytes is too large for queue {} (max_disk_bytes {})", need,
                      opts_.name, opts_.max_disk_bytes));
    }
    if (disk_bytes_ + need > opts_.max_disk_bytes &&
        (opts_.full_policy == FullPolicy::kBlock || !MakeRoom(need))) {
      return Status::Unavailable(fmt::format(
          "queue {} is full: {} bytes on disk of max_disk_bytes {} ({} items waiting for the "
          "backend)",
          opts_.name, disk_bytes_, opts_.max_disk_bytes, pending_items_));
    }
    disk_bytes_ += need;
    pending_items_ += rec.items;
    ++pending_records_;
    lsn = wal_->Append(frame);
  }
  wal_->WhenDurable(lsn, [this, items = rec.items, done = std::move(done)](const Status& st) {
    {
      MutexLock lk(mu_);
      if (st.ok()) {
        appended_items_ += items;
        ++appends_;
        appended_cv_.notify_all();
      }
    }
    done(st);
  });
  return Status::Ok();
}

bool DurableQueue::MakeRoom(uint64_t need) {
  uint32_t current = wal_->stats().current_segment;
  while (disk_bytes_ + need > opts_.max_disk_bytes && first_segment_ < current) {
    uint32_t victim = first_segment_;
    // Records the consumer already read are in flight and get acknowledged normally.
    uint64_t lost = 0;
    if (cursor_.segment <= victim)
      lost = CountItems(victim, cursor_.segment == victim ? cursor_.offset : 0);
    if (!RemoveSegmentsBefore(victim + 1).ok()) return false;
    pending_items_ -= std::min(pending_items_, lost);
    dropped_["queue_full"] += lost;
    cursor_ = std::max(cursor_, QueuePosition{first_segment_, 0});
    spdlog::warn(
        "msg=\"agent queue full; dropped its oldest segment (full_policy drop_oldest)\" "
        "queue={} segment={} items={} max_disk_bytes={}",
        opts_.name, victim, lost, opts_.max_disk_bytes);
  }
  return disk_bytes_ + need <= opts_.max_disk_bytes;
}

Status DurableQueue::RemoveSegmentsBefore(uint32_t n) {
  if (n <= first_segment_) return Status::Ok();
  auto removed = wal_->RemoveSegmentsBefore(n);
  if (!removed.ok()) {
    spdlog::error("msg=\"cannot remove agent queue segments\" queue={} err=\"{}\"", opts_.name,
                  removed.status().message());
    return removed.status();
  }
  disk_bytes_ -= std::min(disk_bytes_, *removed);
  first_segment_ = n;
  return Status::Ok();
}

uint64_t DurableQueue::CountItems(uint32_t n, uint64_t from) const {
  auto data = ReadFile(SegmentPath(n));
  if (!data.ok() || from >= data->size()) return 0;
  uint64_t items = 0;
  wal::ScanFrames(std::string_view(*data).substr(from), kMaxItemKind,
                  [&](wal::RecordType, std::string_view payload) {
                    uint32_t k = 0;
                    int64_t received = 0;
                    if (PeekHeader(payload, &k, &received)) items += k;
                    return Status::Ok();
                  });
  return items;
}

Result<std::vector<QueuedRecord>> DurableQueue::Read(size_t max_bytes, int64_t wait_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    // The current segment is read before the file's size: a segment older than it is complete
    // and ends with its file; the current one ends where the WAL has written to (its file may
    // run on in zeros, wal.h).
    wal::WalStats written = wal_->stats();
    uint32_t current = written.current_segment;
    QueuePosition cur;
    uint64_t seen_appends = 0;
    {
      MutexLock lk(mu_);
      if (closed_) return std::vector<QueuedRecord>{};
      cur = cursor_;
      seen_appends = appends_;
    }
    auto advance = [&](QueuePosition next) {
      MutexLock lk(mu_);
      if (cursor_ == cur) cursor_ = next;
    };
    std::string path = SegmentPath(cur.segment);
    if (read_fd_ < 0 || read_fd_segment_ != cur.segment) {
      if (read_fd_ >= 0) ::close(read_fd_);
      read_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      read_fd_segment_ = cur.segment;
      if (read_fd_ < 0 && errno != ENOENT) return ErrnoStatus("open", path, errno);
    }
    struct stat st {};
    uint64_t size = 0;
    if (read_fd_ >= 0) {
      if (::fstat(read_fd_, &st) != 0) return ErrnoStatus("stat", path, errno);
      size = static_cast<uint64_t>(st.st_size);
    }
    bool sealed = cur.segment < current;
    if (!sealed) size = std::min(size, written.current_segment_bytes);
    if (cur.offset < size) {
      size_t want = std::min<uint64_t>(size - cur.offset, std::max<size_t>(max_bytes, 64 << 10));
      ASSIGN_OR_RETURN(std::string buf, ReadAt(read_fd_, cur.offset, want, path));
      if (buf.size() >= wal::kFrameHeaderSize) {
        // A first record larger than the read: read exactly that record.
        uint64_t first = wal::kFrameHeaderSize + LoadFixed32(buf.data());
        if (first > buf.size() && first <= wal::kFrameHeaderSize + wal::kMaxRecordSize &&
            first <= size - cur.offset) {
          ASSIGN_OR_RETURN(buf, ReadAt(read_fd_, cur.offset, first, path));
        }
      }
      std::vector<QueuedRecord> out;
      uint64_t consumed = 0;
      uint64_t corrupt = 0;
      uint64_t corrupt_bytes = 0;
      wal::ScanResult res =
          wal::ScanFrames(buf, kMaxItemKind, [&](wal::RecordType t, std::string_view payload) {
            if (consumed > 0 && consumed + wal::kFrameHeaderSize + payload.size() > max_bytes) {
              return Status::Cancelled("batch is full");
            }
            consumed += wal::kFrameHeaderSize + payload.size();
            auto rec = DecodeRecord(static_cast<ItemKind>(t), payload);
            if (!rec.ok()) {
              ++corrupt;
              corrupt_bytes += wal::kFrameHeaderSize + payload.size();
              return Status::Ok();
            }
            out.push_back({std::move(*rec), {cur.segment, cur.offset + consumed}});
            return Status::Ok();
          });
      if (consumed == 0 && !res.problem.empty() && sealed) {
        // Nothing more will be written here and even a first record larger than the read was
        // read whole: the rest of the segment is damaged.
        spdlog::error(
            "msg=\"agent queue segment damaged; skipping its rest\" queue={} "
            "segment={} offset={} bytes={} problem=\"{}\"",
            opts_.name, cur.segment, cur.offset, size - cur.offset, res.problem);
        MutexLock lk(mu_);
        corrupt_bytes_ += size - cur.offset;
        if (cursor_ == cur) cursor_ = {cur.segment + 1, 0};
        continue;
      }
      if (consumed > 0) {
        MutexLock lk(mu_);
        if (cursor_ != cur) continue;  // the segment was dropped meanwhile
        if (corrupt > 0) {
          spdlog::error(
              "msg=\"agent queue records with a damaged header skipped\" queue={} "
              "segment={} records={}",
              opts_.name, cur.segment, corrupt);
          corrupt_bytes_ += corrupt_bytes;
          pending_records_ -= std::min(pending_records_, corrupt);
        }
        cursor_ = {cur.segment, cur.offset + consumed};
        for (const auto& r : out) unacked_.push_back({r.end, r.record.items, r.record.received_ms});
        if (!out.empty()) return out;
        continue;
      }
    } else if (sealed) {
      advance({cur.segment + 1, 0});
      continue;
    }
    UniqueLock lk(mu_);
    if (!lk.WaitUntil(appended_cv_, deadline,
                      [&]() REQUIRES(mu_) { return closed_ || appends_ != seen_appends; })) {
      return std::vector<QueuedRecord>{};
    }
  }
}

void DurableQueue::Rewind() {
  MutexLock lk(mu_);
  cursor_ = std::max(ack_, QueuePosition{first_segment_, 0});
  unacked_.clear();
}

Status DurableQueue::WriteAck(const QueuePosition& pos) {
  std::string data;
  PutFixed32(data, pos.segment);
  PutFixed64(data, pos.offset);
  PutFixed32(data, Crc32c(data.data(), data.size()));
  return WriteFileAtomically(dir_ + "/" + kAckFileName, data);
}

Status DurableQueue::Ack(const QueuePosition& end) {
  {
    MutexLock lk(mu_);
    if (end <= ack_) return Status::Ok();
    uint64_t items = 0;
    uint64_t records = 0;
    while (!unacked_.empty() && unacked_.front().end <= end) {
      items += unacked_.front().items;
      ++records;
      unacked_.pop_front();
    }
    pending_items_ -= std::min(pending_items_, items);
    pending_records_ -= std::min(pending_records_, records);
    acked_items_ += items;
    ack_ = end;
  }
  // Only the consumer writes the file, so it needs no lock. Writing it costs two fsyncs, so it
  // is written at most every ack_sync_interval_ms (a crash resends what was acknowledged since)
  // and whenever a segment can be deleted, which must wait until the file is durable.
  int64_t now = NowMillis();
  bool deletable = end.segment > saved_ack_.segment;
  if (!deletable && now - saved_ack_ms_ < opts_.ack_sync_interval_ms) return Status::Ok();
  RETURN_IF_ERROR(WriteAck(end));
  saved_ack_ = end;
  saved_ack_ms_ = now;
  if (!deletable) return Status::Ok();
  MutexLock lk(mu_);
  return RemoveSegmentsBefore(std::min(end.segment, wal_->stats().current_segment));
}

int64_t DurableQueue::ReceivedMsAt(QueuePosition pos) const {
  for (int tries = 0; tries < 2; ++tries, pos = {pos.segment + 1, 0}) {
    std::string path = SegmentPath(pos.segment);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    auto head = ReadAt(fd, pos.offset, wal::kFrameHeaderSize + kRecordFixedHeader, path);
    ::close(fd);
    uint32_t items = 0;
    int64_t received = 0;
    if (head.ok() && head->size() == wal::kFrameHeaderSize + kRecordFixedHeader &&
        PeekHeader(std::string_view(*head).substr(wal::kFrameHeaderSize), &items, &received)) {
      return received;
    }
  }
  return 0;
}

QueueStats DurableQueue::Stats() const {
  QueueStats s;
  QueuePosition next;
  {
    MutexLock lk(mu_);
    s.pending_items = pending_items_;
    s.pending_records = pending_records_;
    s.disk_bytes = disk_bytes_;
    s.appended_items = appended_items_;
    s.acked_items = acked_items_;
    s.dropped_items = dropped_;
    s.corrupt_bytes = corrupt_bytes_;
    if (!unacked_.empty()) s.oldest_received_ms = unacked_.front().received_ms;
    next = cursor_;
  }
  if (s.oldest_received_ms == 0 && s.pending_records > 0) s.oldest_received_ms = ReceivedMsAt(next);
  return s;
}

Status DurableQueue::SaveAck() {
  QueuePosition ack;
  {
    MutexLock lk(mu_);
    ack = ack_;
  }
  if (ack == saved_ack_) return Status::Ok();
  RETURN_IF_ERROR(WriteAck(ack));
  saved_ack_ = ack;
  saved_ack_ms_ = NowMillis();
  return Status::Ok();
}

Status DurableQueue::Close() {
  {
    MutexLock lk(mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
    appended_cv_.notify_all();
  }
  return wal_->Close();
}

}  // namespace strata::agent
