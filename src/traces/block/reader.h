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
  friend class TraceCursor;
  // Page `p` of `index`, decompressed and checked against the index: its entries, or those
  // of the traces `filter` keeps.
  Result<std::string> ReadPage(const BlockIndex& index, size_t p, uint64_t* bytes_read,
                               TraceFilter* filter);
  // The entries of `page` (the `p`th) from its stored bytes.
  Result<std::string> DecodePage(const PageInfo& page, size_t p, std::string_view frame,
                                 TraceFilter* filter) const;

  const std::shared_ptr<objstore::Bucket> bucket_;
  const std::string prefix_;
  const BlockMeta meta_;
  cache::PageCache& cache_;
  const cache::RangeReadOptions opts_;
  mutable Mutex mu_;
  std::shared_ptr<const BlockIndex> index_ GUARDED_BY(mu_);
};

// TraceCursor reads a block's traces one at a time in ID order: what a merge of several blocks
// reads. The data file is read straight from the bucket (not through the cache), once, in GETs
// of `read_bytes` (or one page when larger). Checks that IDs increase. The reader outlives it.
// Not thread-safe.
class TraceCursor {
 public:
  TraceCursor(BlockReader& reader, uint64_t read_bytes)
      : reader_(reader), read_bytes_(read_bytes) {}

  // Moves to the next trace: false past the last. Adds the bytes of the pages it reads to
  // `bytes_read`.
  Result<bool> Next(uint64_t* bytes_read);
  // The current trace's 16-byte ID and serialized TracesData, valid until the next Next().
  std::string_view id() const { return id_; }
  std::string_view traces_data() const { return trace_; }

 private:
  BlockReader& reader_;
  const uint64_t read_bytes_;
  std::shared_ptr<const BlockIndex> index_;
  std::string chunk_;  // stored pages read ahead, from chunk_offset_ in the data file
  uint64_t chunk_offset_ = 0;
  size_t next_page_ = 0;
  std::string page_;  // the current page's entries
  size_t pos_ = 0;    // the next entry's offset in page_
  std::string_view id_, trace_;
  std::string last_id_;
};

}  // namespace strata::traces::block
