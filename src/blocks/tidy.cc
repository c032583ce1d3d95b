#include "blocks/tidy.h"

#include <spdlog/spdlog.h>

#include "base/ulid.h"

namespace strata::blocks {

Result<std::vector<ListedBlock>> Tidy(objstore::Bucket& bucket, const std::string& root,
                                      int64_t now_ms, const TidyOptions& opts,
                                      std::vector<std::string>& deleted) {
  ASSIGN_OR_RETURN(std::vector<ListedBlock> listed, ListBlocks(bucket, root));
  std::vector<ListedBlock> out;
  for (const auto& l : listed) {
    if (l.marked) {
      auto marked_at = ReadDeletionMark(bucket, root, l.id);
      int64_t at = marked_at.ok() ? *marked_at : 0;  // an unreadable mark: delete now
      if (!marked_at.ok() && marked_at.status().code() != Status::Code::kCorruption) {
        return marked_at.status();
      }
      if (now_ms - at >= opts.deletion_delay_ms) {
        RETURN_IF_ERROR(DeleteBlock(bucket, root, l.id));
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
