#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "objstore/memory_bucket.h"

namespace strata::testing {

// A MemoryBucket that counts the reads reaching it: whole-object and range GETs, and the
// bytes range GETs returned.
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
  std::atomic<int> gets{0};
  std::atomic<uint64_t> ranged_bytes{0};
};

}  // namespace strata::testing
