#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::proto {

// OTLP trace IDs are 16 bytes, span IDs 8 (opentelemetry.proto.trace.v1.Span).
inline constexpr size_t kTraceIdSize = 16;
inline constexpr size_t kSpanIdSize = 8;

// One trace's share of one ResourceSpans of a request: a serialized ResourceSpans holding the
// resource, the scopes and, byte for byte, those of their spans that belong to the trace. A
// trace is the concatenation of its fragments as the `resource_spans` (field 1) of a
// TracesData, which is also Tempo's tempopb.Trace.
struct TraceFragment {
  std::string trace_id;  // kTraceIdSize bytes
  std::string resource_spans;
  int64_t start_ns = 0;  // the earliest span start (Unix ns)
  int64_t end_ns = 0;    // the latest span end
  uint32_t spans = 0;
};

// An ExportTraceServiceRequest cut into fragments, one per trace and ResourceSpans, in the
// order traces first appear. Spans without a valid trace ID (16 bytes, not all zero) or span
// ID (8 bytes, not all zero) are left out and counted, as OTLP requires of receivers.
struct SplitTraces {
  std::vector<TraceFragment> fragments;
  uint64_t spans = 0;           // in the fragments
  uint64_t invalid = 0;         // left out
  uint64_t bytes = 0;           // the request's size
  std::string invalid_message;  // why the first one was left out
};

// Splits a serialized ExportTraceServiceRequest (checked by ScanOtlp first: this reads only
// the fields it needs). Malformed input -> kInvalidArgument.
Result<SplitTraces> SplitByTrace(std::string_view request);

// The trace held by `fragments` (serialized ResourceSpans of one trace, as SplitByTrace cut
// them, in the order stored) as a serialized TracesData: a span stored more than once (a
// client's retry) is kept once, at its first place; fragments left without spans go. The
// span count goes to `spans` when not null.
std::string AssembleTrace(const std::vector<std::string_view>& fragments, uint64_t* spans);

// One trace from several serialized TracesData holding parts of it (a head's and blocks'),
// as AssembleTrace joins fragments: each span once, at its first place.
std::string MergeTraces(const std::vector<std::string_view>& traces_data, uint64_t* spans);

// A trace's span count and time bounds, as a trace block records them.
struct TraceSummary {
  uint64_t spans = 0;
  int64_t start_ns = std::numeric_limits<int64_t>::max();  // the earliest span start (Unix ns)
  int64_t end_ns = 0;                                      // the latest span end (or start)
};
// Of a serialized TracesData; malformed input -> kCorruption.
Result<TraceSummary> SummarizeTrace(std::string_view traces_data);

// How TraceJson writes a trace.
struct TraceJsonStyle {
  std::string_view root_key = "batches";  // the name of TracesData's field 1
  bool hex_ids = false;                   // trace and span IDs in hex (OTLP/JSON); else base64
};

// A serialized TracesData as the protobuf JSON mapping writes it (jsonpb: lowerCamelCase
// names, default values left out, 64-bit integers as strings, enums by name, bytes base64),
// with `style`'s choices. Malformed input -> kCorruption.
Result<std::string> TraceJson(std::string_view traces_data, const TraceJsonStyle& style);

}  // namespace strata::proto
