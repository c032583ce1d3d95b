#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "cache/page_cache.h"
#include "cache/range_reader.h"
#include "objstore/bucket.h"
#include "traces/block/columns.h"
#include "traces/block/format.h"

namespace strata::traces::block {

// BlockReader reads one trace block of a tenant through the object-store range cache: the
// index (pages and the trace-ID fingerprints) is fetched once and held, pages as byte ranges.
// Untrusted bytes are validated; a damaged block reads as kCorruption, never a crash.
// Thread-safe; the bucket and cache must outlive it.
class BlockReader {
 public:
  // `prefix` is the block's directory in the bucket ("<root><id>/").
  BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string prefix, BlockMeta meta,
              cache::PageCache& cache, const cache::RangeReadOptions& opts)
      : bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        meta_(std::move(meta)),
        cache_(cache),
        opts_(opts) {}

  const BlockMeta& meta() const { return meta_; }
  // The index, fetched on first use.
  Result<std::shared_ptr<const BlockIndex>> Index() EXCLUDES(mu_);

  // The trace with this 16-byte ID as a serialized TracesData, or nullopt when the block does
  // not hold it. Reads the index once and then at most the one page whose ID range holds
  // the trace, only when the fingerprints let the block hold it; adds the bytes of that page to
  // `bytes_read`.
  Result<std::optional<std::string>> FindTrace(std::string_view trace_id, uint64_t* bytes_read);

  // Calls `fn` with every trace of the block (its ID and serialized TracesData, borrowed for
  // the call), page by page in ID order; adds the bytes of the pages to `bytes_read`. Stops
  // at the first error `fn` returns. With a `filter`, columnar pages give only the traces it
  // keeps (version 1 pages give all).
  Status ForEachTrace(
      const std::function<Status(std::string_view id, std::string_view traces_data)>& fn,
      uint64_t* bytes_read, TraceFilter* filter = nullptr);

 private:
  // Page `p` of `index`, decompressed and checked against the index: its entries, or those
  // of the traces `filter` keeps.
  Result<std::string> ReadPage(const BlockIndex& index, size_t p, uint64_t* bytes_read,
                               TraceFilter* filter);

  const std::shared_ptr<objstore::Bucket> bucket_;
  const std::string prefix_;
  const BlockMeta meta_;
  cache::PageCache& cache_;
  const cache::RangeReadOptions opts_;
  mutable Mutex mu_;
  std::shared_ptr<const BlockIndex> index_ GUARDED_BY(mu_);
};

}  // namespace strata::traces::block
