#include "tsdb/compact/local_block.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"
#include "tsdb/block/writer.h"

namespace strata::tsdb::compact {

namespace {
constexpr size_t kBatch = 256;  // series decoded per index read
}

Result<std::unique_ptr<LocalBlock>> LocalBlock::Download(objstore::Bucket& bucket,
                                                         const std::string& tenant,
                                                         const block::BlockMeta& meta,
                                                         const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  std::string prefix = block::BlockPrefix(tenant, meta.id);
  for (uint32_t i = 0; i < meta.shards.size(); ++i) {
    for (const std::string& file : {block::IndexFile(i), block::ChunksFile(i)}) {
      ASSIGN_OR_RETURN(std::string data, bucket.Get(prefix + file));
      RETURN_IF_ERROR(WriteFileAtomically(fmt::format("{}/{}", dir, file), data));
    }
  }
  return Open(dir, meta);
}

Result<std::unique_ptr<LocalBlock>> LocalBlock::Open(const std::string& dir,
                                                     const block::BlockMeta& meta) {
  std::unique_ptr<LocalBlock> b(new LocalBlock(dir, meta));
  RETURN_IF_ERROR(b->Load());
  return b;
}

LocalBlock::LocalBlock(std::string dir, block::BlockMeta meta)
    : dir_(std::move(dir)), meta_(std::move(meta)) {}

LocalBlock::~LocalBlock() {
  for (int fd : chunk_fds_) ::close(fd);
}

Status LocalBlock::Load() {
  for (uint32_t i = 0; i < meta_.shards.size(); ++i) {
    const auto& sm = meta_.shards[i];
    ASSIGN_OR_RETURN(std::string index, ReadFile(dir_ + "/" + block::IndexFile(i)));
    if (index.size() != sm.index_bytes) {
      return Status::Corruption(fmt::format("block {}: index {} has {} bytes, meta.json says {}",
                                            meta_.id, i, index.size(), sm.index_bytes));
    }
    bytes_ += index.size() + sm.chunks_bytes;
    indexes_.push_back(std::move(index));
    std::string path = dir_ + "/" + block::ChunksFile(i);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    chunk_fds_.push_back(fd);
  }
  return Status::Ok();
}

Result<std::unique_ptr<LocalBlock::ShardIterator>> LocalBlock::Shard(uint32_t shard) const {
  const auto& sm = meta_.shards[shard];
  auto idx = block::ShardIndex::Parse(
      std::string_view(indexes_[shard]).substr(sm.ioi_offset, sm.ioi_length), sm.index_bytes);
  if (!idx.ok()) return idx.status().Annotate(fmt::format("block {} shard {}", meta_.id, shard));
  return std::unique_ptr<ShardIterator>(new ShardIterator(*this, shard, std::move(*idx)));
}

LocalBlock::ShardIterator::ShardIterator(const LocalBlock& block, uint32_t shard,
                                         block::ShardIndex index)
    : block_(block), shard_(shard), index_(std::move(index)) {}

bool LocalBlock::ShardIterator::Next() {
  if (!status_.ok()) return false;
  if (pos_ + 1 < series_.size()) {
    ++pos_;
    return true;
  }
  if (next_ordinal_ >= index_.num_series()) return false;
  std::vector<uint32_t> ords;
  for (size_t i = next_ordinal_; i < std::min(index_.num_series(), next_ordinal_ + kBatch); ++i) {
    ords.push_back(static_cast<uint32_t>(i));
  }
  next_ordinal_ += ords.size();
  auto fetch = block::FetcherOver(block_.indexes_[shard_]);
  auto series = index_.Series(ords, INT64_MIN, INT64_MAX, block_.meta_.min_time, true, fetch);
  if (!series.ok()) {
    status_ = series.status();
    return false;
  }
  series_ = std::move(*series);
  pos_ = 0;
  return !series_.empty();
}

Status LocalBlock::ShardIterator::ForEachRecord(const std::function<Status(std::string_view)>& fn) {
  const auto& chunks = series_[pos_].chunks;
  if (chunks.empty()) return Status::Ok();
  uint64_t begin = chunks.front().offset;
  uint64_t end = chunks.back().offset + chunks.back().length;
  if (end < begin || end > block_.meta_.shards[shard_].chunks_bytes || end - begin > (1u << 30)) {
    return Status::Corruption("block: chunk refs outside the chunks file");
  }
  std::string buf(end - begin, '\0');
  ssize_t n = ::pread(block_.chunk_fds_[shard_], buf.data(), buf.size(), static_cast<off_t>(begin));
  if (n != static_cast<ssize_t>(buf.size())) return Status::IOError("short read of a chunks file");
  for (const auto& c : chunks) {
    if (c.offset < begin || c.offset + c.length > end) {
      return Status::Corruption("block: chunk refs out of order");
    }
    RETURN_IF_ERROR(fn(std::string_view(buf).substr(c.offset - begin, c.length)));
  }
  return Status::Ok();
}

Status LocalBlock::ShardIterator::Samples(std::vector<Sample>& out,
                                          std::vector<histogram::HistogramSample>& histograms) {
  return ForEachRecord(
      [&](std::string_view rec) { return block::DecodeChunkRecord(rec, &out, &histograms); });
}

Status LocalBlock::ShardIterator::Aggregates(block::AggrSeries& out,
                                             std::vector<histogram::HistogramSample>& histograms) {
  return ForEachRecord([&](std::string_view rec) {
    return block::IsHistogramRecord(rec) ? block::DecodeChunkRecord(rec, nullptr, &histograms)
                                         : block::DecodeAggregateRecord(rec, out);
  });
}

}  // namespace strata::tsdb::compact
