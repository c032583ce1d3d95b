#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "objstore/memory_bucket.h"

namespace strata::testing {

// A MemoryBucket that counts the reads reaching it (whole-object and range GETs, the bytes
// range GETs returned) and the bytes written to it.
class CountingBucket : public objstore::MemoryBucket {
 public:
  Result<std::string> Get(const std::string& key) override {
    ++gets;
    return MemoryBucket::Get(key);
  }
  Result<std::string> GetRange(const std::string& key, uint64_t offset, uint64_t length) override {
    ++gets;
    auto r = MemoryBucket::GetRange(key, offset, length);
    if (r.ok()) ranged_bytes += r->size();
    return r;
  }
  Status Put(const std::string& key, std::string_view data) override {
    put_bytes += data.size();
    return MemoryBucket::Put(key, data);
  }
  // MemoryBucket::PutFile calls Put.
  std::atomic<int> gets{0};
  std::atomic<uint64_t> ranged_bytes{0};
  std::atomic<uint64_t> put_bytes{0};
};

}  // namespace strata::testing
