#include "objstore/memory_bucket.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "base/mutex.h"

namespace strata::objstore {

Status MemoryBucket::Check(const std::string& key) const {
  if (unavailable_) return Status::Unavailable("memory bucket: unavailable (simulated outage)");
  return ValidateKey(key);
}

Result<std::string> MemoryBucket::Get(const std::string& key) {
  RETURN_IF_ERROR(Check(key));
  MutexLock lk(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound(fmt::format("object {} not found", key));
  return it->second;
}

Result<std::string> MemoryBucket::GetRange(const std::string& key, uint64_t offset,
                                           uint64_t length) {
  RETURN_IF_ERROR(Check(key));
  MutexLock lk(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound(fmt::format("object {} not found", key));
  if (offset > it->second.size()) return std::string();
  return it->second.substr(offset, length);
}

Status MemoryBucket::Put(const std::string& key, std::string_view data) {
  RETURN_IF_ERROR(Check(key));
  MutexLock lk(mu_);
  objects_[key] = std::string(data);
  return Status::Ok();
}

Status MemoryBucket::PutFile(const std::string& key, const std::string& path) {
  RETURN_IF_ERROR(Check(key));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(fmt::format("open {}", path));
  std::ostringstream data;
  data << in.rdbuf();
  return Put(key, data.str());
}

Result<std::vector<ObjectInfo>> MemoryBucket::List(const std::string& prefix, bool recursive) {
  if (unavailable_) return Status::Unavailable("memory bucket: unavailable (simulated outage)");
  MutexLock lk(mu_);
  std::vector<ObjectInfo> out;
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.starts_with(prefix); ++it) {
    size_t slash = recursive ? std::string::npos : it->first.find('/', prefix.size());
    if (slash == std::string::npos) {
      out.push_back({it->first, it->second.size()});
      continue;
    }
    std::string dir = it->first.substr(0, slash + 1);
    if (out.empty() || out.back().key != dir) out.push_back({dir, 0});
  }
  return out;
}

Status MemoryBucket::Delete(const std::string& key) {
  RETURN_IF_ERROR(Check(key));
  MutexLock lk(mu_);
  objects_.erase(key);
  return Status::Ok();
}

Result<bool> MemoryBucket::Exists(const std::string& key) {
  RETURN_IF_ERROR(Check(key));
  MutexLock lk(mu_);
  return objects_.count(key) > 0;
}

size_t MemoryBucket::size() const {
  MutexLock lk(mu_);
  return objects_.size();
}

}  // namespace strata::objstore
