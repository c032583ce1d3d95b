#pragma once

#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/signal.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "blocks/lifecycle.h"
#include "blocks/tidy.h"
#include "objstore/bucket.h"

namespace strata::blocks {

// The blocks a signal's compactor works on, pass after pass: Tidy's listing, then the
// meta.json of each complete block not marked for deletion, read once and kept (a block is
// immutable). A block whose meta.json or data cannot be read is left out of every later job,
// so one damaged block does not stop a tenant's compaction. `Meta` is the signal's meta.json
// (with an `id`), `decode` reads one. Thread-safe across tenants.
template <typename Meta>
class LiveBlocks {
 public:
  using Decode = Result<Meta> (*)(std::string_view json);

  LiveBlocks(Signal signal, Decode decode, TidyOptions tidy)
      : signal_(signal), decode_(decode), tidy_(tidy) {}

  // The tenant's live blocks at `now_ms`, after Tidy's deletions (their IDs go to `deleted`,
  // also on failure), in ID order.
  Result<std::vector<Meta>> Load(objstore::Bucket& bucket, const std::string& tenant,
                                 int64_t now_ms, std::vector<std::string>& deleted) EXCLUDES(mu_) {
    const std::string root = BlocksRoot(tenant, signal_);
    std::map<std::string, int64_t> marks;
    {
      MutexLock lk(mu_);
      marks = std::move(marked_at_[tenant]);
    }
    auto listed = Tidy(bucket, root, now_ms, tidy_, deleted, marks);
    std::vector<Meta> out;
    std::vector<std::string> unknown;
    {
      MutexLock lk(mu_);
      marked_at_[tenant] = std::move(marks);
      for (const auto& id : deleted) {
        metas_.erase(id);
        left_out_.erase(id);
      }
      if (!listed.ok()) return listed.status();
      for (const auto& l : *listed) {
        if (l.marked || left_out_.count(l.id)) continue;
        auto it = metas_.find(l.id);
        if (it != metas_.end()) {
          out.push_back(it->second);
        } else {
          unknown.push_back(l.id);
        }
      }
    }
    ASSIGN_OR_RETURN(auto files, ReadMetaFiles(bucket, root, unknown));
    for (size_t i = 0; i < files.size(); ++i) {
      if (!files[i]) continue;
      auto meta = decode_(*files[i]);
      if (!meta.ok() || meta->id != unknown[i]) {
        LeaveOut(tenant, unknown[i], "unreadable meta.json");
        continue;
      }
      MutexLock lk(mu_);
      metas_[meta->id] = *meta;
      out.push_back(std::move(meta).value());
    }
    return out;
  }

  // Leaves the block out of every later job, saying why.
  void LeaveOut(const std::string& tenant, const std::string& id, std::string_view why)
      EXCLUDES(mu_) {
    spdlog::warn("msg=\"block left out of compaction\" signal={} tenant={} block={} err=\"{}\"",
                 SignalName(signal_), tenant, id, why);
    MutexLock lk(mu_);
    left_out_.insert(id);
  }

 private:
  const Signal signal_;
  const Decode decode_;
  const TidyOptions tidy_;
  Mutex mu_;
  std::map<std::string, Meta> metas_ GUARDED_BY(mu_);  // by block ID
  std::set<std::string> left_out_ GUARDED_BY(mu_);
  // Per tenant: when each block was marked for deletion (Tidy's cache).
  std::map<std::string, std::map<std::string, int64_t>> marked_at_ GUARDED_BY(mu_);
};

}  // namespace strata::blocks
