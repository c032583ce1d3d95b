#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/status.h"

// Reading and writing the parts of meta.json every signal's blocks share: the field helpers
// that word errors alike, and the "compaction" object (level and source blocks).
namespace strata::blocks {

Status MetaError(std::string_view what);

template <typename T>
Status MetaGet(simdjson::dom::object obj, std::string_view key, T& out) {
  auto err = obj[key].get(out);
  if (err)
    return MetaError(std::string("\"") + std::string(key) + "\": " + simdjson::error_message(err));
  return Status::Ok();
}

Status MetaGetU64(simdjson::dom::object obj, std::string_view key, uint64_t& out);
// Parses `json` into `root`, refusing more than 16 MiB and anything but an object.
Status MetaParse(simdjson::dom::parser& parser, std::string_view json, simdjson::dom::object& root);

void WriteCompaction(JsonWriter& w, int level, const std::vector<std::string>& sources);
Status ReadCompaction(simdjson::dom::object root, int& level, std::vector<std::string>& sources);

}  // namespace strata::blocks
