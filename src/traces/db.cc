#include "traces/db.h"

#include <fmt/format.h>

#include <vector>

#include "wal/frame.h"

namespace strata::traces {

Db::~Db() { (void)Close(); }

Status Db::ApplyRecord(wal::RecordType type, std::string_view payload) {
  if (type != kFragmentsRecord) {
    return Status::Corruption(fmt::format("unknown trace WAL record type {}", type));
  }
  std::vector<Fragment> fragments;
  RETURN_IF_ERROR(DecodeFragments(payload, fragments));
  // Every logged fragment was accepted when written.
  for (const Fragment& f : fragments) (void)head_.Append(f, 0);
  return Status::Ok();
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& opts,
                                     const std::string& name) {
  std::unique_ptr<Db> db(new Db(name));
  wal::WalOptions wopts = opts.wal;
  wopts.log_name = name;
  wopts.max_record_type = kMaxRecord;
  auto wal = wal::Wal::Open(
      dir + "/wal", wopts,
      [&](wal::RecordType t, std::string_view p) { return db->ApplyRecord(t, p); },
      &db->replay_stats_);
  if (!wal.ok()) return wal.status().Annotate(fmt::format("opening trace WAL of {}", name));
  db->wal_ = std::move(wal).value();
  return db;
}

Result<AppendOutcome> Db::Append(std::span<const Fragment> fragments, const AppendLimits& limits,
                                 const RejectFn& reject) {
  AppendOutcome out;
  std::string frames;
  MutexLock lk(commit_mu_);
  RETURN_IF_ERROR(wal_->Admit());
  {
    wal::RecordBuilder rec(kFragmentsRecord, frames);
    for (size_t i = 0; i < fragments.size(); ++i) {
      const Fragment& f = fragments[i];
      if (f.resource_spans.size() > kMaxFragmentBytes) {
        reject(i, Rejection::kTooLarge);
        continue;
      }
      if (head_.Append(f, limits.max_bytes_per_trace) == Head::AppendResult::kTraceTooLarge) {
        reject(i, Rejection::kTraceTooLarge);
        continue;
      }
      EncodeFragment(rec.payload(), f);
      rec.EndEntry();
      out.spans += f.spans;
    }
  }
  out.lsn = wal_->Append(frames);
  return out;
}

Status Db::Close() {
  if (!wal_) return Status::Ok();
  return wal_->Close();
}

}  // namespace strata::traces
