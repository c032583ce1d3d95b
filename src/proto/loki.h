#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/labels.h"
#include "base/status.h"

namespace strata::proto {

// Loki's push API (POST /loki/api/v1/push): logproto.PushRequest, snappy-compressed protobuf,
// or its JSON form. docs/format/loki-push.md describes both.
struct LokiCounts {
  uint64_t entries = 0;
  uint64_t line_bytes = 0;
};

// Checks a serialized PushRequest: every stream has a parseable, non-empty label set, entries
// have timestamps, nothing is truncated. Counts entries and line bytes.
Result<LokiCounts> ScanLokiPush(std::string_view data);

// Transcodes the JSON form ({"streams":[{"stream":{...},"values":[["<ns>","<line>"(,{...})]]}]})
// into a serialized PushRequest.
Result<std::string> LokiJsonToProtobuf(std::string_view json);

// Parses a stream's label set as Loki writes it: {name="value", ...} with Go-quoted values.
Result<Labels> ParseLokiLabels(std::string_view s);

}  // namespace strata::proto
