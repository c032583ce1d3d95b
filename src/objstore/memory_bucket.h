#pragma once

#include <atomic>
#include <map>
#include <string>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "objstore/bucket.h"

namespace strata::objstore {

// A bucket in memory, for tests. set_unavailable(true) makes every call fail with
// Unavailable, to simulate an outage.
class MemoryBucket : public Bucket {
 public:
  Result<std::string> Get(const std::string& key) override;
  Result<std::string> GetRange(const std::string& key, uint64_t offset, uint64_t length) override;
  Status Put(const std::string& key, std::string_view data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool recursive) override;
  Status Delete(const std::string& key) override;
  Result<bool> Exists(const std::string& key) override;

  void set_unavailable(bool v) { unavailable_ = v; }
  size_t size() const;

 private:
  Status Check(const std::string& key) const;

  std::atomic<bool> unavailable_{false};
  mutable Mutex mu_;
  std::map<std::string, std::string> objects_ GUARDED_BY(mu_);
};

}  // namespace strata::objstore
