#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace strata::proto {

// OpenTelemetry protocol (OTLP) requests: opentelemetry.proto.collector.{metrics,logs,trace}.v1
// Export*ServiceRequest. Field numbers are from the public opentelemetry-proto definitions;
// docs/format/otlp.md describes what Strata reads of them.
enum class OtlpSignal : uint8_t { kMetrics, kLogs, kTraces };

// "metrics", "logs" or "traces": the path segment of /v1/<signal>.
std::string_view OtlpSignalName(OtlpSignal s);

struct OtlpCounts {
  uint64_t items = 0;      // data points, log records or spans
  uint64_t log_bytes = 0;  // encoded size of log record bodies (logs only)
};

// Checks a serialized Export*ServiceRequest against the OTLP schema: every known field has its
// schema's wire type, nested messages parse, strings are UTF-8 and nesting is bounded; unknown
// fields are skipped as protobuf requires. Counts the items. The error names the message and
// field at fault.
Result<OtlpCounts> ScanOtlp(OtlpSignal signal, std::string_view data);

// Transcodes an OTLP/JSON request (the protobuf JSON mapping with OTLP's rules: lowerCamelCase
// or original field names, trace and span IDs in hex, 64-bit integers as strings or numbers,
// enums as integers or names) into the protobuf encoding. Unknown fields are ignored.
Result<std::string> OtlpJsonToProtobuf(OtlpSignal signal, std::string_view json);

// The Export*ServiceResponse reporting `rejected` items with `message`; empty (a valid empty
// message) when nothing was rejected. JSON when `json`.
std::string OtlpExportResponse(OtlpSignal signal, uint64_t rejected, std::string_view message,
                               bool json);

// Whether a trace or span ID is all zero bytes, which OTLP calls invalid.
inline bool IsZeroId(std::string_view id) {
  for (char c : id) {
    if (c != 0) return false;
  }
  return true;
}

}  // namespace strata::proto
