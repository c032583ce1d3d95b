#pragma once

#include <zstd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "cache/page_cache.h"
#include "cache/range_reader.h"
#include "logs/block/format.h"
#include "logs/stream.h"
#include "objstore/bucket.h"

namespace strata::logs::block {

// A block's index as a reader holds it: decoded, with its dictionary ready.
struct LoadedIndex {
  BlockIndex index;
  BloomLayout blooms;
  ZSTD_DDict* ddict = nullptr;
  size_t memory_bytes = 0;
  LoadedIndex() = default;
  LoadedIndex(const LoadedIndex&) = delete;
  LoadedIndex& operator=(const LoadedIndex&) = delete;
  ~LoadedIndex() { ZSTD_freeDDict(ddict); }
};

// BlockReader reads one log block of a tenant through the object-store range cache: the
// index is fetched once (and may be evicted), the blooms and pages as byte ranges. Untrusted
// bytes are validated; a damaged block reads as kCorruption, never a crash. Thread-safe; the
// bucket and cache must outlive it.
class BlockReader {
 public:
  // `prefix` is the block's directory in the bucket ("<root><id>/").
  BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string prefix, BlockMeta meta,
              cache::PageCache& cache, const cache::RangeReadOptions& opts);

  const BlockMeta& meta() const { return meta_; }
  Result<std::shared_ptr<const LoadedIndex>> Index() EXCLUDES(mu_);

  // The pages of stream `s` with entries in [mint, maxt] whose filters hold every feature
  // (bloom.h; none: every page in range), in time order.
  Result<std::vector<uint32_t>> Pages(const LoadedIndex& idx, size_t s, int64_t mint, int64_t maxt,
                                      std::span<const uint64_t> features);
  // Of `pages` (of any streams, in data order), those whose filters hold every feature.
  // Checking the pages of many streams at once costs one range per feature and size class.
  Result<std::vector<uint32_t>> Holding(const LoadedIndex& idx, std::vector<uint32_t> pages,
                                        std::span<const uint64_t> features);
  // Visits the entries of `pages` (one stream's, in time order) in [mint, maxt] whose lines
  // hold every needle, in time order; without `lines`, with empty lines (the text is not
  // read). Pages are fetched a few MiB at a time, so memory does not grow with their number.
  Status VisitEntries(const LoadedIndex& idx, std::span<const uint32_t> pages, int64_t mint,
                      int64_t maxt, std::span<const std::string> needles, bool lines,
                      const EntryVisitor& fn);
  // Appends the entries of `pages` in [mint, maxt] to `out`.
  Status ReadEntries(const LoadedIndex& idx, std::span<const uint32_t> pages, int64_t mint,
                     int64_t maxt, std::vector<Entry>& out);

  size_t IndexMemoryBytes() const EXCLUDES(mu_);
  int64_t last_used_ms() const { return last_used_ms_.load(std::memory_order_relaxed); }
  void EvictIndexes() EXCLUDES(mu_);

 private:
  Result<std::vector<std::string>> Read(const char* file, uint64_t size,
                                        std::span<const objstore::ByteRange> ranges);

  const std::shared_ptr<objstore::Bucket> bucket_;
  const std::string prefix_;
  const BlockMeta meta_;
  cache::PageCache& cache_;
  const cache::RangeReadOptions opts_;
  std::atomic<int64_t> last_used_ms_{0};
  mutable Mutex mu_;
  std::shared_ptr<const LoadedIndex> index_ GUARDED_BY(mu_);
};

}  // namespace strata::logs::block
