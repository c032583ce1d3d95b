#include "store/gateway.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>

#include "base/mutex.h"
#include "base/parallel.h"
#include "blocks/lifecycle.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/writer.h"

namespace strata::store {

namespace blk = tsdb::block;

namespace {

// The chunks of one series from one block: its chunk records back to back.
struct Piece {
  int64_t block_min = 0;
  int64_t resolution = 0;
  std::string records;
  std::vector<uint32_t> lengths;
};

struct FoundSeries {
  Labels labels;
  std::vector<Piece> pieces;
};

// Series of a block querier: labels up front, chunk bytes fetched at Select, decoded per
// series on demand. Pieces from several blocks are merged; repeated timestamps (a block cut
// twice, overlapping blocks) keep the first sample.
class BlockSeriesSet : public query::SeriesSet {
 public:
  BlockSeriesSet(std::vector<FoundSeries> series, query::SelectParams params, blk::Aggr aggr)
      : series_(std::move(series)), params_(params), aggr_(aggr) {}
  size_t size() const override { return series_.size(); }
  const Labels& labels(size_t i) const override { return series_[i].labels; }
  void Samples(size_t i, std::vector<Sample>& out) const override {
    out.clear();
    std::vector<Sample> decoded;
    for (const auto& p : series_[i].pieces) {
      size_t off = 0;
      for (uint32_t len : p.lengths) {
        decoded.clear();
        std::string_view record = std::string_view(p.records).substr(off, len);
        off += len;
        if (blk::IsHistogramRecord(record)) continue;  // read by Histograms()
        Status st = p.resolution == 0 ? blk::DecodeChunkRecord(record, &decoded, nullptr)
                                      : blk::DecodeAggregate(record, aggr_, decoded);
        if (!st.ok()) {
          // Checksums were verified at Select, so this is a chunk the writer encoded
          // wrongly: serve what is intact and say so.
          spdlog::error("msg=\"corrupt chunk in block\" series={} err=\"{}\"",
                        FormatLabels(series_[i].labels), st.message());
          continue;
        }
        for (const Sample& s : decoded) {
          if (s.t >= params_.mint && s.t <= params_.maxt) out.push_back(s);
        }
      }
    }
    if (series_[i].pieces.size() > 1 &&
        !std::is_sorted(out.begin(), out.end(),
                        [](const Sample& a, const Sample& b) { return a.t < b.t; })) {
      std::stable_sort(out.begin(), out.end(),
                       [](const Sample& a, const Sample& b) { return a.t < b.t; });
    }
    if (series_[i].pieces.size() > 1) {
      out.erase(std::unique(out.begin(), out.end(),
                            [](const Sample& a, const Sample& b) { return a.t == b.t; }),
                out.end());
    }
  }
  // Native histograms are the same at every resolution: downsampling keeps them as they are.
  void Histograms(size_t i, std::vector<histogram::HistogramSample>& out) const override {
    out.clear();
    for (const auto& p : series_[i].pieces) {
      size_t off = 0;
      for (uint32_t len : p.lengths) {
        std::string_view record = std::string_view(p.records).substr(off, len);
        off += len;
        // Float and aggregate records are not decoded (nor their checksum recomputed) here.
        if (!blk::IsHistogramRecord(record)) continue;
        std::vector<histogram::HistogramSample> decoded;
        if (Status st = blk::DecodeChunkRecord(record, nullptr, &decoded); !st.ok()) {
          spdlog::error("msg=\"corrupt chunk in block\" series={} err=\"{}\"",
                        FormatLabels(series_[i].labels), st.message());
          continue;
        }
        for (auto& s : decoded) {
          if (s.t >= params_.mint && s.t <= params_.maxt) out.push_back(std::move(s));
        }
      }
    }
    if (series_[i].pieces.size() > 1) {
      auto by_time = [](const auto& a, const auto& b) { return a.t < b.t; };
      std::stable_sort(out.begin(), out.end(), by_time);
      out.erase(std::unique(out.begin(), out.end(),
                            [](const auto& a, const auto& b) { return a.t == b.t; }),
                out.end());
    }
  }

 private:
  std::vector<FoundSeries> series_;
  query::SelectParams params_;
  blk::Aggr aggr_;
};

// Functions that downsampled data answers well enough to be chosen automatically, and the
// aggregate each reads. Others read raw blocks where they exist.
std::optional<blk::Aggr> AutoAggregate(std::string_view func) {
  if (func.empty()) return blk::Aggr::kAvg;
  if (func == "rate" || func == "increase" || func == "irate") return blk::Aggr::kCounter;
  if (func == "sum_over_time") return blk::Aggr::kSum;
  if (func == "min_over_time") return blk::Aggr::kMin;
  if (func == "max_over_time") return blk::Aggr::kMax;
  return std::nullopt;
}

// The aggregate a selection reads from downsampled blocks it cannot avoid.
blk::Aggr FallbackAggregate(std::string_view func) {
  if (auto a = AutoAggregate(func)) return *a;
  if (func == "count_over_time") return blk::Aggr::kCount;
  if (func == "resets") return blk::Aggr::kCounter;
  return blk::Aggr::kAvg;
}

// Whether the block holds data in [mint, maxt].
bool Overlaps(const BlockReader& b, int64_t mint, int64_t maxt) {
  return b.meta().min_time <= maxt && b.meta().max_time > mint;
}

class BlockQuerier : public query::Querier {
 public:
  static constexpr size_t kFetchThreads = 8;       // shards read at once per query
  static constexpr int64_t kLookbackMs = 300'000;  // 5m

  BlockQuerier(std::vector<std::shared_ptr<BlockReader>> blocks, int64_t max_resolution_ms,
               uint64_t max_chunk_bytes)
      : blocks_(std::move(blocks)),
        max_resolution_ms_(max_resolution_ms),
        max_chunk_bytes_(max_chunk_bytes) {}

  Result<std::unique_ptr<query::SeriesSet>> Select(
      const query::SelectParams& params, std::span<const Matcher> matchers) const override {
    ASSIGN_OR_RETURN(std::vector<FoundSeries> found,
                     Find(params.mint, params.maxt, matchers, true, &params));
    return std::unique_ptr<query::SeriesSet>(
        std::make_unique<BlockSeriesSet>(std::move(found), params, FallbackAggregate(params.func)));
  }

  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     std::span<const Matcher> matchers) const override {
    ASSIGN_OR_RETURN(std::vector<FoundSeries> found, Find(mint, maxt, matchers, false));
    std::vector<Labels> out;
    out.reserve(found.size());
    for (auto& f : found) out.push_back(std::move(f.labels));
    return out;
  }

  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              std::span<const Matcher> matchers) const override {
    std::set<std::string> names;
    if (matchers.empty()) {
      for (const auto& b : blocks_) {
        if (!Overlaps(*b, mint, maxt)) continue;
        for (uint32_t sh = 0; sh < b->meta().shards.size(); ++sh) {
          ASSIGN_OR_RETURN(auto idx, b->Index(sh));
          for (auto& n : idx->LabelNames()) names.insert(std::move(n));
        }
      }
    } else {
      ASSIGN_OR_RETURN(std::vector<Labels> series, Series(mint, maxt, matchers));
      for (const auto& ls : series) {
        for (const auto& l : ls) names.insert(l.name);
      }
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<std::vector<std::string>> LabelValues(std::string_view name, int64_t mint, int64_t maxt,
                                               std::span<const Matcher> matchers) const override {
    std::set<std::string> values;
    if (matchers.empty()) {
      for (const auto& b : blocks_) {
        if (!Overlaps(*b, mint, maxt)) continue;
        for (uint32_t sh = 0; sh < b->meta().shards.size(); ++sh) {
          ASSIGN_OR_RETURN(auto idx, b->Index(sh));
          ASSIGN_OR_RETURN(auto vals, idx->LabelValues(name, b->IndexFetcher(sh)));
          for (auto& v : vals) values.insert(std::move(v));
        }
      }
    } else {
      ASSIGN_OR_RETURN(std::vector<Labels> series, Series(mint, maxt, matchers));
      for (const auto& ls : series) {
        for (const auto& l : ls) {
          if (l.name == name) values.insert(l.value);
        }
      }
    }
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  // Whether a selection may read data of resolution `res`: the coarsest resolution that
  // still leaves at least one sample per step (and two per range-function window, one per
  // lookback for plain selectors), for functions downsampled data answers well.
  bool Allowed(int64_t res, const query::SelectParams* p) const {
    if (res == 0) return true;
    if (max_resolution_ms_ >= 0) return res <= max_resolution_ms_;
    if (p == nullptr || !AutoAggregate(p->func) || p->step_ms < res) return false;
    return p->func.empty() ? res <= kLookbackMs : 2 * res <= p->range_ms;
  }

  static bool Covers(const BlockReader& c, const BlockReader& b) {
    return c.meta().min_time <= b.meta().min_time && c.meta().max_time >= b.meta().max_time;
  }

  static uint64_t Bytes(const BlockReader& b) {
    uint64_t n = 0;
    for (const auto& s : b.meta().shards) n += s.chunks_bytes + s.index_bytes;
    return n;
  }

  // The blocks a selection reads: where blocks of several resolutions cover the same range
  // the coarsest allowed one wins; a range only disallowed resolutions cover (raw data past
  // its retention) is read from the finest of them. Chosen automatically, a downsampled block
  // no smaller than a raw block of its range is not read: the raw one answers exactly for fewer
  // bytes (five aggregates per window take more room than a few packed samples).
  std::vector<BlockReader*> Choose(int64_t mint, int64_t maxt, const query::SelectParams* p) const {
    // Ranks of the blocks in range (a block covering one in range is in range too).
    std::vector<int64_t> rank(blocks_.size());
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const BlockReader& b = *blocks_[i];
      if (!Overlaps(b, mint, maxt)) continue;
      int64_t res = b.meta().resolution_ms;
      bool allowed = Allowed(res, p);
      for (size_t k = 0; allowed && res > 0 && max_resolution_ms_ < 0 && k < blocks_.size(); ++k) {
        const BlockReader& raw = *blocks_[k];
        allowed = !(raw.meta().resolution_ms == 0 && Covers(raw, b) && Bytes(raw) <= Bytes(b));
      }
      rank[i] = allowed ? res : -res - 1;
    }
    std::vector<BlockReader*> out;
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const BlockReader& b = *blocks_[i];
      if (!Overlaps(b, mint, maxt)) continue;
      bool covered = false;
      for (size_t k = 0; k < blocks_.size() && !covered; ++k) {
        covered = k != i && rank[k] > rank[i] && Covers(*blocks_[k], b);
      }
      if (!covered) out.push_back(blocks_[i].get());
    }
    return out;
  }

  // Series matching `matchers` with chunks in [mint, maxt], sorted by labels, one entry per
  // label set; with `fetch`, their chunk bytes too.
  Result<std::vector<FoundSeries>> Find(int64_t mint, int64_t maxt,
                                        std::span<const Matcher> matchers, bool fetch,
                                        const query::SelectParams* params = nullptr) const {
    struct Task {
      BlockReader* block;
      uint32_t shard;
      std::vector<FoundSeries> found;
    };
    std::vector<Task> tasks;
    for (BlockReader* b : Choose(mint, maxt, params)) {
      for (uint32_t sh = 0; sh < b->meta().shards.size(); ++sh) tasks.push_back({b, sh, {}});
    }
    std::atomic<uint64_t> chunk_bytes{0};
    RETURN_IF_ERROR(RunConcurrently(tasks.size(), kFetchThreads, [&](size_t i) {
      return FindInShard(tasks[i].block, tasks[i].shard, mint, maxt, matchers, fetch, chunk_bytes,
                         tasks[i].found);
    }));

    std::vector<FoundSeries> all;
    for (auto& t : tasks) {
      for (auto& f : t.found) all.push_back(std::move(f));
    }
    std::stable_sort(all.begin(), all.end(), [](const FoundSeries& a, const FoundSeries& b) {
      if (a.labels != b.labels) return a.labels < b.labels;
      return !a.pieces.empty() && !b.pieces.empty() &&
             a.pieces[0].block_min < b.pieces[0].block_min;
    });
    std::vector<FoundSeries> out;
    for (auto& f : all) {
      if (!out.empty() && out.back().labels == f.labels) {
        for (auto& p : f.pieces) out.back().pieces.push_back(std::move(p));
      } else {
        out.push_back(std::move(f));
      }
    }
    return out;
  }

  // `chunk_bytes` adds up what the selection's shards fetch, against max_chunk_bytes_.
  Status FindInShard(BlockReader* b, uint32_t shard, int64_t mint, int64_t maxt,
                     std::span<const Matcher> matchers, bool fetch,
                     std::atomic<uint64_t>& chunk_bytes, std::vector<FoundSeries>& found) const {
    ASSIGN_OR_RETURN(auto idx, b->Index(shard));
    auto fetcher = b->IndexFetcher(shard);
    ASSIGN_OR_RETURN(std::vector<uint32_t> ords, idx->Postings(matchers, fetcher));
    if (ords.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(std::vector<blk::SeriesRef> refs,
                     idx->Series(ords, mint, maxt, b->meta().min_time, false, fetcher));
    std::vector<blk::ByteRange> ranges;
    if (fetch) {
      ranges.reserve(refs.size());
      for (const auto& r : refs) {
        const auto& last = r.chunks.back();
        ranges.push_back(
            {r.chunks.front().offset, last.offset + last.length - r.chunks.front().offset});
      }
    }
    std::vector<std::string> data;
    if (fetch) {
      uint64_t bytes = 0;
      for (const auto& r : ranges) bytes += r.length;
      uint64_t total = chunk_bytes.fetch_add(bytes) + bytes;
      if (max_chunk_bytes_ > 0 && total > max_chunk_bytes_) {
        return Status::LimitExceeded(fmt::format(
            "query would fetch more than {} bytes ({:.1f} MiB) of chunks from object storage "
            "for one selector (store_gateway.max_select_chunk_size); narrow its matchers or the "
            "time range",
            max_chunk_bytes_, static_cast<double>(max_chunk_bytes_) / (1 << 20)));
      }
      ASSIGN_OR_RETURN(data, b->ReadChunks(shard, ranges));
    }
    found.reserve(refs.size());
    for (size_t i = 0; i < refs.size(); ++i) {
      FoundSeries f{std::move(refs[i].labels), {}};
      if (fetch) {
        Piece p{b->meta().min_time, b->meta().resolution_ms, std::move(data[i]), {}};
        uint64_t expect = refs[i].chunks.front().offset;
        for (const auto& c : refs[i].chunks) {
          if (c.offset != expect)
            return Status::Corruption("block: chunks of a series not contiguous");
          RETURN_IF_ERROR(
              blk::CheckChunkRecord(std::string_view(p.records).substr(
                                        c.offset - refs[i].chunks.front().offset, c.length))
                  .Annotate(b->meta().id));
          p.lengths.push_back(c.length);
          expect += c.length;
        }
        f.pieces.push_back(std::move(p));
      }
      found.push_back(std::move(f));
    }
    return Status::Ok();
  }

  std::vector<std::shared_ptr<BlockReader>> blocks_;
  int64_t max_resolution_ms_;
  uint64_t max_chunk_bytes_;
};

std::unique_ptr<cache::DiskCache> OpenDiskCache(const GatewayOptions& o) {
  if (o.disk_cache_dir.empty() || o.disk_cache_bytes == 0) return nullptr;
  auto c = cache::DiskCache::Open(o.disk_cache_dir, o.disk_cache_bytes);
  if (!c.ok()) {
    spdlog::warn("msg=\"store gateway runs without its disk cache\" err=\"{}\"",
                 c.status().ToString());
    return nullptr;
  }
  return std::move(*c);
}

}  // namespace

StoreGateway::StoreGateway(GatewayOptions opts, BucketFor bucket_for,
                           prometheus::Registry* registry)
    : opts_(std::move(opts)),
      bucket_for_(std::move(bucket_for)),
      cache_(opts_.cache_bytes, OpenDiskCache(opts_), registry) {}

Status StoreGateway::Sync(const std::string& tenant) {
  auto bucket = bucket_for_(tenant);
  ASSIGN_OR_RETURN(std::vector<blocks::ListedBlock> listed,
                   blocks::ListBlocks(*bucket, blk::MetricsRoot(tenant)));
  return blocks_.Sync(tenant, listed, [&](const std::vector<std::string>& ids) {
    return OpenReaders(bucket, tenant, ids);
  });
}

Result<std::vector<std::shared_ptr<BlockReader>>> StoreGateway::OpenReaders(
    const std::shared_ptr<objstore::Bucket>& bucket, const std::string& tenant,
    const std::vector<std::string>& ids) {
  ASSIGN_OR_RETURN(auto metas, blk::ReadMetas(*bucket, tenant, ids));
  std::vector<std::shared_ptr<BlockReader>> out(metas.size());
  for (size_t i = 0; i < metas.size(); ++i) {
    if (metas[i]) {
      out[i] =
          std::make_shared<BlockReader>(bucket, tenant, std::move(*metas[i]), cache_, opts_.reader);
    }
  }
  return out;
}

void StoreGateway::AddBlock(const std::string& tenant, const blk::BlockMeta& meta) {
  blocks_.Add(
      tenant, meta.id,
      std::make_shared<BlockReader>(bucket_for_(tenant), tenant, meta, cache_, opts_.reader));
}

std::unique_ptr<query::Querier> StoreGateway::Querier(const std::string& tenant,
                                                      const query::ReadHints& hints) const {
  std::vector<std::shared_ptr<BlockReader>> blocks = blocks_.Of(tenant);
  std::erase_if(blocks, [&](const auto& b) { return !Overlaps(*b, hints.mint, hints.maxt); });
  return std::make_unique<BlockQuerier>(std::move(blocks), hints.max_resolution_ms,
                                        opts_.max_select_chunk_bytes);
}

std::vector<blk::BlockMeta> StoreGateway::Blocks(const std::string& tenant) const {
  std::vector<blk::BlockMeta> out;
  for (const auto& r : blocks_.Of(tenant)) out.push_back(r->meta());
  return out;
}

void StoreGateway::EvictIndexes(int64_t now_ms) {
  blocks_.EvictIndexes(now_ms, opts_.index_idle_ms, opts_.index_max_bytes);
}

}  // namespace strata::store
