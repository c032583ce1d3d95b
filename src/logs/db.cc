#include "logs/db.h"

#include <fmt/format.h>

#include <limits>
#include <vector>

#include "base/math.h"
#include "logs/wal_record.h"
#include "wal/frame.h"

namespace strata::logs {

Db::~Db() { (void)Close(); }

Status Db::ApplyRecord(Head& head, wal::RecordType type, std::string_view payload) {
  switch (type) {
    case kStreamRecord:
      return index::ApplySeriesRecord(payload, head, "log stream");
    case kEntriesRecord: {
      std::vector<RefEntry> entries;
      std::vector<LabelView> metadata;
      RETURN_IF_ERROR(DecodeEntries(payload, entries, metadata));
      for (const auto& e : entries) {
        Stream* s = head.ByRef(e.ref);
        if (s == nullptr) {
          return Status::Corruption(fmt::format("log entry of unknown stream ref {}", e.ref));
        }
        // Every logged entry was accepted when written, however late it was.
        head.Append(
            *s, e.ts_ns, e.line,
            std::span<const LabelView>(metadata).subspan(e.metadata_begin, e.metadata_count),
            std::numeric_limits<int64_t>::max());
      }
      return Status::Ok();
    }
    default:
      return Status::Corruption(fmt::format("unknown log WAL record type {}", type));
  }
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& opts,
                                     const std::string& name) {
  std::unique_ptr<Db> db(new Db());
  wal::WalOptions wopts = opts.wal;
  wopts.log_name = name;
  wopts.max_record_type = kMaxRecord;
  auto wal = wal::Wal::Open(
      dir + "/wal", wopts,
      [&](wal::RecordType t, std::string_view p) { return ApplyRecord(db->head_, t, p); },
      &db->replay_stats_);
  if (!wal.ok()) return wal.status().Annotate(fmt::format("opening log WAL of {}", name));
  db->wal_ = std::move(wal).value();
  return db;
}

Result<AppendOutcome> Db::Append(std::span<const StreamInput> streams, const AppendLimits& limits,
                                 const RejectFn& reject) {
  AppendOutcome out;
  // Streams are never removed from the head, so lookups need no ordering with other appends.
  std::vector<Stream*> found(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    found[i] = head_.Find(streams[i].hash, streams[i].labels);
  }
  std::string frames;
  MutexLock lk(commit_mu_);
  RETURN_IF_ERROR(wal_->Admit());
  {
    wal::RecordBuilder stream_rec(kStreamRecord, frames);
    std::string entry_frames;
    wal::RecordBuilder entry_rec(kEntriesRecord, entry_frames);
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
        uint64_t bytes = e.line.size();
        for (const auto& m : e.metadata) bytes += m.name.size() + m.value.size();
        if (bytes > kMaxEntryBytes) {
          reject(i, &e, Rejection::kTooLarge, 0);
          continue;
        }
        switch (head_.Append(*s, e.ts_ns, e.line, e.metadata, limits.window_ns)) {
          case AppendResult::kAppended:
            EncodeEntry(entry_rec.payload(), s->ref(), e.ts_ns, e.line, e.metadata);
            entry_rec.EndEntry();
            ++out.accepted;
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
  return out;
}

Status Db::Close() {
  if (!wal_) return Status::Ok();
  return wal_->Close();
}

}  // namespace strata::logs
