#include "traces/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <queue>
#include <set>

#include "base/encoding.h"
#include "base/file.h"
#include "base/math.h"
#include "base/signal.h"
#include "base/ulid.h"
#include "base/units.h"
#include "blocks/lifecycle.h"
#include "blocks/plan.h"
#include "cache/page_cache.h"
#include "proto/otlp_traces.h"
#include "traces/block/reader.h"

namespace strata::traces {

namespace {

constexpr int64_t kNsPerMs = 1'000'000;

uint64_t StoredBytes(const block::BlockMeta& m) { return m.index_bytes + m.data_bytes; }

}  // namespace

Result<CompactorStats> Compactor::Run(const std::string& tenant, int64_t now_ms) {
  auto bucket = bucket_for_(tenant);
  const std::string root = blocks::BlocksRoot(tenant, Signal::kTraces);
  const int64_t keep_ms = limits_.For(tenant).retention.traces_ms;
  CompactorStats stats;
  // Planning uses now_ms; marks and new block IDs carry the time they are written, on the same
  // clock (a pass may take hours).
  const int64_t offset_ms = NowMillis() - now_ms;
  // Leftovers of jobs a crash interrupted.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(opts_.work_dir, ec)) {
    if (e.path().filename().string().starts_with(fmt::format("traces-{}-", tenant))) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
  // One job per iteration, then reload: a crash between jobs leaves a state the next pass
  // understands.
  for (int iteration = 0; iteration < 1000; ++iteration) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    std::vector<std::string> deleted;
    auto loaded = live_.Load(*bucket, tenant, now_ms, deleted);
    stats.deleted += static_cast<int>(deleted.size());
    if (!loaded.ok()) return loaded.status();
    std::vector<block::BlockMeta> live = std::move(loaded).value();
    std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) {
      return a.min_time_ns != b.min_time_ns ? a.min_time_ns < b.min_time_ns : a.id < b.id;
    });
    std::vector<blocks::BlockInfo> infos;
    infos.reserve(live.size());
    for (const auto& m : live) infos.push_back(blocks::InfoOfNanos(m));

    // Superseded blocks (a merge uploaded its output, then stopped) and those past retention.
    std::map<size_t, std::string_view> retire;
    for (size_t i : blocks::Superseded(infos)) retire.emplace(i, "superseded");
    for (size_t i : blocks::Expired(
             infos, [keep_ms](int64_t) { return keep_ms; }, now_ms)) {
      retire.emplace(i, "retention");
    }
    for (const auto& [i, why] : retire) {
      RETURN_IF_ERROR(blocks::MarkForDeletion(*bucket, root, live[i].id, NowMillis() - offset_ms));
      ++stats.marked;
      spdlog::info("msg=\"trace block marked for deletion\" tenant={} block={} reason={}", tenant,
                   live[i].id, why);
    }
    if (!retire.empty()) continue;

    // The level-1 blocks of each window; the oldest window with a job due goes first.
    std::map<int64_t, std::vector<const block::BlockMeta*>> windows;
    for (const auto& m : live) {
      if (m.level == 1)
        windows[FloorDiv(FloorDiv(m.min_time_ns, kNsPerMs), opts_.window_ms)].push_back(&m);
    }
    std::vector<block::BlockMeta> job;
    for (const auto& [w, group] : windows) {
      if (group.size() < 2) continue;
      uint64_t total = 0;
      for (const auto* m : group) total += StoredBytes(*m);
      const bool over =
          SaturatingAdd(SaturatingMul(w + 1, opts_.window_ms), opts_.settle_ms) <= now_ms;
      if (!over && total < opts_.max_block_bytes && group.size() < opts_.max_sources) continue;
      uint64_t bytes = 0;
      for (const auto* m : group) {
        if (job.size() >= 2 &&
            (bytes + StoredBytes(*m) > opts_.max_block_bytes || job.size() >= opts_.max_sources)) {
          break;
        }
        job.push_back(*m);
        bytes += StoredBytes(*m);
      }
      break;
    }
    if (job.empty()) return stats;
    RETURN_IF_ERROR(Merge(*bucket, tenant, job, offset_ms, stats));
    ++stats.compacted;
    stats.marked += static_cast<int>(job.size());
  }
  return stats;
}

Status Compactor::Merge(objstore::Bucket& bucket, const std::string& tenant,
                        const std::vector<block::BlockMeta>& sources, int64_t offset_ms,
                        CompactorStats& stats) {
  const std::string root = blocks::BlocksRoot(tenant, Signal::kTraces);
  auto shared = std::shared_ptr<objstore::Bucket>(&bucket, [](objstore::Bucket*) {});
  // The indexes are read whole, once; the pages go around the cache (TraceCursor).
  cache::PageCache cache(16u << 20, nullptr, nullptr);
  cache::RangeReadOptions ropts;
  ropts.page_size = 1u << 20;
  ropts.max_gap = 1u << 20;
  std::vector<std::unique_ptr<block::BlockReader>> readers;
  std::vector<block::TraceCursor> cursors;
  std::set<std::string> source_ids;
  int level = 1;
  readers.reserve(sources.size());
  cursors.reserve(sources.size());
  for (const auto& m : sources) {
    readers.push_back(std::make_unique<block::BlockReader>(shared, blocks::BlockPrefix(root, m.id),
                                                           m, cache, ropts));
    cursors.emplace_back(*readers.back(), opts_.read_bytes);
    source_ids.insert(m.sources.begin(), m.sources.end());
    level = std::max(level, m.level + 1);
    stats.bytes_read += m.index_bytes;
  }
  // Reading a source fails: it is left out of later jobs, so one damaged block does not stop
  // the tenant's compaction.
  auto next = [&](size_t k) -> Result<bool> {
    auto more = cursors[k].Next(&stats.bytes_read);
    if (!more.ok()) live_.LeaveOut(tenant, sources[k].id, more.status().ToString());
    return more;
  };

  block::WriterOptions wopts = opts_.block;
  wopts.id = NewUlid(NowMillis() - offset_ms);  // Tidy judges abandoned uploads by it
  wopts.level = level;
  wopts.sources.assign(source_ids.begin(), source_ids.end());
  const std::string dir = fmt::format("{}/traces-{}-{}", opts_.work_dir, tenant, wopts.id);
  RemoveTreeOnExit remove_dir(dir);
  ASSIGN_OR_RETURN(auto writer, block::BlockWriter::Create(dir, wopts));

  // The sources with a trace left, the smallest ID on top.
  auto later = [&](size_t a, size_t b) { return cursors[a].id() > cursors[b].id(); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t k = 0; k < cursors.size(); ++k) {
    ASSIGN_OR_RETURN(bool more, next(k));
    if (more) heap.push(k);
  }
  std::vector<size_t> holding;
  std::vector<std::string_view> parts;
  std::string merged;
  while (!heap.empty()) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    holding.assign(1, heap.top());
    heap.pop();
    const std::string_view id = cursors[holding[0]].id();
    while (!heap.empty() && cursors[heap.top()].id() == id) {
      holding.push_back(heap.top());
      heap.pop();
    }
    std::string_view trace = cursors[holding[0]].traces_data();
    if (holding.size() > 1) {
      // The parts of a trace cut into several blocks, in the order they were cut.
      std::sort(holding.begin(), holding.end());
      parts.clear();
      for (size_t k : holding) parts.push_back(cursors[k].traces_data());
      merged = proto::MergeTraces(parts, nullptr);
      trace = merged;
    }
    auto summary = proto::SummarizeTrace(trace);
    if (!summary.ok()) {
      for (size_t k : holding) live_.LeaveOut(tenant, sources[k].id, summary.status().ToString());
      return summary.status().Annotate(fmt::format("trace {}", HexEncode(id)));
    }
    RETURN_IF_ERROR(writer->Add(id, trace, summary->spans, summary->start_ns, summary->end_ns));
    for (size_t k : holding) {
      ASSIGN_OR_RETURN(bool more, next(k));
      if (more) heap.push(k);
    }
  }
  ASSIGN_OR_RETURN(block::BlockMeta meta, writer->Finish());
  const std::string meta_json = block::EncodeMeta(meta);
  RETURN_IF_ERROR(
      blocks::UploadBlock(bucket, root, meta.id, dir, block::BlockWriter::Files(), meta_json));
  stats.bytes_written += StoredBytes(meta) + meta_json.size();
  spdlog::info(
      "msg=\"trace blocks merged\" tenant={} block={} sources={} level={} traces={} spans={} "
      "stored_bytes={}",
      tenant, meta.id, sources.size(), meta.level, meta.num_traces, meta.num_spans,
      StoredBytes(meta));
  // The output holds every trace of the sources: they can go.
  for (const auto& m : sources) {
    RETURN_IF_ERROR(blocks::MarkForDeletion(bucket, root, m.id, NowMillis() - offset_ms));
  }
  return Status::Ok();
}

}  // namespace strata::traces
