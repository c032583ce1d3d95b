#include "tsdb/block/meta.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "base/json.h"
#include "base/ulid.h"
#include "blocks/meta_json.h"
#include "tsdb/block/format.h"

namespace strata::tsdb::block {

std::string EncodeMeta(const BlockMeta& m) {
  JsonWriter w;
  w.BeginObject();
  w.Key("version").Int(kFormatVersion);
  w.Key("id").String(m.id);
  w.Key("minTime").Int(m.min_time);
  w.Key("maxTime").Int(m.max_time);
  w.Key("resolution").Int(m.resolution_ms);
  w.Key("stats").BeginObject();
  w.Key("numSeries").Int(static_cast<int64_t>(m.num_series));
  w.Key("numSamples").Int(static_cast<int64_t>(m.num_samples));
  w.Key("numChunks").Int(static_cast<int64_t>(m.num_chunks));
  w.EndObject();
  blocks::WriteCompaction(w, m.level, m.sources);
  w.Key("shards").BeginArray();
  for (const auto& s : m.shards) {
    w.BeginObject();
    w.Key("series").Int(static_cast<int64_t>(s.series));
    w.Key("chunksBytes").Int(static_cast<int64_t>(s.chunks_bytes));
    w.Key("indexBytes").Int(static_cast<int64_t>(s.index_bytes));
    w.Key("ioiOffset").Int(static_cast<int64_t>(s.ioi_offset));
    w.Key("ioiLength").Int(static_cast<int64_t>(s.ioi_length));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.str().push_back('\n');
  return std::move(w.str());
}

namespace {

Status Bad(std::string_view what) { return blocks::MetaError(what); }
using blocks::MetaGet;
using blocks::MetaGetU64;

}  // namespace

Result<BlockMeta> DecodeMeta(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  RETURN_IF_ERROR(blocks::MetaParse(parser, json, root));
  BlockMeta m;
  int64_t version = 0;
  RETURN_IF_ERROR(MetaGet(root, "version", version));
  if (version != kFormatVersion) return Bad(fmt::format("unsupported version {}", version));
  std::string_view id;
  RETURN_IF_ERROR(MetaGet(root, "id", id));
  if (!IsUlid(id)) return Bad(fmt::format("id \"{}\" is not a ULID", id));
  m.id = id;
  RETURN_IF_ERROR(MetaGet(root, "minTime", m.min_time));
  RETURN_IF_ERROR(MetaGet(root, "maxTime", m.max_time));
  if (m.max_time <= m.min_time) return Bad("maxTime must be after minTime");
  RETURN_IF_ERROR(MetaGet(root, "resolution", m.resolution_ms));
  if (m.resolution_ms < 0) return Bad("negative resolution");
  simdjson::dom::object stats;
  RETURN_IF_ERROR(MetaGet(root, "stats", stats));
  RETURN_IF_ERROR(MetaGetU64(stats, "numSeries", m.num_series));
  RETURN_IF_ERROR(MetaGetU64(stats, "numSamples", m.num_samples));
  RETURN_IF_ERROR(MetaGetU64(stats, "numChunks", m.num_chunks));
  RETURN_IF_ERROR(blocks::ReadCompaction(root, m.level, m.sources));
  simdjson::dom::array shards;
  RETURN_IF_ERROR(MetaGet(root, "shards", shards));
  for (auto s : shards) {
    simdjson::dom::object so;
    if (s.get(so)) return Bad("a shard is not an object");
    ShardMeta sm;
    RETURN_IF_ERROR(MetaGetU64(so, "series", sm.series));
    RETURN_IF_ERROR(MetaGetU64(so, "chunksBytes", sm.chunks_bytes));
    RETURN_IF_ERROR(MetaGetU64(so, "indexBytes", sm.index_bytes));
    RETURN_IF_ERROR(MetaGetU64(so, "ioiOffset", sm.ioi_offset));
    RETURN_IF_ERROR(MetaGetU64(so, "ioiLength", sm.ioi_length));
    if (sm.ioi_offset + sm.ioi_length != sm.index_bytes || sm.ioi_offset < kFileHeaderSize ||
        sm.ioi_length > (1u << 30)) {
      return Bad("shard index-of-index lies outside its index");
    }
    m.shards.push_back(sm);
  }
  if (m.shards.empty() || m.shards.size() > 4096) return Bad("shard count out of range");
  return m;
}

}  // namespace strata::tsdb::block
