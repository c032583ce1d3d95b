#include "logs/block/reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/units.h"
#include "logs/block/bloom.h"
#include "logs/block/page.h"

namespace strata::logs::block {

namespace {

// A needle's bloom reads are a few 64-byte blocks per page of a size class, one run per
// feature and class, spread over the file: a finer cache granularity than the data's keeps
// their cost near the bytes they need.
constexpr uint64_t kBloomsPageBytes = 1u << 10;
constexpr uint64_t kBloomsMaxGap = 1u << 10;

}  // namespace

BlockReader::BlockReader(std::shared_ptr<objstore::Bucket> bucket, std::string prefix,
                         BlockMeta meta, cache::PageCache& cache,
                         const cache::RangeReadOptions& opts)
    : bucket_(std::move(bucket)),
      prefix_(std::move(prefix)),
      meta_(std::move(meta)),
      cache_(cache),
      opts_(opts) {}

Result<std::vector<std::string>> BlockReader::Read(const char* file, uint64_t size,
                                                   std::span<const objstore::ByteRange> ranges) {
  last_used_ms_.store(NowMillis(), std::memory_order_relaxed);
  if (std::string_view(file) != kBloomsFile)
    return cache::ReadRanges(*bucket_, cache_, prefix_ + file, size, ranges, opts_);
  cache::RangeReadOptions o = opts_;
  o.page_size = std::min(o.page_size, kBloomsPageBytes);
  o.max_gap = std::min(o.max_gap, kBloomsMaxGap);
  return cache::ReadRanges(*bucket_, cache_, prefix_ + file, size, ranges, o);
}

Result<std::shared_ptr<const LoadedIndex>> BlockReader::Index() {
  {
    MutexLock lk(mu_);
    if (index_) {
      last_used_ms_.store(NowMillis(), std::memory_order_relaxed);
      return index_;
    }
  }
  objstore::ByteRange all{0, meta_.index_bytes};
  ASSIGN_OR_RETURN(auto file, Read(kIndexFile, meta_.index_bytes, {&all, 1}));
  auto loaded = std::make_shared<LoadedIndex>();
  auto decoded = DecodeIndex(file[0], meta_.data_bytes);
  if (!decoded.ok()) return decoded.status().Annotate(fmt::format("log block {}", meta_.id));
  loaded->index = std::move(decoded).value();
  const BlockIndex& idx = loaded->index;
  loaded->blooms = MakeBloomLayout(idx);
  if (loaded->blooms.bytes != meta_.blooms_bytes) {
    return Status::Corruption(
        fmt::format("log block {}: blooms file size does not match its index", meta_.id));
  }
  if (!idx.dictionary.empty()) {
    loaded->ddict = ZSTD_createDDict(idx.dictionary.data(), idx.dictionary.size());
    if (loaded->ddict == nullptr) {
      return Status::Corruption(fmt::format("log block {}: bad dictionary", meta_.id));
    }
  }
  size_t bytes = sizeof(LoadedIndex) + idx.dictionary.size() * 2 +
                 idx.pages.size() * (sizeof(PageInfo) + sizeof(uint32_t)) +
                 idx.streams.size() * sizeof(StreamInfo);
  for (const auto& s : idx.streams) {
    for (const auto& l : s.labels) bytes += l.name.size() + l.value.size() + sizeof(Label);
  }
  loaded->memory_bytes = bytes;
  MutexLock lk(mu_);
  if (!index_) index_ = std::move(loaded);
  return index_;
}

Result<std::vector<uint32_t>> BlockReader::Pages(const LoadedIndex& loaded, size_t s, int64_t mint,
                                                 int64_t maxt, std::span<const uint64_t> features) {
  const BlockIndex& idx = loaded.index;
  const StreamInfo& st = idx.streams.at(s);
  std::vector<uint32_t> out;
  for (uint32_t p = st.first_page; p < st.first_page + st.num_pages; ++p) {
    if (idx.pages[p].max_ts >= mint && idx.pages[p].min_ts <= maxt) out.push_back(p);
  }
  return Holding(loaded, std::move(out), features);
}

Result<std::vector<uint32_t>> BlockReader::Holding(const LoadedIndex& loaded,
                                                   std::vector<uint32_t> out,
                                                   std::span<const uint64_t> features) {
  const BlockIndex& idx = loaded.index;
  // Features are checked in rounds of 2, 4, 8, ... the first ones (the rarest kinds) first,
  // and only for the pages still in: two rare features rule out nearly every page that lacks
  // a needle, so its other features cost nothing.
  const BloomLayout& layout = loaded.blooms;
  for (size_t next = 0, per_round = 2; next < features.size() && !out.empty(); per_round *= 2) {
    const auto round = features.subspan(next, std::min(per_round, features.size() - next));
    next += round.size();
    // The pages in, of each size class, have increasing ranks within their class: a
    // feature's blocks of them lie together in the blooms file, one range per feature and
    // class (from the first page's block to the last one's).
    struct Run {
      uint32_t bloom_class, first, count;
    };
    std::vector<Run> runs;
    std::vector<size_t> run_of;  // per page in `out`
    for (uint32_t p : out) {
      const uint32_t c = idx.pages[p].bloom_class, rank = layout.rank[p];
      auto it =
          std::find_if(runs.begin(), runs.end(), [&](const Run& r) { return r.bloom_class == c; });
      if (it == runs.end()) {
        it = runs.insert(runs.end(), {c, rank, 1});
      } else {
        it->count = rank - it->first + 1;
      }
      run_of.push_back(static_cast<size_t>(it - runs.begin()));
    }
    std::vector<objstore::ByteRange> ranges;
    for (uint64_t f : round) {
      for (const Run& r : runs) {
        uint64_t b = BloomBlockOf(f, BloomClassBlocks(r.bloom_class));
        ranges.push_back({layout.offset[r.bloom_class] +
                              (b * layout.pages[r.bloom_class] + r.first) * kBloomBlockBytes,
                          uint64_t{r.count} * kBloomBlockBytes});
      }
    }
    ASSIGN_OR_RETURN(auto rows, Read(kBloomsFile, meta_.blooms_bytes, ranges));
    std::vector<uint32_t> kept;
    for (size_t k = 0; k < out.size(); ++k) {
      const Run& run = runs[run_of[k]];
      bool in = true;
      for (size_t i = 0; i < round.size() && in; ++i) {
        const auto* block =
            reinterpret_cast<const uint8_t*>(rows[i * runs.size() + run_of[k]].data()) +
            uint64_t{layout.rank[out[k]] - run.first} * kBloomBlockBytes;
        in = BloomBlockHas(block, round[i]);
      }
      if (in) kept.push_back(out[k]);
    }
    out = std::move(kept);
  }
  return out;
}

Status BlockReader::VisitEntries(const LoadedIndex& loaded, std::span<const uint32_t> pages,
                                 int64_t mint, int64_t maxt, std::span<const std::string> needles,
                                 bool lines, const EntryVisitor& fn) {
  // Compressed bytes fetched at once: a few pages, one request for adjacent ones.
  constexpr uint64_t kBatchBytes = uint64_t{8} << 20;
  const BlockIndex& idx = loaded.index;
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string ts_raw, meta, body;
  std::vector<int64_t> ts;
  // Decompresses `frame` into `out`, which must come out `size` bytes long.
  auto decompress = [&](std::string_view frame, uint64_t size, const ZSTD_DDict* dict,
                        std::string& out) {
    out.resize(size);
    size_t n = dict != nullptr
                   ? ZSTD_decompress_usingDDict(dctx, out.data(), out.size(), frame.data(),
                                                frame.size(), dict)
                   : ZSTD_decompressDCtx(dctx, out.data(), out.size(), frame.data(), frame.size());
    return !ZSTD_isError(n) && n == size;
  };
  Status st;
  for (size_t next = 0; next < pages.size() && st.ok();) {
    std::vector<objstore::ByteRange> ranges;
    uint64_t batch = 0;
    const size_t first = next;
    while (next < pages.size() && (ranges.empty() || batch < kBatchBytes)) {
      const PageInfo& pi = idx.pages.at(pages[next++]);
      ranges.push_back({pi.offset, uint64_t{pi.ts_len} + pi.meta_len + (lines ? pi.body_len : 0)});
      batch += ranges.back().length;
    }
    auto frames = Read(kDataFile, meta_.data_bytes, ranges);
    if (!frames.ok()) {
      st = frames.status();
      break;
    }
    for (size_t i = 0; i < ranges.size() && st.ok(); ++i) {
      const PageInfo& pi = idx.pages[pages[first + i]];
      std::string_view frame = (*frames)[i];
      ts_raw.resize(size_t{pi.entries} * 10);
      size_t n = ZSTD_decompressDCtx(dctx, ts_raw.data(), ts_raw.size(), frame.data(), pi.ts_len);
      if (ZSTD_isError(n)) {
        st = Status::Corruption("timestamps do not decompress");
        break;
      }
      ts_raw.resize(n);
      st = DecodeTimestamps(ts_raw, pi.entries, ts);
      if (!st.ok()) break;
      if (ts.front() != pi.min_ts || ts.back() != pi.max_ts) {
        st = Status::Corruption("timestamps disagree with the index");
        break;
      }
      frame.remove_prefix(pi.ts_len);
      meta.clear();
      if (pi.meta_len > 0 &&
          !decompress(frame.substr(0, pi.meta_len), pi.meta_raw, nullptr, meta)) {
        st = Status::Corruption("metadata does not decompress");
        break;
      }
      frame.remove_prefix(pi.meta_len);
      if (lines && !decompress(frame, pi.body_raw, loaded.ddict, body)) {
        st = Status::Corruption("body does not decompress");
        break;
      }
      st = VisitPage(ts, lines ? std::optional<std::string_view>(body) : std::nullopt, meta,
                     idx.fields, mint, maxt, needles, fn);
    }
  }
  ZSTD_freeDCtx(dctx);
  if (st.code() == Status::Code::kCorruption) {
    return st.Annotate(fmt::format("log block {}", meta_.id));
  }
  return st;
}

Status BlockReader::ReadEntries(const LoadedIndex& loaded, std::span<const uint32_t> pages,
                                int64_t mint, int64_t maxt, std::vector<Entry>& out) {
  const size_t first = out.size();
  Status st = VisitEntries(loaded, pages, mint, maxt, {}, true, [&](const EntryRef& e) {
    out.push_back(ToEntry(e));
    return Status::Ok();
  });
  if (!st.ok()) out.resize(first);
  return st;
}

size_t BlockReader::IndexMemoryBytes() const {
  MutexLock lk(mu_);
  return index_ ? index_->memory_bytes : 0;
}

void BlockReader::EvictIndexes() {
  MutexLock lk(mu_);
  index_.reset();
}

}  // namespace strata::logs::block
