// Checkpoints: a snapshot of a log owner's state, written as WAL records, that replaces the
// segments it covers. Layout and recovery rules are in docs/format/wal.md.
#include "wal/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file.h"
#include "wal/segment.h"
#include "wal/wal.h"

namespace strata::wal {
namespace fs = std::filesystem;

Status CheckpointWriter::Add(std::string_view frames) {
  buf_.append(frames);
  if (buf_.size() >= segment_size_) return FlushFile();
  return Status::Ok();
}

Status CheckpointWriter::Finish() { return buf_.empty() ? Status::Ok() : FlushFile(); }

Status CheckpointWriter::FlushFile() {
  std::string path = dir_ + "/" + SegmentName(++segment_);
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

Result<uint64_t> Wal::Checkpoint(uint32_t first_kept,
                                 const std::function<Status(CheckpointWriter&)>& fill) {
  const uint32_t covered = first_kept - 1;
  const std::string final_dir = dir_ + "/" + CheckpointDirName(covered);
  const std::string tmp_dir = final_dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", tmp_dir, ec.message()));
  CheckpointWriter writer(tmp_dir, opts_.segment_size);
  Status st = fill(writer);
  if (st.ok()) st = writer.Finish();
  if (st.ok()) st = SyncDir(tmp_dir);
  if (!st.ok()) {
    fs::remove_all(tmp_dir, ec);
    return st.Annotate("writing checkpoint");
  }
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) return Status::IOError(fmt::format("renaming {}: {}", tmp_dir, ec.message()));
  RETURN_IF_ERROR(SyncDir(dir_));

  // The checkpoint is durable: older checkpoints and the segments it covers can go.
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name.starts_with(kCheckpointPrefix) &&
        name != CheckpointDirName(covered)) {
      fs::remove_all(e.path(), ec);
    }
  }
  RETURN_IF_ERROR(RemoveSegmentsBefore(first_kept).status());
  return writer.bytes();
}

}  // namespace strata::wal
