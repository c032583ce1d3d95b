// Checkpointing: a snapshot of the head, written as WAL records, that replaces the segments
// it covers. Layout and recovery rules are in docs/format/wal.md.
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/file.h"
#include "base/mutex.h"
#include "tsdb/db.h"
#include "tsdb/wal_record.h"
#include "wal/frame.h"
#include "wal/segment.h"

namespace strata::tsdb {
namespace fs = std::filesystem;

namespace {

// Writes checkpoint segment files of about `segment_size` bytes each.
class CheckpointWriter {
 public:
  CheckpointWriter(std::string dir, uint64_t segment_size)
      : dir_(std::move(dir)), segment_size_(segment_size) {}

  Status Add(std::string_view frames) {
    buf_.append(frames);
    if (buf_.size() >= segment_size_) return FlushFile();
    return Status::Ok();
  }
  Status Finish() { return buf_.empty() ? Status::Ok() : FlushFile(); }
  uint64_t bytes() const { return bytes_; }

 private:
  Status FlushFile() {
    std::string path = dir_ + "/" + wal::SegmentName(++segment_);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError(fmt::format("create {}: {}", path, std::strerror(errno)));
    if (Status st = WriteAll(fd, buf_, path); !st.ok()) {
      ::close(fd);
      return st;
    }
    int rc = ::fdatasync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::IOError(fmt::format("fdatasync {}: {}", path, std::strerror(err)));
    bytes_ += buf_.size();
    buf_.clear();
    return Status::Ok();
  }

  std::string dir_;
  uint64_t segment_size_;
  uint32_t segment_ = 0;
  uint64_t bytes_ = 0;
  std::string buf_;
};

}  // namespace

Status Db::MaybeCheckpoint() {
  uint64_t grown = wal_->appended_lsn() - lsn_at_checkpoint_.load();
  if (grown < std::max(opts_.checkpoint_min_bytes, last_checkpoint_bytes_.load())) {
    return Status::Ok();
  }
  return Checkpoint();
}

Status Db::Checkpoint() {
  MutexLock cp_lock(checkpoint_mu_);
  auto start = std::chrono::steady_clock::now();
  uint32_t first_kept;
  uint64_t lsn;
  RETURN_IF_ERROR(wal_->Admit().Annotate("checkpoint skipped"));
  {
    // Everything applied to the head so far goes to segments before `first_kept`.
    MutexLock lk(commit_mu_);
    ASSIGN_OR_RETURN(first_kept, wal_->Rotate());
    lsn = wal_->appended_lsn();
  }
  uint32_t covered = first_kept - 1;
  std::string wal_dir = dir_ + "/wal";
  std::string final_dir = wal_dir + "/" + wal::CheckpointDirName(covered);
  std::string tmp_dir = final_dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", tmp_dir, ec.message()));

  // Samples logged after the rotation may also be in this snapshot; replay treats the
  // repeats as duplicates.
  CheckpointWriter writer(tmp_dir, opts_.wal.segment_size);
  Status st;
  std::string frames;
  uint64_t series_count = 0;
  head_.ForEachSeries([&](const MemSeries& s) {
    if (!st.ok()) return;
    ++series_count;
    std::string payload;
    std::vector<LabelView> labels;
    for (const auto& l : s.labels()) labels.push_back({l.name.view(), l.value.view()});
    index::EncodeSeries(payload, s.ref(), labels);
    wal::AppendFrame(frames, kSeriesRecord, payload);
    {
      wal::RecordBuilder chunks(kChunkRecord, frames);
      s.ForEachChunk([&](int64_t mint, int64_t maxt, std::span<const uint8_t> bytes) {
        EncodeChunk(chunks.payload(),
                    {s.ref(), mint, maxt,
                     std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())});
        chunks.EndEntry();
      });
    }
    if (const auto* ooo = s.ooo_samples()) {
      wal::RecordBuilder samples(kSamplesRecord, frames);
      for (const auto& smp : *ooo) {
        EncodeSample(samples.payload(), {s.ref(), smp.t, smp.v});
        samples.EndEntry();
      }
    }
    if (frames.size() >= wal::RecordBuilder::kTargetRecordSize) {
      st = writer.Add(frames);
      frames.clear();
    }
  });
  {
    wal::RecordBuilder md(kMetadataRecord, frames);
    for (const auto& [family, m] : Metadata()) {
      EncodeMetadata(md.payload(), {family, m.type, m.unit, m.help});
      md.EndEntry();
    }
  }
  if (st.ok()) st = writer.Add(frames);
  if (st.ok()) st = writer.Finish();
  if (st.ok()) st = SyncDir(tmp_dir);
  if (!st.ok()) {
    fs::remove_all(tmp_dir, ec);
    return st.Annotate("writing checkpoint");
  }
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) return Status::IOError(fmt::format("renaming {}: {}", tmp_dir, ec.message()));
  RETURN_IF_ERROR(SyncDir(wal_dir));

  // The checkpoint is durable: older checkpoints and the segments it covers can go.
  for (const auto& e : fs::directory_iterator(wal_dir, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name.starts_with(wal::kCheckpointPrefix) &&
        name != wal::CheckpointDirName(covered)) {
      fs::remove_all(e.path(), ec);
    }
  }
  RETURN_IF_ERROR(wal_->RemoveSegmentsBefore(first_kept).status());
  lsn_at_checkpoint_ = lsn;
  last_checkpoint_bytes_ = writer.bytes();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  spdlog::info(
      "msg=\"WAL checkpoint written\" tenant={} checkpoint={} series={} bytes={} duration_ms={}",
      name_, covered, series_count, writer.bytes(), ms);
  return Status::Ok();
}

}  // namespace strata::tsdb
