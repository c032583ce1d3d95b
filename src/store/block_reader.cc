#include "store/block_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "base/mutex.h"
#include "base/parallel.h"
#include "base/units.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"

namespace strata::store {

namespace blk = tsdb::block;

BlockReader::BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string tenant,
                         blk::BlockMeta meta, PageCache& cache, const ReaderOptions& opts)
    : bucket_(std::move(bucket)),
      tenant_(std::move(tenant)),
      prefix_(blk::BlockPrefix(tenant_, meta.id)),
      meta_(std::move(meta)),
      cache_(cache),
      opts_(opts),
      indexes_(meta_.shards.size()) {}

Result<std::shared_ptr<const blk::ShardIndex>> BlockReader::Index(uint32_t shard) {
  last_used_ms_.store(NowMillis(), std::memory_order_relaxed);
  {
    MutexLock lk(mu_);
    if (indexes_[shard]) return indexes_[shard];
  }
  const auto& sm = meta_.shards[shard];
  std::string key = prefix_ + blk::IndexFile(shard);
  ASSIGN_OR_RETURN(std::string ioi, bucket_->GetRange(key, sm.ioi_offset, sm.ioi_length));
  if (ioi.size() != sm.ioi_length) {
    return Status::Corruption(fmt::format("{}: index shorter than meta.json says", key));
  }
  auto parsed = blk::ShardIndex::Parse(ioi, sm.index_bytes);
  if (!parsed.ok()) return parsed.status().Annotate(key);
  auto idx = std::make_shared<const blk::ShardIndex>(std::move(*parsed));
  MutexLock lk(mu_);
  if (!indexes_[shard]) indexes_[shard] = idx;
  return indexes_[shard];
}

size_t BlockReader::IndexMemoryBytes() const {
  MutexLock lk(mu_);
  size_t n = 0;
  for (const auto& i : indexes_) n += i ? i->MemoryBytes() : 0;
  return n;
}

void BlockReader::EvictIndexes() {
  MutexLock lk(mu_);
  for (auto& i : indexes_) i.reset();
}

blk::RangeFetcher BlockReader::IndexFetcher(uint32_t shard) {
  return [this, shard](std::span<const blk::ByteRange> ranges) {
    return ReadRanges(blk::IndexFile(shard), meta_.shards[shard].index_bytes, ranges);
  };
}

Result<std::vector<std::string>> BlockReader::ReadChunks(uint32_t shard,
                                                         std::span<const blk::ByteRange> ranges) {
  return ReadRanges(blk::ChunksFile(shard), meta_.shards[shard].chunks_bytes, ranges);
}

Result<std::vector<std::string>> BlockReader::ReadRanges(const std::string& file,
                                                         uint64_t file_size,
                                                         std::span<const blk::ByteRange> ranges) {
  last_used_ms_.store(NowMillis(), std::memory_order_relaxed);
  const uint64_t ps = opts_.page_size;
  std::string key = prefix_ + file;
  std::map<uint64_t, Page> pages;  // page number -> bytes
  for (const auto& r : ranges) {
    if (r.length == 0) continue;
    if (r.offset > file_size || r.length > file_size - r.offset) {
      return Status::Corruption(fmt::format("{}: range [{}, +{}) outside the file ({} bytes)", key,
                                            r.offset, r.length, file_size));
    }
    for (uint64_t p = r.offset / ps; p <= (r.offset + r.length - 1) / ps; ++p) pages[p];
  }
  // Missing pages, grouped into runs fetched with one GET each.
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // first page, last page
  const uint64_t gap_pages = opts_.max_gap / ps;
  for (auto& [p, page] : pages) {
    page = cache_.Get(fmt::format("{}#{}", key, p));
    if (page) continue;
    if (!runs.empty() && p - runs.back().second <= gap_pages + 1) {
      runs.back().second = p;
    } else {
      runs.emplace_back(p, p);
    }
  }
  Mutex mu;
  RETURN_IF_ERROR(RunConcurrently(runs.size(), opts_.fetch_concurrency, [&](size_t i) -> Status {
    auto [first, last] = runs[i];
    uint64_t off = first * ps;
    uint64_t len = std::min((last + 1) * ps, file_size) - off;
    ASSIGN_OR_RETURN(std::string data, bucket_->GetRange(key, off, len));
    if (data.size() != len) {
      return Status::Corruption(fmt::format("{}: shorter than meta.json says", key));
    }
    std::vector<std::pair<std::string, Page>> fetched;
    for (uint64_t p = first; p <= last; ++p) {
      uint64_t begin = (p - first) * ps;
      fetched.emplace_back(
          fmt::format("{}#{}", key, p),
          std::make_shared<const std::string>(data.substr(begin, std::min(ps, len - begin))));
    }
    cache_.Put(fetched);
    MutexLock lk(mu);
    for (uint64_t p = first; p <= last; ++p) pages[p] = fetched[p - first].second;
    return Status::Ok();
  }));
  std::vector<std::string> out;
  out.reserve(ranges.size());
  for (const auto& r : ranges) {
    std::string s;
    s.reserve(r.length);
    uint64_t pos = r.offset;
    uint64_t end = r.offset + r.length;
    while (pos < end) {
      const Page& page = pages.at(pos / ps);
      uint64_t in_page = pos % ps;
      uint64_t n = std::min(end - pos, page->size() - in_page);
      if (n == 0) return Status::Corruption(fmt::format("{}: short page", key));
      s.append(*page, in_page, n);
      pos += n;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace strata::store
