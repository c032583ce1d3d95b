#include "tsdb/block/bucket_io.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tsdb/block/format.h"

namespace strata::tsdb::block {

std::string MetricsRoot(const std::string& tenant) {
  return blocks::BlocksRoot(tenant, Signal::kMetrics);
}

Status UploadBlock(objstore::Bucket& bucket, const std::string& tenant, const std::string& dir,
                   const BlockMeta& meta) {
  std::vector<std::string> files;
  files.reserve(2 * meta.shards.size());
  for (uint32_t i = 0; i < meta.shards.size(); ++i) {
    files.push_back(ChunksFile(i));
    files.push_back(IndexFile(i));
  }
  return blocks::UploadBlock(bucket, MetricsRoot(tenant), meta.id, dir, files, EncodeMeta(meta));
}

namespace {

Result<BlockMeta> Decode(const std::string& id, const std::string& raw) {
  ASSIGN_OR_RETURN(BlockMeta meta, DecodeMeta(raw));
  if (meta.id != id) {
    return Status::Corruption(fmt::format("meta.json of {} names {}", id, meta.id));
  }
  return meta;
}

}  // namespace

Result<BlockMeta> ReadMeta(objstore::Bucket& bucket, const std::string& tenant,
                           const std::string& id) {
  ASSIGN_OR_RETURN(std::string raw, bucket.Get(BlockPrefix(tenant, id) + blocks::kMetaFile));
  return Decode(id, raw);
}

Result<std::vector<std::optional<BlockMeta>>> ReadMetas(objstore::Bucket& bucket,
                                                        const std::string& tenant,
                                                        const std::vector<std::string>& ids) {
  ASSIGN_OR_RETURN(auto raws, blocks::ReadMetaFiles(bucket, MetricsRoot(tenant), ids));
  std::vector<std::optional<BlockMeta>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!raws[i]) continue;
    auto meta = Decode(ids[i], *raws[i]);
    if (meta.ok()) {
      out[i] = std::move(*meta);
    } else {
      spdlog::warn("msg=\"skipping block\" tenant={} block={} err=\"{}\"", tenant, ids[i],
                   meta.status().message());
    }
  }
  return out;
}

}  // namespace strata::tsdb::block
