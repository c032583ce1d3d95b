#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::objstore {

struct ObjectInfo {
  std::string key;  // full key; with a delimited listing, "dir/" entries stand for prefixes
  uint64_t size = 0;
};

// Bucket is a flat key → bytes store: a local directory, an S3-compatible bucket, or memory.
// Keys are '/'-separated paths without a leading '/'. Writes are atomic per object: a reader
// sees the whole new object or none of it. Get of a missing key is NotFound. Transient
// failures come back as Unavailable after the backend's own retries. Thread-safe.
class Bucket {
 public:
  virtual ~Bucket() = default;

  virtual Result<std::string> Get(const std::string& key) = 0;
  // Bytes [offset, offset+length) of the object; shorter if the object ends first.
  virtual Result<std::string> GetRange(const std::string& key, uint64_t offset,
                                       uint64_t length) = 0;
  virtual Status Put(const std::string& key, std::string_view data) = 0;
  // Uploads a local file, in parts when it is large (S3 multipart upload), without reading
  // it into memory whole.
  virtual Status PutFile(const std::string& key, const std::string& path) = 0;
  // Objects whose key starts with `prefix`, sorted by key. With `recursive` false, keys are
  // cut after the first '/' following the prefix and each such "directory" is listed once.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool recursive) = 0;
  // Deleting a missing key succeeds.
  virtual Status Delete(const std::string& key) = 0;
  virtual Result<bool> Exists(const std::string& key) = 0;
};

// Which side of the bucket an object-store call serves, for cost accounting.
// A byte range of an object.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

enum class Component { kIngest, kStoreGateway, kCompactor };
std::string_view ComponentName(Component c);

// Rejects keys that could escape a directory or confuse S3: empty, leading '/', "." or ".."
// segments, empty segments, control characters.
Status ValidateKey(std::string_view key);

}  // namespace strata::objstore
