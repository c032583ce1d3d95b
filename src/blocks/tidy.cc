#include "blocks/tidy.h"

#include <spdlog/spdlog.h>

#include "base/ulid.h"

namespace strata::blocks {

Result<std::vector<ListedBlock>> Tidy(objstore::Bucket& bucket, const std::string& root,
                                      int64_t now_ms, const TidyOptions& opts,
                                      std::vector<std::string>& deleted,
                                      std::map<std::string, int64_t>& marked_at) {
  ASSIGN_OR_RETURN(std::vector<ListedBlock> listed, ListBlocks(bucket, root));
  std::vector<ListedBlock> out;
  for (const auto& l : listed) {
    if (l.marked) {
      auto cached = marked_at.find(l.id);
      if (cached == marked_at.end()) {
        auto read = ReadDeletionMark(bucket, root, l.id);
        if (!read.ok() && read.status().code() != Status::Code::kCorruption) return read.status();
        // An unreadable mark: delete now.
        cached = marked_at.emplace(l.id, read.ok() ? *read : 0).first;
      }
      if (now_ms - cached->second >= opts.deletion_delay_ms) {
        RETURN_IF_ERROR(DeleteBlock(bucket, root, l.id));
        marked_at.erase(cached);
        deleted.push_back(l.id);
        spdlog::info("msg=\"block deleted\" root={} block={}", root, l.id);
        continue;
      }
    }
    if (!l.complete) {
      if (!l.marked && now_ms - UlidTime(l.id) > opts.abandoned_upload_ms) {
        RETURN_IF_ERROR(DeleteBlock(bucket, root, l.id));
        spdlog::info("msg=\"abandoned partial block deleted\" root={} block={}", root, l.id);
      }
      continue;
    }
    out.push_back(l);
  }
  return out;
}

}  // namespace strata::blocks
