#include "tsdb/block/writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/file.h"
#include "base/ulid.h"
#include "base/units.h"
#include "blocks/lifecycle.h"
#include "tsdb/block/format.h"
#include "tsdb/chunkenc/histogram.h"
#include "tsdb/chunkenc/packed.h"
#include "tsdb/chunkenc/xor.h"

namespace strata::tsdb::block {
namespace fs = std::filesystem;

namespace {

void PutHeader(std::string& out, uint32_t magic) {
  PutFixed32(out, magic);
  out.push_back(static_cast<char>(kFormatVersion));
}

// Appends CRC32C of out[from, end).
void PutCrcSince(std::string& out, size_t from) {
  PutFixed32(out, Crc32c(out.data() + from, out.size() - from));
}

}  // namespace

Result<std::unique_ptr<BlockWriter>> BlockWriter::Create(const std::string& dir,
                                                         WriterOptions opts) {
  if (opts.max_time <= opts.min_time) return Status::InvalidArgument("block: empty time range");
  if (opts.shards == 0 || opts.shards > 4096) {
    return Status::InvalidArgument("block: shard count must be 1..4096");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  std::unique_ptr<BlockWriter> w(new BlockWriter(dir, std::move(opts)));
  for (uint32_t i = 0; i < w->opts_.shards; ++i) {
    auto& s = w->shards_[i];
    s.path = dir + "/" + ChunksFile(i);
    s.fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.fd < 0) return ErrnoStatus("create", s.path, errno);
    PutHeader(s.buf, kChunksMagic);
  }
  return w;
}

BlockWriter::BlockWriter(std::string dir, WriterOptions opts)
    : dir_(std::move(dir)), opts_(std::move(opts)), shards_(opts_.shards) {
  meta_.id = opts_.id.empty() ? NewUlid(NowMillis()) : opts_.id;
  meta_.min_time = opts_.min_time;
  meta_.max_time = opts_.max_time;
  meta_.level = opts_.level;
  meta_.resolution_ms = opts_.resolution_ms;
  meta_.sources = opts_.sources.empty() ? std::vector<std::string>{meta_.id} : opts_.sources;
}

BlockWriter::~BlockWriter() {
  for (auto& s : shards_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

std::string_view BlockWriter::Intern(std::string_view s) { return *strings_.emplace(s).first; }

Status BlockWriter::FlushChunks(Shard& shard, bool all) {
  if (shard.buf.empty() || (!all && shard.buf.size() < (1u << 20))) return Status::Ok();
  RETURN_IF_ERROR(WriteAll(shard.fd, shard.buf, shard.path));
  shard.written += shard.buf.size();
  shard.buf.clear();
  return Status::Ok();
}

Result<BlockWriter::Shard*> BlockWriter::StartSeries(const Labels& labels, SeriesEntry& entry) {
  if (!last_labels_.empty() && !(last_labels_ < labels)) {
    return Status::InvalidArgument("block: series added out of label order");
  }
  if (labels.size() > kMaxLabelsPerSeries) return Status::InvalidArgument("block: too many labels");
  last_labels_ = labels;
  std::vector<LabelView> views = ViewOf(labels);
  entry.labels.reserve(labels.size());
  for (const auto& l : labels) entry.labels.emplace_back(Intern(l.name), Intern(l.value));
  return &shards_[HashLabels(views) % opts_.shards];
}

void BlockWriter::EndChunk(Shard& shard, SeriesEntry& entry, size_t rec_start, int64_t min_t,
                           int64_t max_t) {
  PutCrcSince(shard.buf, rec_start);
  entry.chunks.push_back({min_t, max_t, shard.written + rec_start,
                          static_cast<uint32_t>(shard.buf.size() - rec_start)});
  meta_.num_chunks++;
}

namespace {

// Sorted by time and within [min_time, max_time).
template <typename T>
Status CheckTimes(std::span<const T> samples, const WriterOptions& opts) {
  for (size_t k = 1; k < samples.size(); ++k) {
    if (samples[k].t <= samples[k - 1].t)
      return Status::InvalidArgument("block: samples not sorted");
  }
  if (!samples.empty() &&
      (samples.front().t < opts.min_time || samples.back().t >= opts.max_time)) {
    return Status::InvalidArgument(
        fmt::format("block: samples outside [{}, {})", opts.min_time, opts.max_time));
  }
  return Status::Ok();
}

}  // namespace

Status BlockWriter::WriteHistogramChunks(Shard& shard, SeriesEntry& entry, const Labels& labels,
                                         std::span<const histogram::HistogramSample> histograms) {
  // A chunk per run of samples that share a bucket layout, of at most kMaxSamplesPerChunk.
  size_t i = 0;
  while (i < histograms.size()) {
    size_t rec_start = shard.buf.size();
    size_t start = i;
    chunk_.clear();
    chunkenc::FloatHistogramAppender app(chunk_, *histograms[i].h);
    while (i < histograms.size() && app.num_samples() < static_cast<int>(kMaxSamplesPerChunk) &&
           app.Append(histograms[i].t, *histograms[i].h)) {
      ++i;
    }
    if (i == start) {
      return Status::InvalidArgument(
          fmt::format("block: a histogram of series {} cannot be encoded", FormatLabels(labels)));
    }
    shard.buf.push_back(static_cast<char>(kEncFloatHistogram));
    shard.buf.append(reinterpret_cast<const char*>(chunk_.data()), chunk_.size());
    EndChunk(shard, entry, rec_start, histograms[start].t, histograms[i - 1].t);
  }
  return Status::Ok();
}

Status BlockWriter::AddSeries(const Labels& labels, std::span<const Sample> samples,
                              std::span<const histogram::HistogramSample> histograms) {
  if (samples.empty() && histograms.empty()) return Status::Ok();
  if (opts_.resolution_ms != 0)
    return Status::InvalidArgument("block: raw series in a downsampled block");
  SeriesEntry entry;
  ASSIGN_OR_RETURN(Shard * shard, StartSeries(labels, entry));
  RETURN_IF_ERROR(CheckTimes(samples, opts_));
  RETURN_IF_ERROR(CheckTimes(histograms, opts_));
  size_t i = 0;
  while (i < samples.size()) {
    size_t rec_start = shard->buf.size();
    size_t start = i;
    auto packed =
        samples.subspan(i, std::min<size_t>(kMaxSamplesPerPackedChunk, samples.size() - i));
    if (chunkenc::CanPack(packed)) {
      shard->buf.push_back(static_cast<char>(kEncPacked));
      chunkenc::EncodePacked(packed, shard->buf);
      i += packed.size();
    } else {
      // Values that are not all decimal (or stale markers): Gorilla XOR.
      chunk_.clear();
      chunkenc::XorAppender app(chunk_);
      while (i < samples.size() && app.num_samples() < static_cast<int>(kMaxSamplesPerChunk)) {
        app.Append(samples[i].t, samples[i].v);
        ++i;
      }
      shard->buf.push_back(static_cast<char>(kEncXor));
      shard->buf.append(reinterpret_cast<const char*>(chunk_.data()), chunk_.size());
    }
    EndChunk(*shard, entry, rec_start, samples[start].t, samples[i - 1].t);
  }
  RETURN_IF_ERROR(WriteHistogramChunks(*shard, entry, labels, histograms));
  meta_.num_samples += samples.size() + histograms.size();
  meta_.num_series++;
  shard->series.push_back(std::move(entry));
  return FlushChunks(*shard, false);
}

Status BlockWriter::AddAggregateSeries(const Labels& labels, const AggrSeries& aggr,
                                       std::span<const histogram::HistogramSample> histograms) {
  if (aggr.empty() && histograms.empty()) return Status::Ok();
  if (opts_.resolution_ms == 0) return Status::InvalidArgument("block: aggregates in a raw block");
  if (!aggr.empty() &&
      (aggr.count.front().t < opts_.min_time || aggr.count.back().t >= opts_.max_time ||
       (!aggr.counter.empty() &&
        (aggr.counter.front().t < opts_.min_time || aggr.counter.back().t >= opts_.max_time)))) {
    return Status::InvalidArgument("block: aggregate outside the block's range");
  }
  SeriesEntry entry;
  ASSIGN_OR_RETURN(Shard * shard, StartSeries(labels, entry));
  RETURN_IF_ERROR(CheckTimes(histograms, opts_));
  for (size_t b = 0; b < aggr.count.size(); b += kMaxSamplesPerChunk) {
    size_t e = std::min<size_t>(b + kMaxSamplesPerChunk, aggr.count.size());
    size_t rec_start = shard->buf.size();
    EncodeAggregateRecord(aggr, b, e, shard->buf);
    int64_t min_t = aggr.count[b].t;
    if (b == 0 && !aggr.counter.empty()) min_t = std::min(min_t, aggr.counter.front().t);
    EndChunk(*shard, entry, rec_start, min_t, aggr.count[e - 1].t);
  }
  RETURN_IF_ERROR(WriteHistogramChunks(*shard, entry, labels, histograms));
  meta_.num_samples += aggr.count.size() + histograms.size();
  meta_.num_series++;
  shard->series.push_back(std::move(entry));
  return FlushChunks(*shard, false);
}

Status BlockWriter::WriteIndex(uint32_t shard_no, Shard& shard, ShardMeta& sm) {
  // Symbols of this shard, sorted; refs are positions.
  std::vector<std::string_view> symbols;
  for (const auto& e : shard.series) {
    for (const auto& [n, v] : e.labels) {
      symbols.push_back(n);
      symbols.push_back(v);
    }
  }
  std::sort(symbols.begin(), symbols.end());
  symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  auto sym = [&](std::string_view s) {
    return static_cast<uint64_t>(std::lower_bound(symbols.begin(), symbols.end(), s) -
                                 symbols.begin());
  };

  std::string out;
  PutHeader(out, kIndexMagic);
  // Series, in groups.
  std::vector<std::pair<uint64_t, uint64_t>> groups;                        // offset, length
  std::map<std::pair<uint64_t, uint64_t>, std::vector<uint32_t>> postings;  // (name, value) syms
  for (size_t g = 0; g < shard.series.size(); g += kSeriesPerGroup) {
    size_t start = out.size();
    for (size_t i = g; i < std::min<size_t>(g + kSeriesPerGroup, shard.series.size()); ++i) {
      const auto& e = shard.series[i];
      PutUvarint(out, e.labels.size());
      for (const auto& [n, v] : e.labels) {
        uint64_t ns = sym(n);
        uint64_t vs = sym(v);
        PutUvarint(out, ns);
        PutUvarint(out, vs);
        postings[{ns, vs}].push_back(static_cast<uint32_t>(i));
      }
      PutUvarint(out, e.chunks.size());
      int64_t prev_t = opts_.min_time;
      uint64_t prev_end = 0;
      for (const auto& c : e.chunks) {
        PutVarint(out, c.min_t - prev_t);
        PutUvarint(out, static_cast<uint64_t>(c.max_t - c.min_t));
        PutVarint(out, static_cast<int64_t>(c.offset - prev_end));
        PutUvarint(out, c.length);
        prev_t = c.max_t;
        prev_end = c.offset + c.length;
      }
    }
    PutCrcSince(out, start);
    groups.emplace_back(start, out.size() - start);
  }
  // Postings lists, then per label name a table of (value, list offset, list length) in
  // checksummed blocks of kPostingsPerBlock entries.
  struct ListRef {
    uint64_t value;
    uint64_t offset;
    uint64_t length;
  };
  std::map<uint64_t, std::vector<ListRef>> lists;  // by name sym
  for (const auto& [key, ords] : postings) {
    size_t start = out.size();
    PutUvarint(out, ords.size());
    uint32_t prev = 0;
    for (uint32_t o : ords) {
      PutUvarint(out, o - prev);
      prev = o;
    }
    PutCrcSince(out, start);
    lists[key.first].push_back({key.second, start, out.size() - start});
  }
  struct TableBlock {
    uint64_t first_value;
    uint64_t offset;
    uint64_t length;
  };
  std::vector<std::pair<uint64_t, std::vector<TableBlock>>> tables;
  for (const auto& [name, refs] : lists) {
    std::vector<TableBlock> blocks;
    for (size_t b = 0; b < refs.size(); b += kPostingsPerBlock) {
      size_t start = out.size();
      size_t end = std::min<size_t>(b + kPostingsPerBlock, refs.size());
      PutUvarint(out, end - b);
      for (size_t i = b; i < end; ++i) {
        PutUvarint(out, refs[i].value);
        PutUvarint(out, refs[i].offset);
        PutUvarint(out, refs[i].length);
      }
      PutCrcSince(out, start);
      blocks.push_back({refs[b].value, start, out.size() - start});
    }
    tables.emplace_back(name, std::move(blocks));
  }

  // Index of the index: symbols, tables' sampled blocks, series groups; zstd-compressed.
  std::string ioi;
  PutUvarint(ioi, symbols.size());
  for (auto s : symbols) PutLengthPrefixed(ioi, s);
  PutUvarint(ioi, tables.size());
  for (const auto& [name, blocks] : tables) {
    PutUvarint(ioi, name);
    PutUvarint(ioi, blocks.size());
    for (const auto& b : blocks) {
      PutUvarint(ioi, b.first_value);
      PutUvarint(ioi, b.offset);
      PutUvarint(ioi, b.length);
    }
  }
  PutUvarint(ioi, shard.series.size());
  PutUvarint(ioi, groups.size());
  for (const auto& [off, len] : groups) {
    PutUvarint(ioi, off);
    PutUvarint(ioi, len);
  }
  sm.ioi_offset = out.size();
  PutUvarint(out, ioi.size());
  std::string compressed(ZSTD_compressBound(ioi.size()), '\0');
  size_t n = ZSTD_compress(compressed.data(), compressed.size(), ioi.data(), ioi.size(), 3);
  if (ZSTD_isError(n)) return Status::IOError("block: zstd compression failed");
  out.append(compressed.data(), n);
  PutCrcSince(out, sm.ioi_offset);
  sm.ioi_length = out.size() - sm.ioi_offset;
  sm.index_bytes = out.size();
  sm.series = shard.series.size();
  sm.chunks_bytes = shard.written;

  std::string path = dir_ + "/" + IndexFile(shard_no);
  return WriteFileAtomically(path, out);
}

Result<BlockMeta> BlockWriter::Finish() {
  meta_.shards.resize(shards_.size());
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    Shard& s = shards_[i];
    RETURN_IF_ERROR(FlushChunks(s, true));
    if (::fdatasync(s.fd) != 0) return ErrnoStatus("fdatasync", s.path, errno);
    ::close(s.fd);
    s.fd = -1;
    RETURN_IF_ERROR(WriteIndex(i, s, meta_.shards[i]));
    s.series.clear();
  }
  RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + blocks::kMetaFile, EncodeMeta(meta_)));
  return meta_;
}

Status CheckChunkRecord(std::string_view record) {
  if (record.size() < 5) return Status::Corruption("block: chunk record too short");
  size_t body = record.size() - 4;
  if (Crc32c(record.data(), body) != LoadFixed32(record.data() + body)) {
    return Status::Corruption("block: chunk checksum mismatch");
  }
  return Status::Ok();
}

bool IsHistogramRecord(std::string_view record) {
  return !record.empty() && static_cast<uint8_t>(record[0]) == kEncFloatHistogram;
}

Status DecodeChunkRecord(std::string_view record, std::vector<Sample>* floats,
                         std::vector<histogram::HistogramSample>* histograms) {
  RETURN_IF_ERROR(CheckChunkRecord(record));
  std::string_view chunk = record.substr(0, record.size() - 4);
  if (static_cast<uint8_t>(chunk[0]) != kEncFloatHistogram) {
    return floats != nullptr ? DecodeChunk(chunk, *floats) : Status::Ok();
  }
  if (histograms == nullptr) return Status::Ok();
  std::string_view data = chunk.substr(1);
  chunkenc::FloatHistogramIterator it({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  while (it.Next()) {
    histograms->push_back({it.t(), std::make_shared<const histogram::FloatHistogram>(it.h())});
  }
  if (it.corrupt()) return Status::Corruption("block: malformed histogram chunk");
  return Status::Ok();
}

Status DecodeChunk(std::string_view chunk, std::vector<Sample>& out) {
  if (chunk.empty()) return Status::Corruption("block: empty chunk");
  std::string_view data = chunk.substr(1);
  if (static_cast<uint8_t>(chunk[0]) == kEncPacked) return chunkenc::DecodePacked(data, out);
  if (static_cast<uint8_t>(chunk[0]) != kEncXor) {
    return Status::Corruption(fmt::format("block: unknown chunk encoding {}",
                                          static_cast<int>(static_cast<uint8_t>(chunk[0]))));
  }
  chunkenc::XorIterator it({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  while (it.Next()) out.push_back({it.t(), it.v()});
  if (it.corrupt()) return Status::Corruption("block: malformed chunk");
  return Status::Ok();
}

}  // namespace strata::tsdb::block
