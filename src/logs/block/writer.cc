#include "logs/block/writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zdict.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "base/file.h"
#include "base/ulid.h"
#include "base/units.h"
#include "logs/block/page.h"

namespace strata::logs::block {
namespace fs = std::filesystem;

BlockWriter::BlockWriter(std::string dir, WriterOptions opts)
    : dir_(std::move(dir)), opts_(std::move(opts)), cctx_(ZSTD_createCCtx()) {}

BlockWriter::~BlockWriter() {
  if (data_fd_ >= 0) ::close(data_fd_);
  ZSTD_freeCDict(cdict_);
  ZSTD_freeCCtx(cctx_);
}

std::vector<std::string> BlockWriter::Files() { return {kIndexFile, kDataFile, kBloomsFile}; }

Result<std::unique_ptr<BlockWriter>> BlockWriter::Create(const std::string& dir,
                                                         WriterOptions opts) {
  if (opts.fields > kMaxFields) return Status::InvalidArgument("log block: too many fields");
  if (opts.bits_per_feature == 0) return Status::InvalidArgument("log block: no bloom bits");
  if (opts.page_bytes == 0 || opts.page_bytes > kMaxPageBytes) {
    return Status::InvalidArgument("log block: page_bytes must be 1 byte to 16 MiB");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  std::unique_ptr<BlockWriter> w(new BlockWriter(dir, std::move(opts)));
  std::string path = dir + "/" + kDataFile;
  w->data_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->data_fd_ < 0) return ErrnoStatus("create", path, errno);
  w->index_.fields = w->opts_.fields;
  w->meta_.id = w->opts_.id.empty() ? NewUlid(NowMillis()) : w->opts_.id;
  w->meta_.level = w->opts_.block_level;
  w->meta_.sources =
      w->opts_.sources.empty() ? std::vector<std::string>{w->meta_.id} : w->opts_.sources;
  w->meta_.min_time_ns = INT64_MAX;
  w->meta_.max_time_ns = INT64_MIN;
  w->trained_ = w->opts_.dict_train_bytes == 0;
  return w;
}

Status BlockWriter::AddStream(const Labels& labels, std::span<const Entry> entries) {
  RETURN_IF_ERROR(BeginStream(labels));
  RETURN_IF_ERROR(Add(entries));
  return EndStream();
}

Status BlockWriter::BeginStream(const Labels& labels) {
  if (in_stream_) return Status::InvalidArgument("log block: a stream is already open");
  if (!index_.streams.empty() && !(index_.streams.back().labels < labels)) {
    return Status::InvalidArgument("log block: streams added out of label order");
  }
  stream_labels_ = labels;
  in_stream_ = true;
  last_ts_ = INT64_MIN;
  return Status::Ok();
}

bool BlockWriter::PageFull(uint64_t bytes, size_t entries) const {
  return bytes >= opts_.page_bytes || features_.size() >= opts_.max_page_features ||
         entries >= kMaxPageEntries;
}

Status BlockWriter::Add(std::span<const Entry> entries) {
  if (!in_stream_) return Status::InvalidArgument("log block: no stream open");
  for (const Entry& e : entries) {
    if (e.ts_ns < last_ts_) return Status::InvalidArgument("log block: entries not sorted by time");
    last_ts_ = e.ts_ns;
  }
  size_t begin = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    features_.AddText(entries[i].line);
    page_bytes_ += entries[i].line.size();
    for (const auto& m : entries[i].metadata) page_bytes_ += m.name.size() + m.value.size();
    if (!PageFull(page_bytes_, carry_.size() + i + 1 - begin)) continue;
    RegisterStream();
    if (carry_.empty()) {
      RETURN_IF_ERROR(AddPage(entries.subspan(begin, i + 1 - begin)));
    } else {
      carry_.insert(carry_.end(), entries.begin() + static_cast<std::ptrdiff_t>(begin),
                    entries.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      RETURN_IF_ERROR(AddPage(carry_));
      carry_.clear();
    }
    begin = i + 1;
    page_bytes_ = 0;
  }
  carry_.insert(carry_.end(), entries.begin() + static_cast<std::ptrdiff_t>(begin), entries.end());
  return Status::Ok();
}

void BlockWriter::RegisterStream() {
  if (!index_.streams.empty() && index_.streams.back().labels == stream_labels_) return;
  StreamInfo& s = index_.streams.emplace_back();
  s.labels = stream_labels_;
  s.first_page = static_cast<uint32_t>(index_.pages.size());
  ++meta_.num_streams;
}

Status BlockWriter::EndStream() {
  if (!in_stream_) return Status::InvalidArgument("log block: no stream open");
  if (!carry_.empty()) {
    RegisterStream();
    RETURN_IF_ERROR(AddPage(carry_));
    carry_.clear();
  }
  page_bytes_ = 0;
  in_stream_ = false;
  if (!index_.streams.empty() && index_.streams.back().labels == stream_labels_) {
    StreamInfo& s = index_.streams.back();
    s.num_pages = static_cast<uint32_t>(index_.pages.size()) - s.first_page;
  }
  return Status::Ok();
}

Status BlockWriter::AddPage(std::span<const Entry> entries) {
  PageInfo& info = index_.pages.emplace_back();
  info.min_ts = entries.front().ts_ns;
  info.max_ts = entries.back().ts_ns;
  info.entries = static_cast<uint32_t>(entries.size());
  for (const Entry& e : entries) info.line_bytes += e.line.size();
  meta_.min_time_ns = std::min(meta_.min_time_ns, info.min_ts);
  meta_.max_time_ns = std::max(meta_.max_time_ns, info.max_ts);
  meta_.num_entries += entries.size();
  meta_.line_bytes += info.line_bytes;
  // The page's filter, sized for its features, is built now: a byte per feature or so, where
  // the features would take eight until Finish lays the filters out.
  {
    std::vector<uint64_t> features = features_.Take();
    info.bloom_class = BloomClassFor(features.size(), opts_.bits_per_feature);
    auto& filter = page_filters_.emplace_back(
        size_t{BloomClassBlocks(info.bloom_class)} * kBloomBlockBytes, uint8_t{0});
    BloomAdd(filter, features);
  }
  std::string ts_raw = EncodeTimestamps(entries), meta_raw = EncodeMetadata(entries),
              body_raw = EncodeBody(entries, opts_.fields);
  info.body_raw = body_raw.size();
  info.meta_raw = meta_raw.size();
  // Within the reader's bounds by construction (page_bytes plus one entry); checked so that a
  // block no reader would take is never shipped.
  if (info.body_raw > kMaxPageRawBytes || info.meta_raw > kMaxPageRawBytes) {
    return Status::TooLarge("log block: page too large");
  }
  const size_t page = index_.pages.size() - 1;
  if (trained_) return WritePage(ts_raw, meta_raw, body_raw, page);
  if (pending_.empty()) pending_bodies_.reserve(opts_.dict_train_bytes + opts_.page_bytes);
  pending_.push_back(
      {std::move(ts_raw), std::move(meta_raw), pending_bodies_.size(), body_raw.size(), page});
  pending_bodies_ += body_raw;
  if (pending_bodies_.size() >= opts_.dict_train_bytes) return TrainAndFlush();
  return Status::Ok();
}

Status BlockWriter::TrainAndFlush() {
  trained_ = true;
  // Samples of up to 16 KiB from the pending bodies; too few or too alike, and zstd declines.
  std::vector<size_t> sizes;
  for (const Pending& p : pending_) {
    for (size_t off = 0; off < p.body_len; off += 16384) {
      sizes.push_back(std::min<size_t>(16384, p.body_len - off));
    }
  }
  if (sizes.size() >= 8) {
    std::string dict(opts_.dict_bytes, '\0');
    size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), pending_bodies_.data(), sizes.data(),
                                     static_cast<unsigned>(sizes.size()));
    if (!ZDICT_isError(n)) {
      dict.resize(n);
      cdict_ = ZSTD_createCDict(dict.data(), dict.size(), opts_.level);
      index_.dictionary = std::move(dict);
    }
  }
  for (const Pending& p : pending_) {
    RETURN_IF_ERROR(WritePage(p.ts_raw, p.meta_raw,
                              std::string_view(pending_bodies_).substr(p.body_begin, p.body_len),
                              p.page));
  }
  pending_.clear();
  std::string().swap(pending_bodies_);
  return Status::Ok();
}

Status BlockWriter::WritePage(const std::string& ts_raw, const std::string& meta_raw,
                              std::string_view body_raw, size_t page) {
  auto compress = [&](std::string_view raw, const ZSTD_CDict* dict, int level) {
    std::string out(ZSTD_compressBound(raw.size()), '\0');
    size_t n =
        dict != nullptr
            ? ZSTD_compress_usingCDict(cctx_, out.data(), out.size(), raw.data(), raw.size(), dict)
            : ZSTD_compressCCtx(cctx_, out.data(), out.size(), raw.data(), raw.size(), level);
    out.resize(ZSTD_isError(n) ? 0 : n);
    return out;
  };
  std::string ts = compress(ts_raw, nullptr, 1);
  std::string meta = meta_raw.empty() ? std::string() : compress(meta_raw, nullptr, opts_.level);
  std::string body = compress(body_raw, cdict_, opts_.level);
  if (ts.empty() || body.empty() || (meta.empty() && !meta_raw.empty())) {
    return Status::IOError("log block: zstd compression failed");
  }
  if (ts.size() > kMaxPageRawBytes || body.size() > kMaxPageRawBytes ||
      meta.size() > kMaxPageRawBytes) {
    return Status::TooLarge("log block: compressed page too large");
  }
  PageInfo& info = index_.pages[page];
  info.offset = data_bytes_;
  info.ts_len = static_cast<uint32_t>(ts.size());
  info.meta_len = static_cast<uint32_t>(meta.size());
  info.body_len = static_cast<uint32_t>(body.size());
  std::string path = dir_ + "/" + kDataFile;
  RETURN_IF_ERROR(WriteAll(data_fd_, ts, path));
  RETURN_IF_ERROR(WriteAll(data_fd_, meta, path));
  RETURN_IF_ERROR(WriteAll(data_fd_, body, path));
  data_bytes_ += ts.size() + meta.size() + body.size();
  return Status::Ok();
}

Result<BlockMeta> BlockWriter::Finish() {
  if (in_stream_) return Status::InvalidArgument("log block: a stream is still open");
  if (index_.pages.empty()) return Status::InvalidArgument("log block: no entries");
  if (!trained_) RETURN_IF_ERROR(TrainAndFlush());
  if (::close(data_fd_) != 0) {
    data_fd_ = -1;
    return ErrnoStatus("close", dir_ + "/" + kDataFile, errno);
  }
  data_fd_ = -1;

  // Each page's filter is sized for its features; block b of every page of a size class lies
  // together (block-major), so a needle reads one run per feature and class for all pages.
  const BloomLayout layout = MakeBloomLayout(index_);
  std::string blooms(layout.bytes, '\0');
  for (size_t p = 0; p < index_.pages.size(); ++p) {
    const uint32_t c = index_.pages[p].bloom_class, nblocks = BloomClassBlocks(c);
    const std::vector<uint8_t>& filter = page_filters_[p];
    for (uint32_t b = 0; b < nblocks; ++b) {
      std::copy_n(filter.data() + size_t{b} * kBloomBlockBytes, kBloomBlockBytes,
                  blooms.data() + layout.offset[c] +
                      (uint64_t{b} * layout.pages[c] + layout.rank[p]) * kBloomBlockBytes);
    }
  }
  page_filters_.clear();
  std::string index = EncodeIndex(index_);
  RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + kIndexFile, index));
  RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + kBloomsFile, blooms));
  meta_.num_pages = index_.pages.size();
  meta_.index_bytes = index.size();
  meta_.data_bytes = data_bytes_;
  meta_.blooms_bytes = blooms.size();
  return meta_;
}

}  // namespace strata::logs::block
