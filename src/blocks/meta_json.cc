#include "blocks/meta_json.h"

#include <fmt/format.h>

#include "base/ulid.h"

namespace strata::blocks {

Status MetaError(std::string_view what) {
  return Status::Corruption(fmt::format("meta.json: {}", what));
}

Status MetaGetU64(simdjson::dom::object obj, std::string_view key, uint64_t& out) {
  int64_t v = 0;
  RETURN_IF_ERROR(MetaGet(obj, key, v));
  if (v < 0) return MetaError(fmt::format("\"{}\" is negative", key));
  out = static_cast<uint64_t>(v);
  return Status::Ok();
}

Status MetaParse(simdjson::dom::parser& parser, std::string_view json,
                 simdjson::dom::object& root) {
  if (json.size() > (16u << 20)) return MetaError("larger than 16MiB");
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc)) return MetaError(simdjson::error_message(err));
  if (doc.get(root)) return MetaError("not an object");
  return Status::Ok();
}

void WriteCompaction(JsonWriter& w, int level, const std::vector<std::string>& sources) {
  w.Key("compaction").BeginObject();
  w.Key("level").Int(level);
  w.Key("sources").BeginArray();
  for (const auto& s : sources) w.String(s);
  w.EndArray();
  w.EndObject();
}

Status ReadCompaction(simdjson::dom::object root, int& level, std::vector<std::string>& sources) {
  simdjson::dom::object compaction;
  RETURN_IF_ERROR(MetaGet(root, "compaction", compaction));
  int64_t lv = 0;
  RETURN_IF_ERROR(MetaGet(compaction, "level", lv));
  if (lv < 1 || lv > 100) return MetaError("compaction level out of range");
  level = static_cast<int>(lv);
  simdjson::dom::array list;
  RETURN_IF_ERROR(MetaGet(compaction, "sources", list));
  for (auto s : list) {
    std::string_view src;
    if (s.get(src) || !IsUlid(src)) return MetaError("a compaction source is not a ULID");
    sources.emplace_back(src);
  }
  return Status::Ok();
}

}  // namespace strata::blocks
