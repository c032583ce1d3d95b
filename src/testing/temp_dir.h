#pragma once

#include <cerrno>
#include <cstdlib>  // mkdtemp (POSIX), getenv
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace strata::testing {

// A new, empty directory strata-<prefix>-XXXXXX under the system's temporary directory, removed
// with everything in it when the object goes away; STRATA_KEEP_TEST_DIRS=1 keeps it (logs, data)
// for a post-mortem. Whatever works in it (a Db, a server) must be closed first: declare the
// TempDir before it. Not copyable; path() may be read from any thread.
class TempDir {
 public:
  // Throws std::system_error if the directory cannot be made, which fails the test that
  // asked for it.
  explicit TempDir(std::string_view prefix) {
    std::string name = "strata-" + std::string(prefix) + "-XXXXXX";
    std::string tmpl = (std::filesystem::temp_directory_path() / name).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    }
    path_ = std::move(tmpl);
  }
  ~TempDir() {
    if (std::getenv("STRATA_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace strata::testing
