#include "traces/block/reader.h"

#include <fmt/format.h>
#include <zstd.h>

#include "base/coding.h"
#include "proto/otlp_traces.h"
#include "traces/block/columns.h"

namespace strata::traces::block {

Result<std::shared_ptr<const BlockIndex>> BlockReader::Index() {
  {
    MutexLock lk(mu_);
    if (index_) return index_;
  }
  const objstore::ByteRange all{0, meta_.index_bytes};
  ASSIGN_OR_RETURN(auto file, cache::ReadRanges(*bucket_, cache_, prefix_ + kIndexFile,
                                                meta_.index_bytes, {&all, 1}, opts_));
  ASSIGN_OR_RETURN(BlockIndex decoded, DecodeIndex(file[0]));
  const uint64_t data_end =
      decoded.pages.empty() ? 0 : decoded.pages.back().offset + decoded.pages.back().length;
  if (decoded.pages.size() != meta_.num_pages || data_end != meta_.data_bytes) {
    return Status::Corruption(
        fmt::format("trace block {}: the index does not match meta.json", meta_.id));
  }
  auto index = std::make_shared<const BlockIndex>(std::move(decoded));
  MutexLock lk(mu_);
  if (!index_) index_ = std::move(index);
  return index_;
}

Result<std::string> BlockReader::ReadPage(const BlockIndex& index, size_t p, uint64_t* bytes_read,
                                          TraceFilter* filter) {
  const PageInfo& page = index.pages[p];
  const objstore::ByteRange range{page.offset, page.length};
  ASSIGN_OR_RETURN(auto frames, cache::ReadRanges(*bucket_, cache_, prefix_ + kDataFile,
                                                  meta_.data_bytes, {&range, 1}, opts_));
  if (bytes_read != nullptr) *bytes_read += page.length;
  return DecodePage(page, p, frames[0], filter);
}

Result<std::string> BlockReader::DecodePage(const PageInfo& page, size_t p, std::string_view frame,
                                            TraceFilter* filter) const {
  auto corrupt = [&](std::string_view what) {
    return Status::Corruption(fmt::format("trace block {} page {}: {}", meta_.id, p, what));
  };
  if (meta_.version >= 2) {
    auto decoded = DecodeColumnarPage(frame, page.raw_length, filter);
    if (!decoded.ok()) return corrupt(decoded.status().message());
    return decoded;
  }
  const unsigned long long raw = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (raw != page.raw_length) return corrupt("size differs from the index");
  std::string data(page.raw_length, '\0');
  const size_t n = ZSTD_decompress(data.data(), data.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != data.size()) return corrupt("not a valid zstd frame");
  return data;
}

namespace {

// Reads the entry at the start of `r` (page `p`'s entries) into `id` and `trace`.
Status ReadEntry(const BlockMeta& meta, size_t p, ByteReader& r, std::string_view& id,
                 std::string_view& trace) {
  if (!r.ReadBytes(proto::kTraceIdSize, &id) || !r.ReadLengthPrefixed(&trace)) {
    return Status::Corruption(
        fmt::format("trace block {} page {}: truncated trace entry", meta.id, p));
  }
  return Status::Ok();
}

// Calls `fn` with each trace of a decompressed page until it returns false.
Status ForEachInPage(const BlockMeta& meta, size_t p, std::string_view data,
                     const std::function<bool(std::string_view, std::string_view)>& fn) {
  ByteReader r(data);
  while (!r.empty()) {
    std::string_view id, trace;
    RETURN_IF_ERROR(ReadEntry(meta, p, r, id, trace));
    if (!fn(id, trace)) break;
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<std::string>> BlockReader::FindTrace(std::string_view trace_id,
                                                          uint64_t* bytes_read) {
  ASSIGN_OR_RETURN(auto index, Index());
  if (!index->MayHold(trace_id)) return std::optional<std::string>();
  const int64_t p = index->PageOf(trace_id);
  if (p < 0) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string data, ReadPage(*index, static_cast<size_t>(p), bytes_read, nullptr));
  std::optional<std::string> found;
  RETURN_IF_ERROR(ForEachInPage(meta_, static_cast<size_t>(p), data,
                                [&](std::string_view id, std::string_view trace) {
                                  if (id == trace_id) found.emplace(trace);
                                  return id < trace_id;  // in ID order: past it, it is not here
                                }));
  return found;
}

Status BlockReader::ForEachTrace(
    const std::function<Status(std::string_view id, std::string_view traces_data)>& fn,
    uint64_t* bytes_read, TraceFilter* filter) {
  ASSIGN_OR_RETURN(auto index, Index());
  for (size_t p = 0; p < index->pages.size(); ++p) {
    ASSIGN_OR_RETURN(std::string data, ReadPage(*index, p, bytes_read, filter));
    Status st;
    RETURN_IF_ERROR(ForEachInPage(meta_, p, data, [&](std::string_view id, std::string_view t) {
      st = fn(id, t);
      return st.ok();
    }));
    RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

Result<bool> TraceCursor::Next(uint64_t* bytes_read) {
  if (!index_) {
    ASSIGN_OR_RETURN(index_, reader_.Index());
  }
  const auto& pages = index_->pages;
  while (pos_ == page_.size()) {
    if (next_page_ == pages.size()) return false;
    const PageInfo& page = pages[next_page_];
    if (page.offset < chunk_offset_ || page.offset + page.length > chunk_offset_ + chunk_.size()) {
      // The next pages, up to read_bytes_ (at least one), in one GET.
      size_t last = next_page_;
      while (last + 1 < pages.size() &&
             pages[last + 1].offset + pages[last + 1].length - page.offset <= read_bytes_) {
        ++last;
      }
      const uint64_t length = pages[last].offset + pages[last].length - page.offset;
      ASSIGN_OR_RETURN(chunk_,
                       reader_.bucket_->GetRange(reader_.prefix_ + kDataFile, page.offset, length));
      if (chunk_.size() != length) {
        return Status::Corruption(fmt::format(
            "trace block {}: the data file is shorter than its index says", reader_.meta().id));
      }
      chunk_offset_ = page.offset;
      if (bytes_read != nullptr) *bytes_read += length;
    }
    const std::string_view frame =
        std::string_view(chunk_).substr(page.offset - chunk_offset_, page.length);
    ASSIGN_OR_RETURN(page_, reader_.DecodePage(page, next_page_++, frame, nullptr));
    pos_ = 0;
  }
  ByteReader r(std::string_view(page_).substr(pos_));
  RETURN_IF_ERROR(ReadEntry(reader_.meta(), next_page_ - 1, r, id_, trace_));
  pos_ = page_.size() - r.remaining();
  if (id_ <= last_id_) {
    return Status::Corruption(fmt::format("trace block {} page {}: trace IDs out of order",
                                          reader_.meta().id, next_page_ - 1));
  }
  last_id_ = id_;
  return true;
}

}  // namespace strata::traces::block
