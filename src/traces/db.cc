#include "traces/db.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "base/file.h"
#include "base/ulid.h"
#include "base/units.h"
#include "wal/frame.h"

namespace strata::traces {

Db::~Db() { (void)Close(); }

Status Db::ApplyRecord(wal::RecordType type, std::string_view payload, int64_t now_ms) {
  if (type != kFragmentsRecord) {
    return Status::Corruption(fmt::format("unknown trace WAL record type {}", type));
  }
  std::vector<Fragment> fragments;
  RETURN_IF_ERROR(DecodeFragments(payload, fragments));
  // Every logged fragment was accepted when written.
  for (const Fragment& f : fragments) {
    (void)head_.Append(f, 0, now_ms);
    Unsealed(f.resource_spans.size(), now_ms);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& opts,
                                     const std::string& name) {
  std::unique_ptr<Db> db(new Db(opts, name));
  wal::WalOptions wopts = opts.wal;
  wopts.log_name = name;
  wopts.max_record_type = kMaxRecord;
  // Replayed traces count as appended now: they get their idle period again.
  const int64_t now_ms = NowMillis();
  auto wal = wal::Wal::Open(
      dir + "/wal", wopts,
      [&](wal::RecordType t, std::string_view p) { return db->ApplyRecord(t, p, now_ms); },
      &db->replay_stats_);
  if (!wal.ok()) return wal.status().Annotate(fmt::format("opening trace WAL of {}", name));
  db->wal_ = std::move(wal).value();
  return db;
}

void Db::Unsealed(uint64_t bytes, int64_t now_ms) {
  unsealed_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  int64_t none = 0;
  unsealed_since_ms_.compare_exchange_strong(none, now_ms, std::memory_order_relaxed);
}

Result<AppendOutcome> Db::Append(std::span<const Fragment> fragments, const AppendLimits& limits,
                                 const RejectFn& reject) {
  AppendOutcome out;
  std::string frames;
  const int64_t now_ms = NowMillis();
  MutexLock lk(commit_mu_);
  RETURN_IF_ERROR(wal_->Admit());
  uint64_t bytes = 0;
  {
    wal::RecordBuilder rec(kFragmentsRecord, frames);
    for (size_t i = 0; i < fragments.size(); ++i) {
      const Fragment& f = fragments[i];
      if (f.resource_spans.size() > kMaxFragmentBytes) {
        reject(i, Rejection::kTooLarge);
        continue;
      }
      const auto appended = head_.Append(f, limits.max_bytes_per_trace, now_ms);
      if (appended == Head::AppendResult::kTraceTooLarge) {
        reject(i, Rejection::kTraceTooLarge);
        continue;
      }
      if (appended == Head::AppendResult::kDuplicate) {
        out.duplicates += f.spans;
        continue;
      }
      EncodeFragment(rec.payload(), f);
      rec.EndEntry();
      out.stored.push_back(static_cast<uint32_t>(i));
      out.spans += f.spans;
      bytes += f.resource_spans.size();
    }
  }
  out.lsn = wal_->Append(frames);
  if (bytes > 0) Unsealed(bytes, now_ms);
  return out;
}

bool Db::CutDue(int64_t now_ms) const {
  if (unsealed_bytes_.load(std::memory_order_relaxed) >= opts_.cut_bytes) return true;
  const int64_t since = unsealed_since_ms_.load(std::memory_order_relaxed);
  return since > 0 && now_ms - since >= opts_.cut_age_ms;
}

Result<std::optional<block::BlockMeta>> Db::CutBlock(const std::string& staging_dir,
                                                     const BlockShipper& ship, bool force,
                                                     int64_t now_ms) {
  MutexLock cut(cut_mu_);
  if (checkpoint_due_) {
    RETURN_IF_ERROR(Checkpoint(checkpoint_due_->first_kept, checkpoint_due_->seq));
    checkpoint_due_.reset();
  }
  if (!pending_) {
    if (!force && !CutDue(now_ms)) return std::optional<block::BlockMeta>();
    MutexLock lk(commit_mu_);
    RETURN_IF_ERROR(wal_->Admit().Annotate("block cut skipped"));
    // Nothing idle yet: the traces keep growing, and a later tick cuts them.
    if (head_.Seal(now_ms, opts_.idle_ms, force) == 0) return std::optional<block::BlockMeta>();
    // Everything logged so far goes to segments before the new one.
    ASSIGN_OR_RETURN(uint32_t first_kept, wal_->Rotate());
    pending_ = Pending{first_kept, head_.next_seq()};
    unsealed_bytes_ = 0;
    unsealed_since_ms_ = 0;
  }
  const auto began = std::chrono::steady_clock::now();
  block::WriterOptions wopts = opts_.block;
  wopts.id = NewUlid(now_ms);
  const std::string dir = fmt::format("{}/traces-{}-{}", staging_dir, name_, wopts.id);
  // The staging copy goes whatever happens: uploaded, or written again on the next try.
  RemoveTreeOnExit remove_dir(dir);
  ASSIGN_OR_RETURN(auto writer, block::BlockWriter::Create(dir, wopts));
  // Only a cut drops sealed spans, so the sealed traces stay while it writes them.
  SealedTrace t;
  for (const std::string& id : head_.SealedIds()) {
    if (!head_.ReadSealed(id, &t)) continue;
    RETURN_IF_ERROR(writer->Add(id, t.traces_data, t.spans, t.start_ns, t.end_ns));
  }
  ASSIGN_OR_RETURN(block::BlockMeta meta, writer->Finish());
  writer.reset();
  Status st = ship(dir, meta);
  if (!st.ok()) return st.Annotate(fmt::format("shipping trace block {} of {}", meta.id, name_));
  // The block is in the bucket and readable: the head lets go of its spans. A lookup reads
  // the head before the blocks, so it finds them in one or the other.
  const uint64_t freed = head_.DropSealed();
  const Pending done = *pending_;
  pending_.reset();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - began)
                      .count();
  spdlog::info(
      "msg=\"trace block cut and shipped\" tenant={} block={} traces={} spans={} trace_bytes={} "
      "stored_bytes={} head_bytes_freed={} duration_ms={}",
      name_, meta.id, meta.num_traces, meta.num_spans, meta.trace_bytes,
      meta.index_bytes + meta.data_bytes, freed, ms);
  if (Status cp = Checkpoint(done.first_kept, done.seq); !cp.ok()) {
    checkpoint_due_ = done;
    return cp.Annotate("checkpoint after trace block cut");
  }
  return std::optional<block::BlockMeta>(std::move(meta));
}

Status Db::Checkpoint(uint32_t first_kept, uint64_t seq) {
  // Segments before `first_kept` hold the spans now in blocks and the fragments numbered
  // below `seq`: those still in the head go to the checkpoint.
  return wal_
      ->Checkpoint(first_kept,
                   [&](wal::CheckpointWriter& writer) {
                     std::string frames;
                     Status st;
                     {
                       wal::RecordBuilder rec(kFragmentsRecord, frames);
                       head_.ForEachFragmentBefore(seq, [&](const Fragment& f) {
                         if (!st.ok()) return;
                         EncodeFragment(rec.payload(), f);
                         rec.EndEntry();
                         if (frames.size() >= wal::RecordBuilder::kTargetRecordSize) {
                           rec.Flush();
                           st = writer.Add(frames);
                           frames.clear();
                         }
                       });
                     }
                     RETURN_IF_ERROR(st);
                     return writer.Add(frames);
                   })
      .status();
}

Status Db::Close() {
  if (!wal_) return Status::Ok();
  return wal_->Close();
}

}  // namespace strata::traces
