#include "logs/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/file.h"
#include "base/math.h"
#include "base/signal.h"
#include "base/ulid.h"
#include "base/units.h"
#include "blocks/lifecycle.h"
#include "blocks/plan.h"
#include "cache/page_cache.h"
#include "logs/block/reader.h"

namespace strata::logs {

namespace {

constexpr int64_t kNsPerMs = 1'000'000;

uint64_t StoredBytes(const block::BlockMeta& m) {
  return m.index_bytes + m.data_bytes + m.blooms_bytes;
}

// One source's pages of one stream, read a page at a time.
struct Cursor {
  block::BlockReader* reader;
  const block::LoadedIndex* index;
  std::vector<uint32_t> pages;
  size_t next_page = 0;
  std::vector<Entry> buf;
  size_t pos = 0;
  int64_t mint;

  // Makes buf[pos] the next entry; false at the end.
  Result<bool> Fill() {
    while (pos == buf.size()) {
      if (next_page == pages.size()) return false;
      buf.clear();
      pos = 0;
      RETURN_IF_ERROR(reader->ReadEntries(*index, {&pages[next_page++], 1}, mint, INT64_MAX, buf));
    }
    return true;
  }
};

}  // namespace

Result<std::vector<block::BlockMeta>> Compactor::Load(objstore::Bucket& bucket,
                                                      const std::string& tenant, int64_t now_ms,
                                                      CompactorStats& stats) {
  std::vector<std::string> deleted;
  auto out = live_.Load(bucket, tenant, now_ms, deleted);
  {
    MutexLock lk(meta_mu_);
    for (const auto& id : deleted) spans_.erase(id);
  }
  stats.deleted += static_cast<int>(deleted.size());
  if (!out.ok()) return out.status();
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
    return a.min_time_ns != b.min_time_ns ? a.min_time_ns < b.min_time_ns : a.id < b.id;
  });
  return out;
}

int64_t Compactor::Cutoff(int64_t keep_ms, int64_t now_ms) const {
  if (keep_ms <= 0) return INT64_MIN;
  // Whole days: a block straddling the cutoff is written again once a day, not every pass.
  int64_t day = FloorDiv(SaturatingSub(now_ms, keep_ms), opts_.day_ms);
  return SaturatingMul(SaturatingMul(day, opts_.day_ms), kNsPerMs);
}

std::optional<std::vector<Compactor::Span>> Compactor::Spans(
    const std::shared_ptr<objstore::Bucket>& bucket, const std::string& tenant,
    const block::BlockMeta& m) {
  const limits::Retention& retention = limits_.For(tenant).retention;
  if (retention.log_streams.empty()) {
    return std::vector<Span>{{retention.logs_ms, m.min_time_ns, m.max_time_ns}};
  }
  {
    MutexLock lk(meta_mu_);
    auto it = spans_.find(m.id);
    if (it != spans_.end()) return it->second;
  }
  cache::PageCache cache(4u << 20, nullptr, nullptr);
  block::BlockReader reader(
      bucket, blocks::BlockPrefix(blocks::BlocksRoot(tenant, Signal::kLogs), m.id), m, cache, {});
  auto idx = reader.Index();
  if (!idx.ok()) {
    live_.LeaveOut(tenant, m.id, idx.status().ToString());
    return std::nullopt;
  }
  std::map<int64_t, Span> by_keep;
  for (const auto& s : (*idx)->index.streams) {
    int64_t keep = retention.LogStreamMs(s.labels);
    const auto& first = (*idx)->index.pages[s.first_page];
    const auto& last = (*idx)->index.pages[s.first_page + s.num_pages - 1];
    auto [it, fresh] = by_keep.try_emplace(keep, Span{keep, first.min_ts, last.max_ts});
    if (!fresh) {
      it->second.min_ts = std::min(it->second.min_ts, first.min_ts);
      it->second.max_ts = std::max(it->second.max_ts, last.max_ts);
    }
  }
  std::vector<Span> spans;
  spans.reserve(by_keep.size());
  for (const auto& [keep, span] : by_keep) spans.push_back(span);
  MutexLock lk(meta_mu_);
  spans_[m.id] = spans;
  return spans;
}

Result<CompactorStats> Compactor::Run(const std::string& tenant, int64_t now_ms) {
  auto bucket = bucket_for_(tenant);
  const std::string root = blocks::BlocksRoot(tenant, Signal::kLogs);
  const limits::Retention& retention = limits_.For(tenant).retention;
  const int64_t now_ns = SaturatingMul(now_ms, kNsPerMs);
  CompactorStats stats;
  // Planning uses now_ms; marks and new block IDs carry the time they are written, on the same
  // clock (a pass may take hours).
  const int64_t offset_ms = NowMillis() - now_ms;
  auto mark = [&](const block::BlockMeta& m, std::string_view why) -> Status {
    RETURN_IF_ERROR(blocks::MarkForDeletion(*bucket, root, m.id, NowMillis() - offset_ms));
    ++stats.marked;
    spdlog::info("msg=\"log block marked for deletion\" tenant={} block={} reason={}", tenant, m.id,
                 why);
    return Status::Ok();
  };
  // Leftovers of jobs a crash interrupted.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(opts_.work_dir, ec)) {
    if (e.path().filename().string().starts_with(fmt::format("logs-{}-", tenant))) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
  bool any_retention = retention.logs_ms > 0;
  for (const auto& r : retention.log_streams) any_retention = any_retention || r.period_ms > 0;
  // One job per iteration, then reload: a crash between jobs leaves a state the next pass
  // understands.
  for (int iteration = 0; iteration < 1000; ++iteration) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    ASSIGN_OR_RETURN(std::vector<block::BlockMeta> live, Load(*bucket, tenant, now_ms, stats));
    std::vector<blocks::BlockInfo> infos;
    infos.reserve(live.size());
    for (const auto& m : live) infos.push_back(blocks::InfoOfNanos(m));
    bool did = false;
    for (size_t i : blocks::Superseded(infos)) {
      RETURN_IF_ERROR(mark(live[i], "superseded"));
      did = true;
    }
    if (did) continue;

    // Retention: a block whose entries are all past their streams' retention is retired; one
    // with some past it is written again without them.
    for (size_t i = 0; any_retention && i < live.size() && !did; ++i) {
      const auto& m = live[i];
      auto spans = Spans(bucket, tenant, m);
      if (!spans) continue;
      bool all_expired = true, some_expired = false;
      for (const Span& sp : *spans) {
        int64_t cutoff = Cutoff(sp.keep_ms, now_ms);
        some_expired = some_expired || sp.min_ts < cutoff;
        all_expired = all_expired && sp.max_ts < cutoff;
      }
      if (all_expired) {
        RETURN_IF_ERROR(mark(m, "retention"));
        did = true;
      } else if (some_expired) {
        RETURN_IF_ERROR(Merge(*bucket, tenant, {m}, now_ms, offset_ms));
        ++stats.rewritten;
        ++stats.marked;
        did = true;
      }
    }
    if (did) continue;

    // Merging: the small blocks within one day (and the settle time after it), once the day
    // is over or they add up to a block.
    const int64_t day_ns = SaturatingMul(opts_.day_ms, kNsPerMs);
    const int64_t settle_ns = SaturatingMul(opts_.settle_ms, kNsPerMs);
    std::map<int64_t, std::vector<const block::BlockMeta*>> days;
    for (const auto& m : live) {
      int64_t day = FloorDiv(m.min_time_ns, day_ns);
      if (StoredBytes(m) < opts_.large_block_bytes &&
          m.max_time_ns < SaturatingAdd(SaturatingMul(day + 1, day_ns), settle_ns)) {
        days[day].push_back(&m);
      }
    }
    for (const auto& [day, group] : days) {
      if (group.size() < 2) continue;
      uint64_t total = 0;
      for (const auto* m : group) total += StoredBytes(*m);
      bool over = SaturatingAdd(SaturatingMul(day + 1, day_ns), settle_ns) <= now_ns;
      if (!over && total < opts_.max_block_bytes) continue;
      std::vector<block::BlockMeta> job;
      uint64_t bytes = 0;
      for (const auto* m : group) {
        if (job.size() >= 2 && bytes + StoredBytes(*m) > opts_.max_block_bytes) break;
        job.push_back(*m);
        bytes += StoredBytes(*m);
      }
      RETURN_IF_ERROR(Merge(*bucket, tenant, job, now_ms, offset_ms));
      ++stats.compacted;
      stats.marked += static_cast<int>(job.size());
      did = true;
      break;
    }
    if (!did) return stats;
  }
  return stats;
}

Status Compactor::Merge(objstore::Bucket& bucket, const std::string& tenant,
                        const std::vector<block::BlockMeta>& sources, int64_t now_ms,
                        int64_t offset_ms) {
  const std::string root = blocks::BlocksRoot(tenant, Signal::kLogs);
  const limits::Retention& retention = limits_.For(tenant).retention;
  auto shared = std::shared_ptr<objstore::Bucket>(&bucket, [](objstore::Bucket*) {});
  // Sequential reads of whole pages: large cache pages, nothing kept for long.
  cache::PageCache cache(64u << 20, nullptr, nullptr);
  cache::RangeReadOptions ropts;
  ropts.page_size = 1u << 20;
  ropts.max_gap = 1u << 20;
  std::vector<std::unique_ptr<block::BlockReader>> readers;
  std::vector<std::shared_ptr<const block::LoadedIndex>> indexes;
  std::map<Labels, std::vector<std::pair<size_t, size_t>>> streams;  // -> (source, stream)
  std::set<std::string> source_ids;
  int level = 1;
  for (size_t k = 0; k < sources.size(); ++k) {
    const auto& m = sources[k];
    readers.push_back(std::make_unique<block::BlockReader>(shared, blocks::BlockPrefix(root, m.id),
                                                           m, cache, ropts));
    auto idx = readers.back()->Index();
    if (!idx.ok()) {
      live_.LeaveOut(tenant, m.id, idx.status().ToString());
      return idx.status().Annotate(fmt::format("log block {} left out of compaction", m.id));
    }
    for (size_t s = 0; s < (*idx)->index.streams.size(); ++s) {
      streams[(*idx)->index.streams[s].labels].emplace_back(k, s);
    }
    indexes.push_back(std::move(idx).value());
    source_ids.insert(m.sources.begin(), m.sources.end());
    level = std::max(level, m.level + 1);
  }

  block::WriterOptions wopts = opts_.block;
  wopts.id = NewUlid(NowMillis() - offset_ms);  // Tidy judges abandoned uploads by it
  wopts.block_level = level;
  wopts.sources.assign(source_ids.begin(), source_ids.end());
  const std::string dir = fmt::format("{}/logs-{}-{}", opts_.work_dir, tenant, wopts.id);
  RemoveTreeOnExit remove_dir(dir);
  ASSIGN_OR_RETURN(auto writer, block::BlockWriter::Create(dir, wopts));
  uint64_t entries = 0;
  for (const auto& [labels, parts] : streams) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    const int64_t mint = Cutoff(retention.LogStreamMs(labels), now_ms);
    std::vector<Cursor> cursors;
    for (const auto& [k, s] : parts) {
      ASSIGN_OR_RETURN(auto pages, readers[k]->Pages(*indexes[k], s, mint, INT64_MAX, {}));
      cursors.push_back({readers[k].get(), indexes[k].get(), std::move(pages), 0, {}, 0, mint});
    }
    RETURN_IF_ERROR(writer->BeginStream(labels));
    std::vector<Entry> batch;
    for (;;) {
      // The cursor with the oldest next entry (the first source on ties).
      Cursor* best = nullptr;
      for (auto& c : cursors) {
        ASSIGN_OR_RETURN(bool more, c.Fill());
        if (more && (best == nullptr || c.buf[c.pos].ts_ns < best->buf[best->pos].ts_ns)) {
          best = &c;
        }
      }
      // A batch goes out between two times, so identical entries meet in one batch.
      if (!batch.empty() &&
          (best == nullptr ||
           (batch.size() >= 4096 && best->buf[best->pos].ts_ns != batch.back().ts_ns))) {
        RemoveDuplicates(batch);
        entries += batch.size();
        RETURN_IF_ERROR(writer->Add(batch));
        batch.clear();
      }
      if (best == nullptr) break;
      batch.push_back(std::move(best->buf[best->pos++]));
    }
    RETURN_IF_ERROR(writer->EndStream());
  }
  if (entries > 0) {
    ASSIGN_OR_RETURN(block::BlockMeta meta, writer->Finish());
    RETURN_IF_ERROR(blocks::UploadBlock(bucket, root, meta.id, dir, block::BlockWriter::Files(),
                                        block::EncodeMeta(meta)));
    spdlog::info(
        "msg=\"log blocks merged\" tenant={} block={} sources={} level={} entries={} "
        "stored_bytes={}",
        tenant, meta.id, sources.size(), meta.level, meta.num_entries, StoredBytes(meta));
  }
  // The output holds everything the sources hold within retention: they can go.
  for (const auto& m : sources) {
    RETURN_IF_ERROR(blocks::MarkForDeletion(bucket, root, m.id, NowMillis() - offset_ms));
  }
  return Status::Ok();
}

}  // namespace strata::logs
