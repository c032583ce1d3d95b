#include "logs/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/math.h"
#include "base/signal.h"
#include "base/ulid.h"
#include "blocks/lifecycle.h"
#include "blocks/plan.h"
#include "cache/page_cache.h"
#include "logs/block/reader.h"

namespace strata::logs {

namespace {

constexpr int64_t kNsPerMs = 1'000'000;

// What compaction planning needs of a log block's meta.json: times in ms, [min, max).
blocks::BlockInfo InfoOf(const block::BlockMeta& m) {
  return {m.id,
          FloorDiv(m.min_time_ns, kNsPerMs),
          FloorDiv(m.max_time_ns, kNsPerMs) + 1,
          m.level,
          0,
          m.sources};
}

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
                                                      const std::string& root, int64_t now_ms,
                                                      CompactorStats& stats) {
  std::vector<std::string> deleted;
  ASSIGN_OR_RETURN(auto listed, blocks::Tidy(bucket, root, now_ms, opts_.tidy, deleted));
  std::vector<block::BlockMeta> out;
  std::vector<std::string> unknown;
  {
    MutexLock lk(meta_mu_);
    for (const auto& id : deleted) metas_.erase(id);
    for (const auto& l : listed) {
      if (l.marked) continue;
      auto it = metas_.find(l.id);
      if (it != metas_.end()) {
        out.push_back(it->second);
      } else {
        unknown.push_back(l.id);
      }
    }
  }
  stats.deleted += static_cast<int>(deleted.size());
  ASSIGN_OR_RETURN(auto files, blocks::ReadMetaFiles(bucket, root, unknown));
  for (size_t i = 0; i < files.size(); ++i) {
    if (!files[i]) continue;
    auto meta = block::DecodeMeta(*files[i]);
    if (!meta.ok() || meta->id != unknown[i]) {
      spdlog::warn("msg=\"log block left out: unreadable meta.json\" root={} block={}", root,
                   unknown[i]);
      continue;
    }
    MutexLock lk(meta_mu_);
    metas_[meta->id] = *meta;
    out.push_back(std::move(meta).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.min_time_ns != b.min_time_ns ? a.min_time_ns < b.min_time_ns : a.id < b.id;
  });
  return out;
}

Result<CompactorStats> Compactor::Run(const std::string& tenant, int64_t now_ms) {
  auto bucket = bucket_for_(tenant);
  const std::string root = blocks::BlocksRoot(tenant, Signal::kLogs);
  const limits::Retention& retention = limits_.For(tenant).retention;
  const int64_t now_ns = SaturatingMul(now_ms, kNsPerMs);
  CompactorStats stats;
  auto mark = [&](const block::BlockMeta& m, std::string_view why) -> Status {
    RETURN_IF_ERROR(blocks::MarkForDeletion(*bucket, root, m.id, now_ms));
    ++stats.marked;
    spdlog::info("msg=\"log block marked for deletion\" tenant={} block={} reason={}", tenant, m.id,
                 why);
    return Status::Ok();
  };
  // The shortest retention any stream can have (0: none).
  int64_t shortest_ms = retention.logs_ms;
  for (const auto& r : retention.log_streams) {
    if (r.period_ms > 0 && (shortest_ms == 0 || r.period_ms < shortest_ms)) {
      shortest_ms = r.period_ms;
    }
  }
  // One job per iteration, then reload: a crash between jobs leaves a state the next pass
  // understands.
  for (int iteration = 0; iteration < 1000; ++iteration) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    ASSIGN_OR_RETURN(std::vector<block::BlockMeta> live, Load(*bucket, root, now_ms, stats));
    std::vector<blocks::BlockInfo> infos;
    infos.reserve(live.size());
    for (const auto& m : live) infos.push_back(InfoOf(m));
    bool did = false;
    for (size_t i : blocks::Superseded(infos)) {
      RETURN_IF_ERROR(mark(live[i], "superseded"));
      did = true;
    }
    if (did) continue;

    // Retention: a block whose entries are all past their streams' retention is retired; one
    // with some past it is written again without them.
    if (shortest_ms > 0) {
      const int64_t first_cutoff = SaturatingSub(now_ns, SaturatingMul(shortest_ms, kNsPerMs));
      for (const auto& m : live) {
        if (m.min_time_ns >= first_cutoff) continue;
        bool all_expired = true, some_expired = false;
        if (retention.log_streams.empty()) {
          all_expired = m.max_time_ns < first_cutoff;
          some_expired = true;
        } else {
          cache::PageCache cache(4u << 20, nullptr, nullptr);
          block::BlockReader reader(bucket, blocks::BlockPrefix(root, m.id), m, cache, {});
          ASSIGN_OR_RETURN(auto idx, reader.Index());
          for (const auto& s : idx->index.streams) {
            int64_t keep_ms = retention.LogStreamMs(s.labels);
            int64_t cutoff =
                keep_ms > 0 ? SaturatingSub(now_ns, SaturatingMul(keep_ms, kNsPerMs)) : INT64_MIN;
            const auto& first = idx->index.pages[s.first_page];
            const auto& last = idx->index.pages[s.first_page + s.num_pages - 1];
            some_expired = some_expired || first.min_ts < cutoff;
            all_expired = all_expired && last.max_ts < cutoff;
          }
        }
        if (all_expired) {
          RETURN_IF_ERROR(mark(m, "retention"));
          did = true;
          break;
        }
        if (some_expired) {
          RETURN_IF_ERROR(Merge(*bucket, tenant, {m}, now_ms));
          ++stats.rewritten;
          ++stats.marked;
          did = true;
          break;
        }
      }
      if (did) continue;
    }

    // Merging: the small blocks of one day, once the day is over or they add up to a block.
    const int64_t day_ns = SaturatingMul(opts_.day_ms, kNsPerMs);
    std::map<int64_t, std::vector<const block::BlockMeta*>> days;
    for (const auto& m : live) {
      if (StoredBytes(m) < opts_.large_block_bytes) {
        days[FloorDiv(m.min_time_ns, day_ns)].push_back(&m);
      }
    }
    for (const auto& [day, group] : days) {
      if (group.size() < 2) continue;
      uint64_t total = 0;
      for (const auto* m : group) total += StoredBytes(*m);
      bool over = SaturatingAdd(SaturatingMul(day + 1, day_ns),
                                SaturatingMul(opts_.settle_ms, kNsPerMs)) <= now_ns;
      if (!over && total < opts_.max_block_bytes) continue;
      std::vector<block::BlockMeta> job;
      uint64_t bytes = 0;
      for (const auto* m : group) {
        if (job.size() >= 2 && bytes + StoredBytes(*m) > opts_.max_block_bytes) break;
        job.push_back(*m);
        bytes += StoredBytes(*m);
      }
      RETURN_IF_ERROR(Merge(*bucket, tenant, job, now_ms));
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
                        const std::vector<block::BlockMeta>& sources, int64_t now_ms) {
  const std::string root = blocks::BlocksRoot(tenant, Signal::kLogs);
  const limits::Retention& retention = limits_.For(tenant).retention;
  const int64_t now_ns = SaturatingMul(now_ms, kNsPerMs);
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
    ASSIGN_OR_RETURN(auto idx, readers.back()->Index());
    for (size_t s = 0; s < idx->index.streams.size(); ++s) {
      streams[idx->index.streams[s].labels].emplace_back(k, s);
    }
    indexes.push_back(std::move(idx));
    source_ids.insert(m.sources.begin(), m.sources.end());
    level = std::max(level, m.level + 1);
  }

  block::WriterOptions wopts = opts_.block;
  wopts.id = NewUlid(now_ms);
  wopts.block_level = level;
  wopts.sources.assign(source_ids.begin(), source_ids.end());
  const std::string dir = fmt::format("{}/logs-{}-{}", opts_.work_dir, tenant, wopts.id);
  struct RemoveDir {
    const std::string& dir;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{dir};
  ASSIGN_OR_RETURN(auto writer, block::BlockWriter::Create(dir, wopts));
  uint64_t entries = 0;
  for (const auto& [labels, parts] : streams) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    const int64_t keep_ms = retention.LogStreamMs(labels);
    const int64_t mint =
        keep_ms > 0 ? SaturatingSub(now_ns, SaturatingMul(keep_ms, kNsPerMs)) : INT64_MIN;
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
    RETURN_IF_ERROR(blocks::MarkForDeletion(bucket, root, m.id, now_ms));
  }
  return Status::Ok();
}

}  // namespace strata::logs
