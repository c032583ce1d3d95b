// Cutting the head into blocks. The order of steps is what keeps acknowledged samples safe;
// see "Cutting and durability" in docs/format/block.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>

#include "base/file.h"
#include "base/math.h"
#include "base/mutex.h"
#include "tsdb/block/writer.h"
#include "tsdb/db.h"

namespace strata::tsdb {
namespace fs = std::filesystem;

namespace {

bool LabelsLess(const MemSeries* a, const MemSeries* b) {
  auto la = a->labels();
  auto lb = b->labels();
  for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
    if (la[i].name.view() != lb[i].name.view()) return la[i].name.view() < lb[i].name.view();
    if (la[i].value.view() != lb[i].value.view()) return la[i].value.view() < lb[i].value.view();
  }
  return la.size() < lb.size();
}

}  // namespace

std::string Db::HeadStatePath() const { return dir_ + "/head.state"; }

Status Db::LoadHeadState() {
  auto text = ReadFile(HeadStatePath());
  if (!text.ok()) {
    return text.status().code() == Status::Code::kNotFound ? Status::Ok() : text.status();
  }
  int64_t t = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), t);
  if (ec != std::errc()) {
    return Status::Corruption(fmt::format("{}: not a timestamp", HeadStatePath()));
  }
  head_.set_min_valid_time(t);
  shipped_until_ = t;
  return Status::Ok();
}

Result<int> Db::CutBlocks(const std::string& staging_dir, const BlockShipper& ship) {
  MutexLock cut_lock(cut_mu_);
  const int64_t range = opts_.block_range_ms;
  int shipped = 0;
  while (true) {
    HeadStats stats = head_.Stats();
    if (stats.max_time == INT64_MIN) break;
    int64_t mint = std::max(stats.min_time, shipped_until_.load());
    int64_t start = FloorDiv(mint, range) * range;
    if (stats.max_time - start < range + range / 2) break;
    int64_t end = start + range;
    auto began = std::chrono::steady_clock::now();

    // From here on samples before `end` are refused (Head::Append checks under the series
    // lock), so the snapshot below holds every accepted sample of the range.
    if (head_.min_valid_time() < end) head_.set_min_valid_time(end);
    std::vector<const MemSeries*> series;
    uint64_t bytes = 0;
    head_.ForEachSeries([&](const MemSeries& s) {
      bool any = false;
      s.ForEachChunk([&](int64_t cmin, int64_t cmax, std::span<const uint8_t> b) {
        if (cmax >= start && cmin < end) {
          bytes += b.size();
          any = true;
        }
      });
      s.ForEachHistogramChunk([&](int64_t cmin, int64_t cmax, std::span<const uint8_t> b) {
        if (cmax >= start && cmin < end) {
          bytes += b.size();
          any = true;
        }
      });
      if (any || s.ooo_samples() || s.ooo_histograms()) series.push_back(&s);
    });
    std::sort(series.begin(), series.end(), LabelsLess);
    auto shards = static_cast<uint32_t>(std::clamp<uint64_t>(
        (bytes + opts_.shard_target_bytes - 1) / opts_.shard_target_bytes, 1, 4096));
    std::string dir = fmt::format("{}/{}-{}", staging_dir, name_, start);
    ASSIGN_OR_RETURN(auto writer, block::BlockWriter::Create(dir, {start, end, shards}));
    std::vector<Sample> samples;
    std::vector<histogram::HistogramSample> histograms;
    for (const MemSeries* s : series) {
      samples.clear();
      histograms.clear();
      head_.WithSeriesLocked(*s, [&](const MemSeries& ms) {
        ms.AppendSamples(start, end - 1, samples);
        ms.AppendHistograms(start, end - 1, histograms);
      });
      RETURN_IF_ERROR(writer->AddSeries(s->OwnedLabels(), samples, histograms));
    }
    ASSIGN_OR_RETURN(block::BlockMeta meta, writer->Finish());
    Status st = ship(dir, meta);
    if (!st.ok()) return st.Annotate(fmt::format("shipping block {} of {}", meta.id, name_));

    // The block is in the bucket: the head and the WAL may let go of its samples.
    RETURN_IF_ERROR(WriteFileAtomically(HeadStatePath(), std::to_string(end)));
    shipped_until_ = end;
    std::vector<MemSeries*> emptied;
    size_t freed = head_.TruncateBefore(end, &emptied);
    size_t removed;
    {
      // Appends keep series pointers while they hold it, and one may have brought an emptied
      // series a sample since: RemoveEmptySeries checks again.
      MutexLock lk(commit_mu_);
      removed = head_.RemoveEmptySeries(emptied);
    }
    RETURN_IF_ERROR(Checkpoint().Annotate("checkpoint after block cut"));
    std::error_code ec;
    fs::remove_all(dir, ec);
    ++shipped;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - began)
                  .count();
    spdlog::info(
        "msg=\"block cut and shipped\" tenant={} block={} min_time={} max_time={} series={} "
        "samples={} shards={} head_bytes_freed={} series_removed={} duration_ms={}",
        name_, meta.id, start, end, meta.num_series, meta.num_samples, shards, freed, removed, ms);
  }
  return shipped;
}

}  // namespace strata::tsdb
