#pragma once

// A trace as TraceQL sees it: its spans with their intrinsics and attributes, decoded from the
// serialized TracesData the trace store keeps, with the tree facts structural operators and
// Tempo's nested-set intrinsics need.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "traceql/ast.h"

namespace strata::traceql {

// Attribute values as TraceQL compares them: strings, ints, floats and bools as they are;
// arrays, maps and bytes in their OTLP string form.
using Attrs = std::vector<std::pair<std::string, Static>>;

struct SpanEvent {
  std::string name;
  int64_t time_ns = 0;
  Attrs attrs;
};

struct SpanLink {
  std::string trace_id, span_id;  // raw bytes
  Attrs attrs;
};

struct InstrumentationScope {
  std::string name, version;
  Attrs attrs;
};

struct Span {
  std::string span_id, parent_id;  // raw bytes; parent_id empty for a root
  std::string trace_state;         // W3C tracestate (tail sampling's trace_state policy)
  std::string name;
  SpanKind kind = SpanKind::kUnspecified;
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;
  int64_t start_ns = 0, end_ns = 0;
  uint32_t size = 0;      // bytes of its Span message
  uint32_t resource = 0;  // index into Trace::resources
  uint32_t scope = 0;     // index into Trace::scopes
  Attrs attrs;
  std::vector<SpanEvent> events;
  std::vector<SpanLink> links;
  // The tree: the parent's index (-1: none stored), direct children, and Tempo's nested set
  // (left and right numbers of a depth-first walk from 1; parent: the parent's left, -1 for
  // roots).
  int32_t parent = -1;
  int32_t child_count = 0;
  int32_t nested_left = 0, nested_right = 0, nested_parent = -1;
};

struct Trace {
  std::string id;  // 16 raw bytes
  std::vector<Attrs> resources;
  std::vector<InstrumentationScope> scopes;
  std::vector<Span> spans;
  int64_t start_ns = 0, end_ns = 0;  // the earliest start, the latest end
  // The root span's (the first span without a parent) name and service.name; empty if none.
  std::string root_name, root_service;
};

// An OTLP AnyValue as TraceQL sees it (*out empty when it holds none); false when malformed.
bool DecodeAnyValue(std::string_view any, std::optional<Static>* out);
// The KeyValues in `field` of message `msg` (1 of a Resource), those without a value left
// out; false when malformed.
bool DecodeAttrs(std::string_view msg, uint32_t field, Attrs& out);
// OTLP's span kinds and status codes as TraceQL's.
SpanKind KindOf(uint64_t otlp);
SpanStatus StatusOf(uint64_t otlp);

// Decodes a serialized TracesData (resource_spans, field 1) into a Trace. Malformed input ->
// kCorruption.
Result<Trace> DecodeTrace(std::string_view traces_data);

// The value `attr` has on span `s` of `t` (for event and link scopes, on its `event`th event or
// `link`th link, -1 for none); nil when it has none. Unscoped attributes are looked for on
// the span, then its resource.
Static Lookup(const Trace& t, const Span& s, const Attribute& attr, int event, int link);

// Lowercase hex of raw ID bytes, as TraceQL compares IDs (trace IDs without leading zeros).
std::string HexId(std::string_view raw);

}  // namespace strata::traceql
