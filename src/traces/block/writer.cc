#include "traces/block/writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "base/coding.h"
#include "base/file.h"
#include "base/ulid.h"
#include "base/units.h"
#include "proto/otlp_traces.h"
#include "traces/block/columns.h"

namespace strata::traces::block {

BlockWriter::BlockWriter(std::string dir, WriterOptions opts)
    : dir_(std::move(dir)), opts_(std::move(opts)) {}

BlockWriter::~BlockWriter() {
  if (data_fd_ >= 0) ::close(data_fd_);
  ZSTD_freeCCtx(cctx_);
}

Result<std::unique_ptr<BlockWriter>> BlockWriter::Create(const std::string& dir,
                                                         WriterOptions opts) {
  if (opts.page_bytes == 0) return Status::InvalidArgument("trace block: page_bytes is 0");
  if (opts.format_version < kMinFormatVersion || opts.format_version > kFormatVersion) {
    return Status::InvalidArgument(
        fmt::format("trace block: no format version {}", opts.format_version));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  std::unique_ptr<BlockWriter> w(new BlockWriter(dir, std::move(opts)));
  const std::string path = dir + "/" + kDataFile;
  w->data_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->data_fd_ < 0) return ErrnoStatus("create", path, errno);
  w->cctx_ = ZSTD_createCCtx();
  if (w->cctx_ == nullptr) return Status::IOError("trace block: out of memory for zstd");
  w->meta_.id = w->opts_.id.empty() ? NewUlid(NowMillis()) : w->opts_.id;
  w->meta_.level = w->opts_.level;
  w->meta_.version = w->opts_.format_version;
  w->meta_.sources =
      w->opts_.sources.empty() ? std::vector<std::string>{w->meta_.id} : w->opts_.sources;
  w->meta_.min_time_ns = std::numeric_limits<int64_t>::max();
  w->meta_.max_time_ns = std::numeric_limits<int64_t>::min();
  return w;
}

Status BlockWriter::Add(std::string_view trace_id, std::string_view traces_data, uint64_t spans,
                        int64_t start_ns, int64_t end_ns) {
  if (trace_id.size() != proto::kTraceIdSize) {
    return Status::InvalidArgument("trace block: a trace ID is 16 bytes");
  }
  if (!last_id_.empty() && trace_id <= last_id_) {
    return Status::InvalidArgument("trace block: traces must come in increasing ID order");
  }
  if (page_.size() + traces_data.size() + 32 > kMaxPageRawBytes) {
    return Status::InvalidArgument("trace block: a trace larger than a page may be");
  }
  last_id_ = trace_id;
  if (current_.traces == 0) current_.first_id = trace_id;
  current_.last_id = trace_id;
  ++current_.traces;
  page_ += trace_id;
  PutUvarint(page_, traces_data.size());
  page_ += traces_data;
  fingerprints_.push_back(TraceIdFingerprint(trace_id));
  ++meta_.num_traces;
  meta_.num_spans += spans;
  meta_.trace_bytes += traces_data.size();
  meta_.min_time_ns = std::min(meta_.min_time_ns, start_ns);
  meta_.max_time_ns = std::max({meta_.max_time_ns, end_ns, start_ns});
  if (page_.size() >= opts_.page_bytes) return FlushPage();
  return Status::Ok();
}

Status BlockWriter::FlushPage() {
  if (current_.traces == 0) return Status::Ok();
  std::string out;
  if (opts_.format_version >= 2) {
    ASSIGN_OR_RETURN(out, EncodeColumnarPage(page_, cctx_, opts_.zstd_level));
  } else {
    out.resize(ZSTD_compressBound(page_.size()));
    const size_t n = ZSTD_compressCCtx(cctx_, out.data(), out.size(), page_.data(), page_.size(),
                                       opts_.zstd_level);
    if (ZSTD_isError(n)) {
      return Status::IOError(fmt::format("trace block: zstd: {}", ZSTD_getErrorName(n)));
    }
    out.resize(n);
  }
  const uint64_t n = out.size();
  RETURN_IF_ERROR(WriteAll(data_fd_, out, dir_ + "/" + kDataFile));
  current_.offset = meta_.data_bytes;
  current_.length = n;
  current_.raw_length = page_.size();
  meta_.data_bytes += n;
  index_.pages.push_back(std::move(current_));
  current_ = PageInfo();
  page_.clear();
  return Status::Ok();
}

Result<BlockMeta> BlockWriter::Finish() {
  if (meta_.num_traces == 0) return Status::InvalidArgument("trace block: no traces");
  RETURN_IF_ERROR(FlushPage());
  if (::fsync(data_fd_) != 0) return ErrnoStatus("fsync", dir_ + "/" + kDataFile, errno);
  std::sort(fingerprints_.begin(), fingerprints_.end());
  index_.fingerprints = std::move(fingerprints_);
  const std::string index = EncodeIndex(index_);
  RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + kIndexFile, index));
  meta_.num_pages = index_.pages.size();
  meta_.index_bytes = index.size();
  return meta_;
}

}  // namespace strata::traces::block
