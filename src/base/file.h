#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace strata {

// Small POSIX file helpers shared by the WAL, blocks and the filesystem bucket. Errors name
// the path and the errno text.

// IOError "<what> <path>: <strerror(err)>".
Status ErrnoStatus(std::string_view what, const std::string& path, int err);
// Writes all of `data` to `fd`, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view data, const std::string& path);
// fsyncs a directory, making renames and creations in it durable.
Status SyncDir(const std::string& dir);
Result<std::string> ReadFile(const std::string& path);
// Temporary files of WriteFileAtomically carry this in their name (path + marker + ...).
inline constexpr std::string_view kTempFileMarker = ".tmp-";

// Writes a file through a temporary one in the same directory, filled by `fill(fd, tmp)`,
// fdatasyncs it, renames it into place and syncs the directory: after a crash the file is
// absent, old or complete. Concurrent writers of one path do not collide.
Status WriteFileAtomically(const std::string& path,
                           const std::function<Status(int fd, const std::string& tmp)>& fill);
Status WriteFileAtomically(const std::string& path, std::string_view data);

// Removes a directory tree when it goes out of scope (a staging copy that must not outlive
// the job that wrote it, whichever way the job ends). Errors are ignored.
class RemoveTreeOnExit {
 public:
  explicit RemoveTreeOnExit(std::string path) : path_(std::move(path)) {}
  RemoveTreeOnExit(const RemoveTreeOnExit&) = delete;
  RemoveTreeOnExit& operator=(const RemoveTreeOnExit&) = delete;
  ~RemoveTreeOnExit();

 private:
  std::string path_;
};

// DirLock holds an exclusive flock on `<dir>/lock` so that two processes never share a data
// directory; released when destroyed (or when the process dies). Move-only.
class DirLock {
 public:
  // kUnavailable naming the directory when another process holds it.
  static Result<DirLock> Acquire(const std::string& dir);
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&& o) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace strata
