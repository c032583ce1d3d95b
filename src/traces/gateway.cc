#include "traces/gateway.h"

#include "base/signal.h"
#include "blocks/lifecycle.h"

namespace strata::traces {

Result<std::shared_ptr<block::BlockReader>> Gateway::Open(
    const std::shared_ptr<objstore::Bucket>& bucket, const std::string& tenant,
    block::BlockMeta meta) const {
  const std::string prefix =
      blocks::BlockPrefix(blocks::BlocksRoot(tenant, Signal::kTraces), meta.id);
  auto reader =
      std::make_shared<block::BlockReader>(bucket, prefix, std::move(meta), cache_, opts_);
  RETURN_IF_ERROR(reader->Index().status());
  return reader;
}

Status Gateway::Sync(const std::string& tenant) {
  auto bucket = bucket_for_(tenant);
  return blocks_.SyncWithBucket(
      tenant, *bucket, blocks::BlocksRoot(tenant, Signal::kTraces), "trace",
      [&](const std::string& id,
          std::string_view json) -> Result<std::shared_ptr<block::BlockReader>> {
        ASSIGN_OR_RETURN(block::BlockMeta meta, block::DecodeMeta(json));
        if (meta.id != id) return Status::Corruption("id differs from its directory");
        return Open(bucket, tenant, std::move(meta));
      });
}

Status Gateway::AddBlock(const std::string& tenant, const block::BlockMeta& meta) {
  ASSIGN_OR_RETURN(auto reader, Open(bucket_for_(tenant), tenant, meta));
  blocks_.Add(tenant, meta.id, std::move(reader));
  return Status::Ok();
}

Status Gateway::FindTrace(const std::string& tenant, std::string_view trace_id,
                          std::vector<std::string>& parts, uint64_t* bytes_read) const {
  // Block IDs are ULIDs: in ID order, oldest first.
  for (const auto& reader : blocks_.Of(tenant)) {
    ASSIGN_OR_RETURN(auto found, reader->FindTrace(trace_id, bytes_read));
    if (found) parts.push_back(std::move(*found));
  }
  return Status::Ok();
}

std::vector<std::shared_ptr<block::BlockReader>> Gateway::BlocksIn(const std::string& tenant,
                                                                   int64_t start_ns,
                                                                   int64_t end_ns) const {
  const auto readers = blocks_.Of(tenant);
  std::vector<std::shared_ptr<block::BlockReader>> out;
  for (auto it = readers.rbegin(); it != readers.rend(); ++it) {
    const block::BlockMeta& m = (*it)->meta();
    if (m.max_time_ns >= start_ns && m.min_time_ns <= end_ns) out.push_back(*it);
  }
  return out;
}

std::vector<block::BlockMeta> Gateway::Blocks(const std::string& tenant) const {
  std::vector<block::BlockMeta> out;
  for (const auto& r : blocks_.Of(tenant)) out.push_back(r->meta());
  return out;
}

}  // namespace strata::traces
