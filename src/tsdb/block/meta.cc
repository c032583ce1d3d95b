#include "tsdb/block/meta.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "base/json.h"
#include "base/ulid.h"
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
  w.Key("compaction").BeginObject();
  w.Key("level").Int(m.level);
  w.Key("sources").BeginArray();
  for (const auto& s : m.sources) w.String(s);
  w.EndArray();
  w.EndObject();
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

Status Bad(std::string_view what) { return Status::Corruption(fmt::format("meta.json: {}", what)); }

template <typename T>
Status Get(simdjson::dom::object obj, std::string_view key, T& out) {
  auto err = obj[key].get(out);
  if (err) return Bad(fmt::format("\"{}\": {}", key, simdjson::error_message(err)));
  return Status::Ok();
}

Status GetU64(simdjson::dom::object obj, std::string_view key, uint64_t& out) {
  int64_t v = 0;
  RETURN_IF_ERROR(Get(obj, key, v));
  if (v < 0) return Bad(fmt::format("\"{}\" is negative", key));
  out = static_cast<uint64_t>(v);
  return Status::Ok();
}

}  // namespace

Result<BlockMeta> DecodeMeta(std::string_view json) {
  if (json.size() > (16u << 20)) return Bad("larger than 16MiB");
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc)) return Bad(simdjson::error_message(err));
  simdjson::dom::object root;
  if (doc.get(root)) return Bad("not an object");
  BlockMeta m;
  int64_t version = 0;
  RETURN_IF_ERROR(Get(root, "version", version));
  if (version != kFormatVersion) return Bad(fmt::format("unsupported version {}", version));
  std::string_view id;
  RETURN_IF_ERROR(Get(root, "id", id));
  if (!IsUlid(id)) return Bad(fmt::format("id \"{}\" is not a ULID", id));
  m.id = id;
  RETURN_IF_ERROR(Get(root, "minTime", m.min_time));
  RETURN_IF_ERROR(Get(root, "maxTime", m.max_time));
  if (m.max_time <= m.min_time) return Bad("maxTime must be after minTime");
  RETURN_IF_ERROR(Get(root, "resolution", m.resolution_ms));
  if (m.resolution_ms < 0) return Bad("negative resolution");
  simdjson::dom::object stats;
  RETURN_IF_ERROR(Get(root, "stats", stats));
  RETURN_IF_ERROR(GetU64(stats, "numSeries", m.num_series));
  RETURN_IF_ERROR(GetU64(stats, "numSamples", m.num_samples));
  RETURN_IF_ERROR(GetU64(stats, "numChunks", m.num_chunks));
  simdjson::dom::object compaction;
  RETURN_IF_ERROR(Get(root, "compaction", compaction));
  int64_t level = 0;
  RETURN_IF_ERROR(Get(compaction, "level", level));
  if (level < 1 || level > 100) return Bad("compaction level out of range");
  m.level = static_cast<int>(level);
  simdjson::dom::array sources;
  RETURN_IF_ERROR(Get(compaction, "sources", sources));
  for (auto s : sources) {
    std::string_view src;
    if (s.get(src) || !IsUlid(src)) return Bad("a compaction source is not a ULID");
    m.sources.emplace_back(src);
  }
  simdjson::dom::array shards;
  RETURN_IF_ERROR(Get(root, "shards", shards));
  for (auto s : shards) {
    simdjson::dom::object so;
    if (s.get(so)) return Bad("a shard is not an object");
    ShardMeta sm;
    RETURN_IF_ERROR(GetU64(so, "series", sm.series));
    RETURN_IF_ERROR(GetU64(so, "chunksBytes", sm.chunks_bytes));
    RETURN_IF_ERROR(GetU64(so, "indexBytes", sm.index_bytes));
    RETURN_IF_ERROR(GetU64(so, "ioiOffset", sm.ioi_offset));
    RETURN_IF_ERROR(GetU64(so, "ioiLength", sm.ioi_length));
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
