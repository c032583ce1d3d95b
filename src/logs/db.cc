#include "logs/db.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "base/file.h"
#include "base/math.h"
#include "base/ulid.h"
#include "base/units.h"
#include "logs/follow.h"
#include "logs/wal_record.h"
#include "wal/frame.h"

namespace strata::logs {

namespace {

uint64_t EntryBytes(std::string_view line, std::span<const LabelView> metadata) {
  uint64_t bytes = line.size();
  for (const auto& m : metadata) bytes += m.name.size() + m.value.size();
  return bytes;
}

}  // namespace

Db::~Db() { (void)Close(); }

Status Db::ApplyRecord(Replay& replay, wal::RecordType type, std::string_view payload) {
  switch (type) {
    case kStreamRecord:
      return replay.Apply(payload, "log stream");
    case kEntriesRecord: {
      std::vector<RefEntry> entries;
      std::vector<LabelView> metadata;
      RETURN_IF_ERROR(DecodeEntries(payload, entries, metadata));
      Stream::UnpackCache cache;
      for (const auto& e : entries) {
        Stream* s = replay.ByRef(e.ref);
        if (s == nullptr) {
          return Status::Corruption(fmt::format("log entry of unknown stream ref {}", e.ref));
        }
        // Every logged entry was accepted when written, however late it was.
        auto md = std::span<const LabelView>(metadata).subspan(e.metadata_begin, e.metadata_count);
        if (head_.Append(*s, e.ts_ns, e.line, md, std::numeric_limits<int64_t>::max(), cache) ==
            AppendResult::kAppended) {
          (void)Unsealed(EntryBytes(e.line, md));
        }
      }
      return Status::Ok();
    }
    default:
      return Status::Corruption(fmt::format("unknown log WAL record type {}", type));
  }
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& opts,
                                     const std::string& name) {
  std::unique_ptr<Db> db(new Db(opts, name));
  wal::WalOptions wopts = opts.wal;
  wopts.log_name = name;
  wopts.max_record_type = kMaxRecord;
  Replay replay(db->head_);
  auto wal = wal::Wal::Open(
      dir + "/wal", wopts,
      [&](wal::RecordType t, std::string_view p) { return db->ApplyRecord(replay, t, p); },
      &db->replay_stats_);
  if (!wal.ok()) return wal.status().Annotate(fmt::format("opening log WAL of {}", name));
  db->wal_ = std::move(wal).value();
  return db;
}

Result<AppendOutcome> Db::Append(std::span<const StreamInput> streams, const AppendLimits& limits,
                                 const RejectFn& reject) {
  AppendOutcome out;
  // Looked up before the lock; removals happen under it, and one since means a pointer may be
  // gone, so they are looked up again.
  const uint64_t removals = head_.removals();
  std::vector<Stream*> found(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    found[i] = head_.Find(streams[i].hash, streams[i].labels);
  }
  std::string frames;
  // What the head takes, for those following the tenant.
  std::vector<Taken> taken;
  UniqueLock lk(commit_mu_);
  RETURN_IF_ERROR(wal_->Admit());
  if (head_.removals() != removals) std::fill(found.begin(), found.end(), nullptr);
  uint64_t appended_bytes = 0;
  {
    wal::RecordBuilder stream_rec(kStreamRecord, frames);
    std::string entry_frames;
    wal::RecordBuilder entry_rec(kEntriesRecord, entry_frames);
    Stream::UnpackCache cache;
    for (size_t i = 0; i < streams.size(); ++i) {
      const StreamInput& in = streams[i];
      if (in.entries.empty()) continue;
      Stream* s = found[i] != nullptr ? found[i] : head_.Find(in.hash, in.labels);
      if (s == nullptr) {
        if (limits.max_streams > 0 && head_.num_streams() >= limits.max_streams) {
          reject(i, nullptr, Rejection::kStreamLimit, 0);
          continue;
        }
        bool created;
        s = head_.GetOrCreate(in.hash, in.labels, &created);
        if (s == nullptr) {  // 2^32 stream refs used up
          reject(i, nullptr, Rejection::kStreamLimit, 0);
          continue;
        }
        if (created) {
          index::EncodeSeries(stream_rec.payload(), s->ref(), in.labels);
          stream_rec.EndEntry();
          ++out.streams_created;
        }
      }
      for (const EntryInput& e : in.entries) {
        uint64_t bytes = EntryBytes(e.line, e.metadata);
        if (bytes > kMaxEntryBytes) {
          reject(i, &e, Rejection::kTooLarge, 0);
          continue;
        }
        switch (head_.Append(*s, e.ts_ns, e.line, e.metadata, limits.window_ns, cache)) {
          case AppendResult::kAppended:
            EncodeEntry(entry_rec.payload(), s->ref(), e.ts_ns, e.line, e.metadata);
            entry_rec.EndEntry();
            if (opts_.followers != nullptr) taken.push_back({static_cast<uint32_t>(i), &e});
            ++out.accepted;
            appended_bytes += bytes;
            break;
          case AppendResult::kDuplicate:
            ++out.duplicates;
            break;
          case AppendResult::kTooOld:
            // The stream's newest entry changes only under commit_mu_, held here.
            reject(i, &e, Rejection::kTooOld, SaturatingSub(s->max_ts(), limits.window_ns));
            break;
        }
      }
    }
    stream_rec.Flush();
    entry_rec.Flush();
    frames += entry_frames;
  }
  out.lsn = wal_->Append(frames);
  const bool due = appended_bytes > 0 && Unsealed(appended_bytes);
  // Asked once the entries are in the head: one who began following before this sees them
  // delivered, one who begins after reads them from the head.
  const bool follow = opts_.followers != nullptr && opts_.followers->Any();
  lk.unlock();
  if (follow) opts_.followers->Deliver(name_, streams, taken);
  if (due && opts_.on_cut_due) opts_.on_cut_due();
  return out;
}

bool Db::Unsealed(uint64_t bytes) {
  uint64_t before = unsealed_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  int64_t none = 0;
  unsealed_since_ms_.compare_exchange_strong(none, NowMillis(), std::memory_order_relaxed);
  return before < opts_.cut_bytes && before + bytes >= opts_.cut_bytes;
}

bool Db::CutDue(int64_t now_ms) const {
  if (unsealed_bytes_.load(std::memory_order_relaxed) >= opts_.cut_bytes) return true;
  int64_t since = unsealed_since_ms_.load(std::memory_order_relaxed);
  return since != 0 && now_ms - since >= opts_.cut_age_ms;
}

Result<std::optional<block::BlockMeta>> Db::CutBlock(const std::string& staging_dir,
                                                     const BlockShipper& ship, bool force,
                                                     int64_t now_ms) {
  MutexLock cut_lock(cut_mu_);
  if (drop_epoch_) {
    // A flush waits for the queries that may read the shipped entries from the head (they
    // end within their timeout); a periodic cut tries again on its next call.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    ASSIGN_OR_RETURN(bool dropped, MaybeDropShipped());
    while (!dropped && force && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ASSIGN_OR_RETURN(dropped, MaybeDropShipped());
    }
    if (!dropped && force) {
      return Status::Unavailable("queries still read the entries of the last block from the head");
    }
    if (!dropped) return std::optional<block::BlockMeta>();
  }
  if (checkpoint_due_) {
    RETURN_IF_ERROR(CheckpointStreams(*checkpoint_due_));
    checkpoint_due_.reset();
  }
  if (!sealed_until_) {
    if (unsealed_bytes_.load() == 0 || (!force && !CutDue(now_ms))) {
      return std::optional<block::BlockMeta>();
    }
    MutexLock lk(commit_mu_);
    RETURN_IF_ERROR(wal_->Admit().Annotate("block cut skipped"));
    // Everything logged so far goes to segments before the new one.
    ASSIGN_OR_RETURN(uint32_t first_kept, wal_->Rotate());
    seal_ = head_.SealAll();
    sealed_until_ = first_kept;
    unsealed_bytes_ = 0;
    unsealed_since_ms_ = 0;
  }
  auto began = std::chrono::steady_clock::now();
  block::WriterOptions wopts = opts_.block;
  wopts.id = NewUlid(now_ms);
  std::string dir = fmt::format("{}/logs-{}-{}", staging_dir, name_, wopts.id);
  // The staging copy goes whatever happens: uploaded, or written again on the next try.
  RemoveTreeOnExit remove_dir(dir);
  ASSIGN_OR_RETURN(auto writer, block::BlockWriter::Create(dir, wopts));
  {
    // Only the cut drops sealed entries, so the sealed streams stay while it writes them.
    std::vector<std::pair<Labels, Stream*>> streams;
    for (Stream* s : head_.Sealed()) streams.emplace_back(s->OwnedLabels(), s);
    std::sort(streams.begin(), streams.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // A batch at a time: a stream's sealed entries are packed in the head, and the writer
    // holds a page of them.
    std::vector<Entry> entries;
    for (const auto& [labels, s] : streams) {
      RETURN_IF_ERROR(writer->BeginStream(labels));
      for (size_t k = 0, n = head_.SealedBatches(*s); k < n; ++k) {
        entries.clear();
        head_.SealedBatch(*s, k, entries);
        RETURN_IF_ERROR(writer->Add(entries));
      }
      RETURN_IF_ERROR(writer->EndStream());
    }
  }
  ASSIGN_OR_RETURN(block::BlockMeta meta, writer->Finish());
  writer.reset();
  Status st = ship(dir, meta);
  if (!st.ok()) return st.Annotate(fmt::format("shipping log block {} of {}", meta.id, name_));

  // The block is in the bucket and visible: later head reads leave its entries out, and the
  // head and the WAL may let go of them.
  shipped_seal_.store(seal_, std::memory_order_release);
  drop_epoch_ = head_.AdvanceEpoch();
  RETURN_IF_ERROR(MaybeDropShipped().status());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  began)
                .count();
  spdlog::info(
      "msg=\"log block cut and shipped\" tenant={} block={} streams={} entries={} line_bytes={} "
      "stored_bytes={} duration_ms={}",
      name_, meta.id, meta.num_streams, meta.num_entries, meta.line_bytes,
      meta.index_bytes + meta.data_bytes + meta.blooms_bytes, ms);
  return std::optional<block::BlockMeta>(std::move(meta));
}

Result<bool> Db::MaybeDropShipped() {
  if (!head_.PinsDrained(*drop_epoch_)) return false;
  drop_epoch_.reset();
  std::vector<Stream*> emptied;
  size_t freed = head_.DropSealed(emptied);
  size_t removed;
  {
    MutexLock lk(commit_mu_);
    removed = head_.RemoveEmptyStreams(emptied);
  }
  const uint32_t first_kept = *sealed_until_;
  sealed_until_.reset();
  spdlog::info(
      "msg=\"log head dropped shipped entries\" tenant={} bytes_freed={} streams_removed={}", name_,
      freed, removed);
  if (Status cp = CheckpointStreams(first_kept); !cp.ok()) {
    checkpoint_due_ = first_kept;
    return cp.Annotate("checkpoint after log block cut");
  }
  return true;
}

Status Db::CheckpointStreams(uint32_t first_kept) {
  // Segments before `first_kept` hold only entries now in blocks, and stream records; the
  // records of the streams still in the head go to the checkpoint. A stream created since
  // has its record in a later segment too: replay takes the repeat as the same stream.
  Head::Pin pin = head_.PinStreams();
  return wal_
      ->Checkpoint(first_kept,
                   [&](wal::CheckpointWriter& writer) {
                     std::string frames;
                     {
                       wal::RecordBuilder rec(kStreamRecord, frames);
                       for (const Stream* s : head_.Select({})) {
                         std::vector<LabelView> labels;
                         for (const auto& l : s->labels()) {
                           labels.push_back({l.name.view(), l.value.view()});
                         }
                         index::EncodeSeries(rec.payload(), s->ref(), labels);
                         rec.EndEntry();
                         if (frames.size() >= wal::RecordBuilder::kTargetRecordSize) {
                           rec.Flush();
                           RETURN_IF_ERROR(writer.Add(frames));
                           frames.clear();
                         }
                       }
                     }
                     return writer.Add(frames);
                   })
      .status();
}

Status Db::Close() {
  if (!wal_) return Status::Ok();
  return wal_->Close();
}

}  // namespace strata::logs
