#include "traces/block/reader.h"

#include <fmt/format.h>
#include <zstd.h>

#include "base/coding.h"
#include "proto/otlp_traces.h"

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

Result<std::optional<std::string>> BlockReader::FindTrace(std::string_view trace_id,
                                                          uint64_t* bytes_read) {
  ASSIGN_OR_RETURN(auto index, Index());
  if (!index->MayHold(trace_id)) return std::optional<std::string>();
  const int64_t p = index->PageOf(trace_id);
  if (p < 0) return std::optional<std::string>();
  const PageInfo& page = index->pages[static_cast<size_t>(p)];
  const objstore::ByteRange range{page.offset, page.length};
  ASSIGN_OR_RETURN(auto frames, cache::ReadRanges(*bucket_, cache_, prefix_ + kDataFile,
                                                  meta_.data_bytes, {&range, 1}, opts_));
  if (bytes_read != nullptr) *bytes_read += page.length;
  auto corrupt = [&](std::string_view what) {
    return Status::Corruption(fmt::format("trace block {} page {}: {}", meta_.id, p, what));
  };
  const std::string& frame = frames[0];
  const unsigned long long raw = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (raw != page.raw_length) return corrupt("size differs from the index");
  std::string data(page.raw_length, '\0');
  const size_t n = ZSTD_decompress(data.data(), data.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != data.size()) return corrupt("not a valid zstd frame");
  ByteReader r(data);
  while (!r.empty()) {
    std::string_view id, trace;
    if (!r.ReadBytes(proto::kTraceIdSize, &id) || !r.ReadLengthPrefixed(&trace)) {
      return corrupt("truncated trace entry");
    }
    if (id == trace_id) return std::optional<std::string>(std::string(trace));
    if (id > trace_id) break;  // in ID order: it is not here
  }
  return std::optional<std::string>();
}

}  // namespace strata::traces::block
