#include "objstore/fs_bucket.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file.h"

namespace strata::objstore {
namespace fs = std::filesystem;
namespace {

bool IsTemporary(const std::string& name) {
  return name.find(kTempFileMarker) != std::string::npos;
}

}  // namespace

Result<std::unique_ptr<FsBucket>> FsBucket::Open(const std::string& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return Status::IOError(fmt::format("creating bucket directory {}: {}", root, ec.message()));
  // Leftovers of writes a crash interrupted.
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && IsTemporary(it->path().filename().string())) {
      fs::remove(it->path(), ec);
    }
  }
  return std::unique_ptr<FsBucket>(new FsBucket(root));
}

Result<std::string> FsBucket::Get(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  auto data = ReadFile(root_ + "/" + key);
  if (!data.ok() && data.status().code() == Status::Code::kNotFound) {
    return Status::NotFound(fmt::format("object {} not found", key));
  }
  return data;
}

Result<std::string> FsBucket::GetRange(const std::string& key, uint64_t offset, uint64_t length) {
  RETURN_IF_ERROR(ValidateKey(key));
  std::string path = root_ + "/" + key;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(fmt::format("object {} not found", key));
    return ErrnoStatus("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("stat", path, err);
  }
  auto size = static_cast<uint64_t>(st.st_size);
  std::string out;
  if (offset < size) out.resize(std::min(length, size - offset));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      return ErrnoStatus("read", path, err);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

Status FsBucket::WriteAtomically(
    const std::string& key, const std::function<Status(int fd, const std::string& tmp)>& fill) {
  RETURN_IF_ERROR(ValidateKey(key));
  std::string path = root_ + "/" + key;
  std::string dir = path.substr(0, path.rfind('/'));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  return WriteFileAtomically(path, fill);
}

Status FsBucket::Put(const std::string& key, std::string_view data) {
  return WriteAtomically(key,
                         [&](int fd, const std::string& tmp) { return WriteAll(fd, data, tmp); });
}

Status FsBucket::PutFile(const std::string& key, const std::string& src) {
  return WriteAtomically(key, [&](int fd, const std::string&) -> Status {
    int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return ErrnoStatus("open", src, errno);
    Status st;
    while (true) {
      ssize_t n = ::copy_file_range(in, nullptr, fd, nullptr, 1 << 30, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st = ErrnoStatus("copy", src, errno);
        break;
      }
      if (n == 0) break;
    }
    ::close(in);
    return st;
  });
}

Result<std::vector<ObjectInfo>> FsBucket::List(const std::string& prefix, bool recursive) {
  // Walk the deepest directory the prefix names; filter names by the prefix's last segment.
  size_t slash = prefix.rfind('/');
  std::string dir_key = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  std::string dir = root_ + "/" + dir_key;
  std::vector<ObjectInfo> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  auto add = [&](const fs::path& p, bool is_dir) {
    std::string key = fs::relative(p, root_, ec).generic_string();
    if (!key.starts_with(prefix)) return;
    if (is_dir) {
      out.push_back({key + "/", 0});
    } else {
      out.push_back({key, static_cast<uint64_t>(fs::file_size(p, ec))});
    }
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() && !IsTemporary(it->path().filename().string())) {
        add(it->path(), false);
      }
    }
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_directory()) {
        add(e.path(), true);
      } else if (e.is_regular_file() && !IsTemporary(e.path().filename().string())) {
        add(e.path(), false);
      }
    }
  }
  if (ec) return Status::IOError(fmt::format("listing {}: {}", dir, ec.message()));
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status FsBucket::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  std::string path = root_ + "/" + key;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("delete", path, errno);
  // Drop directories the deletion emptied, up to the root.
  std::error_code ec;
  for (fs::path p = fs::path(path).parent_path(); p.string().size() > root_.size();
       p = p.parent_path()) {
    if (!fs::is_empty(p, ec) || ec || !fs::remove(p, ec)) break;
  }
  return Status::Ok();
}

Result<bool> FsBucket::Exists(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  struct stat st {};
  std::string path = root_ + "/" + key;
  if (::stat(path.c_str(), &st) == 0) return S_ISREG(st.st_mode);
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return ErrnoStatus("stat", path, errno);
}

}  // namespace strata::objstore
