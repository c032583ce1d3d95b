#include "tsdb/block/bucket_io.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "base/parallel.h"
#include "base/ulid.h"
#include "tsdb/block/format.h"

namespace strata::tsdb::block {

Status UploadBlock(objstore::Bucket& bucket, const std::string& tenant, const std::string& dir,
                   const BlockMeta& meta) {
  std::string prefix = BlockPrefix(tenant, meta.id);
  for (uint32_t i = 0; i < meta.shards.size(); ++i) {
    RETURN_IF_ERROR(bucket.PutFile(prefix + ChunksFile(i), dir + "/" + ChunksFile(i)));
    RETURN_IF_ERROR(bucket.PutFile(prefix + IndexFile(i), dir + "/" + IndexFile(i)));
  }
  return bucket.Put(prefix + kMetaFile, EncodeMeta(meta));
}

Status EnsureTenantMarker(objstore::Bucket& bucket, const std::string& tenant) {
  std::string key = tenant + "/tenant.json";
  ASSIGN_OR_RETURN(bool exists, bucket.Exists(key));
  if (exists) return Status::Ok();
  return bucket.Put(key, fmt::format("{{\"tenant\":\"{}\"}}\n", tenant));
}

Result<std::vector<ListedBlock>> ListBlocks(objstore::Bucket& bucket, const std::string& tenant) {
  ASSIGN_OR_RETURN(std::vector<objstore::ObjectInfo> objects, bucket.List(tenant + "/", true));
  std::vector<ListedBlock> out;
  for (const auto& o : objects) {
    std::string_view rest = std::string_view(o.key).substr(tenant.size() + 1);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || !IsUlid(rest.substr(0, slash))) continue;
    std::string_view id = rest.substr(0, slash);
    std::string_view file = rest.substr(slash + 1);
    if (out.empty() || out.back().id != id) out.push_back({std::string(id)});
    if (file == kMetaFile) out.back().complete = true;
    if (file == kDeletionMarkFile) out.back().marked = true;
  }
  return out;
}

Result<BlockMeta> ReadMeta(objstore::Bucket& bucket, const std::string& tenant,
                           const std::string& id) {
  ASSIGN_OR_RETURN(std::string raw, bucket.Get(BlockPrefix(tenant, id) + kMetaFile));
  ASSIGN_OR_RETURN(BlockMeta meta, DecodeMeta(raw));
  if (meta.id != id)
    return Status::Corruption(fmt::format("meta.json of {} names {}", id, meta.id));
  return meta;
}

Result<std::vector<std::optional<BlockMeta>>> ReadMetas(objstore::Bucket& bucket,
                                                        const std::string& tenant,
                                                        const std::vector<std::string>& ids) {
  constexpr size_t kParallelGets = 16;
  std::vector<std::optional<BlockMeta>> out(ids.size());
  RETURN_IF_ERROR(RunConcurrently(ids.size(), kParallelGets, [&](size_t i) -> Status {
    auto meta = ReadMeta(bucket, tenant, ids[i]);
    if (meta.ok()) {
      out[i] = std::move(*meta);
    } else if (meta.status().code() == Status::Code::kCorruption) {
      spdlog::warn("msg=\"skipping block\" tenant={} block={} err=\"{}\"", tenant, ids[i],
                   meta.status().message());
    } else if (meta.status().code() != Status::Code::kNotFound) {
      return meta.status();
    }
    return Status::Ok();
  }));
  return out;
}

Status MarkForDeletion(objstore::Bucket& bucket, const std::string& tenant, const std::string& id,
                       int64_t now_ms) {
  return bucket.Put(
      BlockPrefix(tenant, id) + kDeletionMarkFile,
      fmt::format("{{\"version\":1,\"id\":\"{}\",\"deletionTime\":{}}}\n", id, now_ms));
}

Result<int64_t> ReadDeletionMark(objstore::Bucket& bucket, const std::string& tenant,
                                 const std::string& id) {
  ASSIGN_OR_RETURN(std::string raw, bucket.Get(BlockPrefix(tenant, id) + kDeletionMarkFile));
  simdjson::dom::parser parser;
  simdjson::padded_string padded(raw);
  int64_t t = 0;
  if (parser.parse(padded)["deletionTime"].get(t) || t <= 0) {
    return Status::Corruption(fmt::format("deletion mark of {} is unreadable", id));
  }
  return t;
}

Status DeleteBlock(objstore::Bucket& bucket, const std::string& tenant, const std::string& id) {
  std::string prefix = BlockPrefix(tenant, id);
  RETURN_IF_ERROR(bucket.Delete(prefix + kMetaFile));
  ASSIGN_OR_RETURN(std::vector<objstore::ObjectInfo> objects, bucket.List(prefix, true));
  for (const auto& o : objects) {
    if (o.key != prefix + kDeletionMarkFile) RETURN_IF_ERROR(bucket.Delete(o.key));
  }
  return bucket.Delete(prefix + kDeletionMarkFile);
}

}  // namespace strata::tsdb::block
