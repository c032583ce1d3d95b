#include "blocks/lifecycle.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "base/parallel.h"
#include "base/ulid.h"

namespace strata::blocks {

std::string BlocksRoot(const std::string& tenant, Signal signal) {
  if (signal == Signal::kMetrics) return tenant + "/";
  return fmt::format("{}/{}/", tenant, SignalName(signal));
}

Status UploadBlock(objstore::Bucket& bucket, const std::string& root, const std::string& id,
                   const std::string& dir, std::span<const std::string> files,
                   std::string_view meta_json) {
  std::string prefix = BlockPrefix(root, id);
  for (const auto& f : files) {
    RETURN_IF_ERROR(bucket.PutFile(prefix + f, fmt::format("{}/{}", dir, f)));
  }
  return bucket.Put(prefix + kMetaFile, meta_json);
}

Status EnsureTenantMarker(objstore::Bucket& bucket, const std::string& tenant) {
  std::string key = tenant + "/tenant.json";
  ASSIGN_OR_RETURN(bool exists, bucket.Exists(key));
  if (exists) return Status::Ok();
  return bucket.Put(key, fmt::format("{{\"tenant\":\"{}\"}}\n", tenant));
}

Result<std::vector<ListedBlock>> ListBlocks(objstore::Bucket& bucket, const std::string& root) {
  ASSIGN_OR_RETURN(std::vector<objstore::ObjectInfo> objects, bucket.List(root, true));
  std::vector<ListedBlock> out;
  for (const auto& o : objects) {
    std::string_view rest = std::string_view(o.key).substr(root.size());
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

Result<std::vector<std::optional<std::string>>> ReadMetaFiles(objstore::Bucket& bucket,
                                                              const std::string& root,
                                                              const std::vector<std::string>& ids) {
  constexpr size_t kParallelGets = 16;
  std::vector<std::optional<std::string>> out(ids.size());
  RETURN_IF_ERROR(RunConcurrently(ids.size(), kParallelGets, [&](size_t i) -> Status {
    auto raw = bucket.Get(BlockPrefix(root, ids[i]) + kMetaFile);
    if (raw.ok()) {
      out[i] = std::move(*raw);
    } else if (raw.status().code() != Status::Code::kNotFound) {
      return raw.status();
    }
    return Status::Ok();
  }));
  return out;
}

Status MarkForDeletion(objstore::Bucket& bucket, const std::string& root, const std::string& id,
                       int64_t now_ms) {
  return bucket.Put(
      BlockPrefix(root, id) + kDeletionMarkFile,
      fmt::format("{{\"version\":1,\"id\":\"{}\",\"deletionTime\":{}}}\n", id, now_ms));
}

Result<int64_t> ReadDeletionMark(objstore::Bucket& bucket, const std::string& root,
                                 const std::string& id) {
  ASSIGN_OR_RETURN(std::string raw, bucket.Get(BlockPrefix(root, id) + kDeletionMarkFile));
  simdjson::dom::parser parser;
  simdjson::padded_string padded(raw);
  int64_t t = 0;
  if (parser.parse(padded)["deletionTime"].get(t) || t <= 0) {
    return Status::Corruption(fmt::format("deletion mark of {} is unreadable", id));
  }
  return t;
}

Status DeleteBlock(objstore::Bucket& bucket, const std::string& root, const std::string& id) {
  std::string prefix = BlockPrefix(root, id);
  RETURN_IF_ERROR(bucket.Delete(prefix + kMetaFile));
  ASSIGN_OR_RETURN(std::vector<objstore::ObjectInfo> objects, bucket.List(prefix, true));
  for (const auto& o : objects) {
    if (o.key != prefix + kDeletionMarkFile) RETURN_IF_ERROR(bucket.Delete(o.key));
  }
  return bucket.Delete(prefix + kDeletionMarkFile);
}

}  // namespace strata::blocks
