#pragma once

#include <functional>
#include <memory>
#include <string>

#include "objstore/bucket.h"

namespace strata::objstore {

// A bucket in a local directory: one file per object. Objects are written to a temporary
// file, fsynced and renamed into place, so a crash leaves either the old or the new object.
// Temporary files (".tmp-" in the name) are never listed and are removed at Open.
class FsBucket : public Bucket {
 public:
  static Result<std::unique_ptr<FsBucket>> Open(const std::string& root);

  Result<std::string> Get(const std::string& key) override;
  Result<std::string> GetRange(const std::string& key, uint64_t offset, uint64_t length) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool recursive) override;
  Status Delete(const std::string& key) override;
  Result<bool> Exists(const std::string& key) override;

 private:
  explicit FsBucket(std::string root) : root_(std::move(root)) {}
  // WriteFileAtomically at the key's path, creating its directories.
  Status WriteAtomically(const std::string& key,
                         const std::function<Status(int fd, const std::string& tmp)>& fill);

  const std::string root_;
};

}  // namespace strata::objstore
