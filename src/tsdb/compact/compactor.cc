#include "tsdb/compact/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <queue>
#include <set>

#include "base/mutex.h"
#include "base/ulid.h"
#include "blocks/lifecycle.h"
#include "blocks/plan.h"
#include "blocks/tidy.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/writer.h"
#include "tsdb/compact/downsample.h"
#include "tsdb/compact/local_block.h"

namespace strata::tsdb::compact {

namespace fs = std::filesystem;

namespace {

std::string ResolutionName(int64_t res) {
  return res == 0 ? "raw" : res == kRes5m ? "5m" : res == kRes1h ? "1h" : std::to_string(res);
}

}  // namespace

Compactor::Compactor(CompactorOptions opts, const limits::TenantOverrides& limits,
                     BucketFor bucket_for, prometheus::Registry* registry)
    : opts_(std::move(opts)), limits_(limits), bucket_for_(std::move(bucket_for)) {
  if (!registry) return;
  jobs_ = &prometheus::BuildCounter()
               .Name("strata_compactor_jobs_total")
               .Help("Compaction and downsampling jobs by tenant, kind and outcome.")
               .Register(*registry);
  blocks_ = &prometheus::BuildCounter()
                 .Name("strata_compactor_blocks_total")
                 .Help("Blocks written, marked for deletion and deleted by the compactor.")
                 .Register(*registry);
  progress_ = &prometheus::BuildGauge()
                   .Name("strata_compactor_job_progress_ratio")
                   .Help("Share of the running job's source series processed (0..1).")
                   .Register(*registry);
}

Result<std::vector<Compactor::Block>> Compactor::Load(objstore::Bucket& bucket,
                                                      const std::string& tenant, int64_t now_ms,
                                                      PassStats& stats) {
  const std::string root = block::MetricsRoot(tenant);
  std::vector<std::string> deleted;
  // One pass per tenant at a time: the tenant's marks are this pass's while it runs.
  std::map<std::string, int64_t> marks;
  {
    MutexLock lk(meta_mu_);
    marks = std::move(marked_at_[tenant]);
  }
  auto tidied = blocks::Tidy(bucket, root, now_ms,
                             {opts_.deletion_delay_ms, opts_.abandoned_upload_ms}, deleted, marks);
  {
    MutexLock lk(meta_mu_);
    marked_at_[tenant] = std::move(marks);
  }
  for (const auto& id : deleted) {
    ++stats.deleted;
    if (blocks_) blocks_->Add({{"tenant", tenant}, {"action", "deleted"}}).Increment();
    MutexLock lk(meta_mu_);
    metas_.erase(id);
  }
  ASSIGN_OR_RETURN(std::vector<blocks::ListedBlock> listed, std::move(tidied));
  std::vector<Block> out;
  std::vector<std::pair<std::string, bool>> unknown;  // blocks whose meta.json is not cached
  for (const auto& l : listed) {
    bool known = false;
    {
      MutexLock lk(meta_mu_);
      auto it = metas_.find(l.id);
      if (it != metas_.end()) {
        out.push_back({it->second, l.marked});
        known = true;
      }
    }
    if (!known) unknown.push_back({l.id, l.marked});
  }
  std::vector<std::string> ids;
  ids.reserve(unknown.size());
  for (const auto& [id, marked] : unknown) ids.push_back(id);
  ASSIGN_OR_RETURN(auto metas, block::ReadMetas(bucket, tenant, ids));
  for (size_t i = 0; i < metas.size(); ++i) {
    if (!metas[i]) continue;
    {
      MutexLock lk(meta_mu_);
      metas_[ids[i]] = *metas[i];
    }
    out.push_back({std::move(*metas[i]), unknown[i].second});
  }
  std::sort(out.begin(), out.end(), [](const Block& a, const Block& b) {
    return a.meta.min_time != b.meta.min_time ? a.meta.min_time < b.meta.min_time
                                              : a.meta.id < b.meta.id;
  });
  return out;
}

Result<PassStats> Compactor::Run(const std::string& tenant, int64_t now_ms) {
  auto bucket = bucket_for_(tenant);
  PassStats stats;
  const limits::Retention& retention = limits_.For(tenant).retention;
  auto mark = [&](const block::BlockMeta& m, std::string_view why) -> Status {
    RETURN_IF_ERROR(blocks::MarkForDeletion(*bucket, block::MetricsRoot(tenant), m.id, now_ms));
    ++stats.marked;
    if (blocks_) blocks_->Add({{"tenant", tenant}, {"action", "marked"}}).Increment();
    spdlog::info("msg=\"block marked for deletion\" tenant={} block={} reason={}", tenant, m.id,
                 why);
    return Status::Ok();
  };
  // Each iteration does one job and reloads, so a crash between jobs leaves a state the
  // next pass understands.
  for (int iteration = 0; iteration < 1000; ++iteration) {
    if (stopping_) return Status::Cancelled("compactor stopping");
    ASSIGN_OR_RETURN(std::vector<Block> all, Load(*bucket, tenant, now_ms, stats));
    std::vector<const Block*> live;
    for (const auto& b : all) {
      if (!b.marked) live.push_back(&b);
    }
    std::vector<blocks::BlockInfo> infos;
    infos.reserve(live.size());
    for (const Block* b : live) {
      infos.push_back({b->meta.id, b->meta.min_time, b->meta.max_time, b->meta.level,
                       b->meta.resolution_ms, b->meta.sources});
    }
    bool did = false;
    // Blocks whose samples another block already holds.
    for (size_t i : blocks::Superseded(infos)) {
      RETURN_IF_ERROR(mark(live[i]->meta, "superseded"));
      did = true;
    }
    if (did) continue;
    auto keep_ms = [&](int64_t resolution) {
      return resolution == 0        ? retention.raw_ms
             : resolution == kRes5m ? retention.res_5m_ms
                                    : retention.res_1h_ms;
    };
    for (size_t i : blocks::Expired(infos, keep_ms, now_ms)) {
      RETURN_IF_ERROR(mark(live[i]->meta, "retention"));
      did = true;
    }
    if (did) continue;

    // Compaction of raw blocks into the next aligned range.
    if (auto merge = blocks::PlanMerge(infos, opts_.ranges)) {
      std::vector<const Block*> group;
      for (size_t i : merge->blocks) group.push_back(live[i]);
      RETURN_IF_ERROR(
          Merge(*bucket, tenant, group, merge->min_time, merge->max_time, 0, false, now_ms));
      ++stats.compacted;
      stats.marked += static_cast<int>(group.size());
      continue;
    }

    int64_t newest = INT64_MIN;
    for (const Block* b : live) {
      if (b->meta.resolution_ms == 0) newest = std::max(newest, b->meta.max_time);
    }
    // Downsampling: raw blocks old enough get a 5m copy, 5m blocks a 1h copy. The copy
    // carries the same sources, which is how a later pass knows it exists.
    for (const Block* b : live) {
      int64_t target = 0;
      if (b->meta.resolution_ms == 0 && b->meta.max_time < now_ms - opts_.downsample_5m_after_ms) {
        target = kRes5m;
      } else if (b->meta.resolution_ms == kRes5m &&
                 b->meta.max_time < now_ms - opts_.downsample_1h_after_ms) {
        target = kRes1h;
      } else {
        continue;
      }
      // Only whole ranges: a raw block still waiting for compaction is downsampled later.
      if (b->meta.resolution_ms == 0 && b->meta.max_time - b->meta.min_time < opts_.ranges.back() &&
          b->meta.max_time > newest - opts_.ranges.back()) {
        continue;
      }
      bool exists = false;
      for (const Block* other : live) {
        exists = exists || (other->meta.resolution_ms == target &&
                            std::includes(other->meta.sources.begin(), other->meta.sources.end(),
                                          b->meta.sources.begin(), b->meta.sources.end()));
      }
      if (exists) continue;
      RETURN_IF_ERROR(
          Merge(*bucket, tenant, {b}, b->meta.min_time, b->meta.max_time, target, true, now_ms));
      ++stats.downsampled;
      did = true;
      break;
    }
    if (!did) return stats;
  }
  return stats;
}

Status Compactor::Merge(objstore::Bucket& bucket, const std::string& tenant,
                        const std::vector<const Block*>& sources, int64_t min_time,
                        int64_t max_time, int64_t resolution, bool keep_sources, int64_t now_ms) {
  auto began = std::chrono::steady_clock::now();
  std::string kind = resolution == 0 ? "compact" : "downsample_" + ResolutionName(resolution);
  std::string job = fmt::format("{}/{}-{}", opts_.work_dir, tenant, NewUlid(now_ms));
  std::error_code ec;
  auto cleanup = [&] { fs::remove_all(job, ec); };
  auto fail = [&](const Status& st) {
    cleanup();
    if (jobs_) {
      std::string outcome = st.code() == Status::Code::kCancelled ? "cancelled" : "error";
      jobs_->Add({{"tenant", tenant}, {"kind", kind}, {"outcome", outcome}}).Increment();
    }
    return st.Annotate(fmt::format("{} job of tenant {}", kind, tenant));
  };

  std::vector<std::unique_ptr<LocalBlock>> local;
  std::set<std::string> srcs;
  int level = 1;
  uint64_t source_bytes = 0;
  uint64_t total_series = 0;
  for (const Block* b : sources) {
    auto lb = LocalBlock::Download(bucket, tenant, b->meta, job + "/" + b->meta.id);
    if (!lb.ok()) return fail(lb.status());
    source_bytes += (*lb)->bytes();
    total_series += b->meta.num_series;
    srcs.insert(b->meta.sources.begin(), b->meta.sources.end());
    level = std::max(level, b->meta.level + (resolution == 0 ? 1 : 0));
    local.push_back(std::move(*lb));
  }
  // Older blocks first, so a repeated timestamp keeps the older block's sample.
  std::stable_sort(local.begin(), local.end(), [](const auto& a, const auto& b) {
    return a->meta().min_time < b->meta().min_time;
  });
  struct Cursor {
    std::unique_ptr<LocalBlock::ShardIterator> it;
    size_t order;  // position of its block in `local`
  };
  std::vector<Cursor> cursors;
  for (size_t i = 0; i < local.size(); ++i) {
    for (uint32_t sh = 0; sh < local[i]->meta().shards.size(); ++sh) {
      auto it = local[i]->Shard(sh);
      if (!it.ok()) return fail(it.status());
      if ((*it)->Next()) {
        cursors.push_back({std::move(*it), i});
      } else if (!(*it)->status().ok()) {
        return fail((*it)->status());
      }
    }
  }
  auto greater = [&](size_t a, size_t b) {
    const Labels& la = cursors[a].it->labels();
    const Labels& lb = cursors[b].it->labels();
    if (la != lb) return lb < la;
    return cursors[a].order > cursors[b].order;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(greater)> heap(greater);
  for (size_t i = 0; i < cursors.size(); ++i) heap.push(i);

  block::WriterOptions wopts;
  wopts.min_time = min_time;
  wopts.max_time = max_time;
  wopts.level = level;
  wopts.sources.assign(srcs.begin(), srcs.end());
  wopts.resolution_ms = resolution;
  wopts.shards = static_cast<uint32_t>(std::clamp<uint64_t>(
      (source_bytes + opts_.shard_target_bytes - 1) / opts_.shard_target_bytes, 1, 4096));
  auto writer = block::BlockWriter::Create(job + "/out", wopts);
  if (!writer.ok()) return fail(writer.status());
  Downsampler downsampler(resolution);

  std::vector<Sample> acc;
  std::vector<Sample> more;
  std::vector<Sample> scratch;
  std::vector<histogram::HistogramSample> hacc;
  std::vector<histogram::HistogramSample> hmore;
  std::vector<histogram::HistogramSample> hscratch;
  uint64_t done = 0;
  uint64_t next_log = total_series / 10;
  auto* progress = progress_ ? &progress_->Add({{"tenant", tenant}, {"kind", kind}}) : nullptr;
  while (!heap.empty()) {
    if (stopping_) return fail(Status::Cancelled("compactor stopping"));
    size_t first = heap.top();
    heap.pop();
    Labels labels = cursors[first].it->labels();
    acc.clear();
    hacc.clear();
    std::vector<size_t> same = {first};
    while (!heap.empty() && cursors[heap.top()].it->labels() == labels) {
      same.push_back(heap.top());
      heap.pop();
    }
    block::AggrSeries aggr;
    for (size_t c : same) {
      more.clear();
      hmore.clear();
      Status read = local[cursors[c].order]->meta().resolution_ms == 0
                        ? cursors[c].it->Samples(more, hmore)
                        : cursors[c].it->Aggregates(aggr, hmore);  // one source from 5m
      if (!read.ok()) return fail(read);
      MergeByTime(acc, more, scratch);
      MergeByTime(hacc, hmore, hscratch);
      ++done;
      if (cursors[c].it->Next()) {
        heap.push(c);
      } else if (!cursors[c].it->status().ok()) {
        return fail(cursors[c].it->status());
      }
    }
    auto outside = [&](const auto& s) { return s.t < min_time || s.t >= max_time; };
    std::erase_if(acc, outside);
    std::erase_if(hacc, outside);
    Status st = resolution == 0 ? (*writer)->AddSeries(labels, acc, hacc)
                : aggr.empty()  ? downsampler.Add(**writer, labels, acc, hacc)
                                : downsampler.AddAggregated(**writer, labels, aggr, hacc);
    if (!st.ok()) return fail(st);
    if (done >= next_log && total_series > 0) {
      double ratio = static_cast<double>(done) / static_cast<double>(total_series);
      if (progress) progress->Set(ratio);
      spdlog::info("msg=\"compactor progress\" tenant={} kind={} series_done={} series_total={}",
                   tenant, kind, done, total_series);
      next_log = done + std::max<uint64_t>(1, total_series / 10);
    }
  }
  auto meta = (*writer)->Finish();
  if (!meta.ok()) return fail(meta.status());
  if (Status st = block::UploadBlock(bucket, tenant, job + "/out", *meta); !st.ok())
    return fail(st);
  if (!keep_sources) {
    for (const Block* b : sources) {
      if (Status st =
              blocks::MarkForDeletion(bucket, block::MetricsRoot(tenant), b->meta.id, now_ms);
          !st.ok()) {
        return fail(st);  // the next pass retires them as superseded
      }
      if (blocks_) blocks_->Add({{"tenant", tenant}, {"action", "marked"}}).Increment();
    }
  }
  cleanup();
  if (progress) progress->Set(1);
  if (jobs_) jobs_->Add({{"tenant", tenant}, {"kind", kind}, {"outcome", "ok"}}).Increment();
  if (blocks_) blocks_->Add({{"tenant", tenant}, {"action", "written"}}).Increment();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  began)
                .count();
  spdlog::info(
      "msg=\"compactor job done\" tenant={} kind={} block={} sources={} min_time={} max_time={} "
      "series={} samples={} source_bytes={} duration_ms={}",
      tenant, kind, meta->id, sources.size(), min_time, max_time, meta->num_series,
      meta->num_samples, source_bytes, ms);
  return Status::Ok();
}

}  // namespace strata::tsdb::compact
