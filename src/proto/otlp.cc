#include "proto/otlp.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "base/encoding.h"
#include "base/json.h"
#include "base/labels.h"
#include "proto/otlp_traces.h"
#include "proto/wire.h"

namespace strata::proto {

namespace {

// Deeper nesting than this (AnyValue arrays and maps nest freely) is refused.
constexpr int kMaxDepth = 64;

enum class Type : uint8_t {
  kMessage,
  kString,
  kBytes,  // base64 in JSON
  kId,     // trace and span IDs: hex in JSON
  kInt64,
  kUint64,
  kInt32,
  kUint32,
  kEnum,
  kBool,
  kSint32,
  kFixed64,
  kSfixed64,
  kFixed32,
  kDouble,
  kPackedFixed64,
  kPackedDouble,
  kPackedUint64,
};

struct MessageDef;

struct FieldDef {
  uint32_t number;
  Type type;
  bool repeated;
  std::string_view json;   // lowerCamelCase
  std::string_view snake;  // the .proto name, also accepted in JSON
  const MessageDef* message = nullptr;
  std::span<const std::string_view> enum_names = {};  // index = value
  bool log_bytes = false;                             // its encoded size counts as log bytes
};

struct MessageDef {
  std::string_view name;
  std::span<const FieldDef> fields;
  bool item = false;   // one data point, log record or span
  bool oneof = false;  // the fields are one oneof: a value is written even when it is zero

  const FieldDef* Find(uint32_t number) const {
    for (const auto& f : fields) {
      if (f.number == number) return &f;
    }
    return nullptr;
  }
  const FieldDef* Find(std::string_view key) const {
    for (const auto& f : fields) {
      if (f.json == key || f.snake == key) return &f;
    }
    return nullptr;
  }
};

WireType WireTypeOf(Type t) {
  switch (t) {
    case Type::kMessage:
    case Type::kString:
    case Type::kBytes:
    case Type::kId:
    case Type::kPackedFixed64:
    case Type::kPackedDouble:
    case Type::kPackedUint64:
      return WireType::kLen;
    case Type::kFixed64:
    case Type::kSfixed64:
    case Type::kDouble:
      return WireType::kFixed64;
    case Type::kFixed32:
      return WireType::kFixed32;
    default:
      return WireType::kVarint;
  }
}

// The wire type of one element of a packed field, as sent unpacked.
WireType ElementWireType(Type t) {
  return t == Type::kPackedUint64 ? WireType::kVarint : WireType::kFixed64;
}
bool IsPacked(Type t) {
  return t == Type::kPackedFixed64 || t == Type::kPackedDouble || t == Type::kPackedUint64;
}

// ---- The OTLP schema (opentelemetry-proto v1) ----

// AnyValue and KeyValue nest in each other through ArrayValue and KeyValueList.
extern const MessageDef kAnyValue;  // NOLINT(readability-identifier-naming): defined below
extern const MessageDef kKeyValue;  // NOLINT(readability-identifier-naming): defined below

constexpr FieldDef kArrayValueFields[] = {
    {1, Type::kMessage, true, "values", "values", &kAnyValue},
};
constexpr MessageDef kArrayValue{"ArrayValue", kArrayValueFields};

constexpr FieldDef kKeyValueListFields[] = {
    {1, Type::kMessage, true, "values", "values", &kKeyValue},
};
constexpr MessageDef kKeyValueList{"KeyValueList", kKeyValueListFields};

constexpr FieldDef kAnyValueFields[] = {
    {1, Type::kString, false, "stringValue", "string_value"},
    {2, Type::kBool, false, "boolValue", "bool_value"},
    {3, Type::kInt64, false, "intValue", "int_value"},
    {4, Type::kDouble, false, "doubleValue", "double_value"},
    {5, Type::kMessage, false, "arrayValue", "array_value", &kArrayValue},
    {6, Type::kMessage, false, "kvlistValue", "kvlist_value", &kKeyValueList},
    {7, Type::kBytes, false, "bytesValue", "bytes_value"},
};
constexpr MessageDef kAnyValue{"AnyValue", kAnyValueFields, false, true};

constexpr FieldDef kKeyValueFields[] = {
    {1, Type::kString, false, "key", "key"},
    {2, Type::kMessage, false, "value", "value", &kAnyValue},
};
constexpr MessageDef kKeyValue{"KeyValue", kKeyValueFields};

constexpr FieldDef kResourceFields[] = {
    {1, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {2, Type::kUint32, false, "droppedAttributesCount", "dropped_attributes_count"},
};
constexpr MessageDef kResource{"Resource", kResourceFields};

constexpr FieldDef kScopeFields[] = {
    {1, Type::kString, false, "name", "name"},
    {2, Type::kString, false, "version", "version"},
    {3, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {4, Type::kUint32, false, "droppedAttributesCount", "dropped_attributes_count"},
};
constexpr MessageDef kScope{"InstrumentationScope", kScopeFields};

// Metrics.
constexpr std::string_view kTemporalityNames[] = {"AGGREGATION_TEMPORALITY_UNSPECIFIED",
                                                  "AGGREGATION_TEMPORALITY_DELTA",
                                                  "AGGREGATION_TEMPORALITY_CUMULATIVE"};

constexpr FieldDef kExemplarFields[] = {
    {7, Type::kMessage, true, "filteredAttributes", "filtered_attributes", &kKeyValue},
    {2, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {3, Type::kDouble, false, "asDouble", "as_double"},
    {6, Type::kSfixed64, false, "asInt", "as_int"},
    {4, Type::kId, false, "spanId", "span_id"},
    {5, Type::kId, false, "traceId", "trace_id"},
};
constexpr MessageDef kExemplar{"Exemplar", kExemplarFields};

constexpr FieldDef kNumberPointFields[] = {
    {7, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {2, Type::kFixed64, false, "startTimeUnixNano", "start_time_unix_nano"},
    {3, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {4, Type::kDouble, false, "asDouble", "as_double"},
    {6, Type::kSfixed64, false, "asInt", "as_int"},
    {5, Type::kMessage, true, "exemplars", "exemplars", &kExemplar},
    {8, Type::kUint32, false, "flags", "flags"},
};
constexpr MessageDef kNumberPoint{"NumberDataPoint", kNumberPointFields, true};

constexpr FieldDef kHistogramPointFields[] = {
    {9, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {2, Type::kFixed64, false, "startTimeUnixNano", "start_time_unix_nano"},
    {3, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {4, Type::kFixed64, false, "count", "count"},
    {5, Type::kDouble, false, "sum", "sum"},
    {6, Type::kPackedFixed64, true, "bucketCounts", "bucket_counts"},
    {7, Type::kPackedDouble, true, "explicitBounds", "explicit_bounds"},
    {8, Type::kMessage, true, "exemplars", "exemplars", &kExemplar},
    {10, Type::kUint32, false, "flags", "flags"},
    {11, Type::kDouble, false, "min", "min"},
    {12, Type::kDouble, false, "max", "max"},
};
constexpr MessageDef kHistogramPoint{"HistogramDataPoint", kHistogramPointFields, true};

constexpr FieldDef kBucketsFields[] = {
    {1, Type::kSint32, false, "offset", "offset"},
    {2, Type::kPackedUint64, true, "bucketCounts", "bucket_counts"},
};
constexpr MessageDef kBuckets{"ExponentialHistogramDataPoint.Buckets", kBucketsFields};

constexpr FieldDef kExpHistogramPointFields[] = {
    {1, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {2, Type::kFixed64, false, "startTimeUnixNano", "start_time_unix_nano"},
    {3, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {4, Type::kFixed64, false, "count", "count"},
    {5, Type::kDouble, false, "sum", "sum"},
    {6, Type::kSint32, false, "scale", "scale"},
    {7, Type::kFixed64, false, "zeroCount", "zero_count"},
    {8, Type::kMessage, false, "positive", "positive", &kBuckets},
    {9, Type::kMessage, false, "negative", "negative", &kBuckets},
    {10, Type::kUint32, false, "flags", "flags"},
    {11, Type::kMessage, true, "exemplars", "exemplars", &kExemplar},
    {12, Type::kDouble, false, "min", "min"},
    {13, Type::kDouble, false, "max", "max"},
    {14, Type::kDouble, false, "zeroThreshold", "zero_threshold"},
};
constexpr MessageDef kExpHistogramPoint{"ExponentialHistogramDataPoint", kExpHistogramPointFields,
                                        true};

constexpr FieldDef kQuantileFields[] = {
    {1, Type::kDouble, false, "quantile", "quantile"},
    {2, Type::kDouble, false, "value", "value"},
};
constexpr MessageDef kQuantile{"SummaryDataPoint.ValueAtQuantile", kQuantileFields};

constexpr FieldDef kSummaryPointFields[] = {
    {7, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {2, Type::kFixed64, false, "startTimeUnixNano", "start_time_unix_nano"},
    {3, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {4, Type::kFixed64, false, "count", "count"},
    {5, Type::kDouble, false, "sum", "sum"},
    {6, Type::kMessage, true, "quantileValues", "quantile_values", &kQuantile},
    {8, Type::kUint32, false, "flags", "flags"},
};
constexpr MessageDef kSummaryPoint{"SummaryDataPoint", kSummaryPointFields, true};

constexpr FieldDef kGaugeFields[] = {
    {1, Type::kMessage, true, "dataPoints", "data_points", &kNumberPoint},
};
constexpr MessageDef kGauge{"Gauge", kGaugeFields};

constexpr FieldDef kSumFields[] = {
    {1, Type::kMessage, true, "dataPoints", "data_points", &kNumberPoint},
    {2, Type::kEnum, false, "aggregationTemporality", "aggregation_temporality", nullptr,
     kTemporalityNames},
    {3, Type::kBool, false, "isMonotonic", "is_monotonic"},
};
constexpr MessageDef kSum{"Sum", kSumFields};

constexpr FieldDef kHistogramFields[] = {
    {1, Type::kMessage, true, "dataPoints", "data_points", &kHistogramPoint},
    {2, Type::kEnum, false, "aggregationTemporality", "aggregation_temporality", nullptr,
     kTemporalityNames},
};
constexpr MessageDef kHistogram{"Histogram", kHistogramFields};

constexpr FieldDef kExpHistogramFields[] = {
    {1, Type::kMessage, true, "dataPoints", "data_points", &kExpHistogramPoint},
    {2, Type::kEnum, false, "aggregationTemporality", "aggregation_temporality", nullptr,
     kTemporalityNames},
};
constexpr MessageDef kExpHistogram{"ExponentialHistogram", kExpHistogramFields};

constexpr FieldDef kSummaryFields[] = {
    {1, Type::kMessage, true, "dataPoints", "data_points", &kSummaryPoint},
};
constexpr MessageDef kSummary{"Summary", kSummaryFields};

constexpr FieldDef kMetricFields[] = {
    {1, Type::kString, false, "name", "name"},
    {2, Type::kString, false, "description", "description"},
    {3, Type::kString, false, "unit", "unit"},
    {5, Type::kMessage, false, "gauge", "gauge", &kGauge},
    {7, Type::kMessage, false, "sum", "sum", &kSum},
    {9, Type::kMessage, false, "histogram", "histogram", &kHistogram},
    {10, Type::kMessage, false, "exponentialHistogram", "exponential_histogram", &kExpHistogram},
    {11, Type::kMessage, false, "summary", "summary", &kSummary},
    {12, Type::kMessage, true, "metadata", "metadata", &kKeyValue},
};
constexpr MessageDef kMetric{"Metric", kMetricFields};

constexpr FieldDef kScopeMetricsFields[] = {
    {1, Type::kMessage, false, "scope", "scope", &kScope},
    {2, Type::kMessage, true, "metrics", "metrics", &kMetric},
    {3, Type::kString, false, "schemaUrl", "schema_url"},
};
constexpr MessageDef kScopeMetrics{"ScopeMetrics", kScopeMetricsFields};

constexpr FieldDef kResourceMetricsFields[] = {
    {1, Type::kMessage, false, "resource", "resource", &kResource},
    {2, Type::kMessage, true, "scopeMetrics", "scope_metrics", &kScopeMetrics},
    {3, Type::kString, false, "schemaUrl", "schema_url"},
};
constexpr MessageDef kResourceMetrics{"ResourceMetrics", kResourceMetricsFields};

constexpr FieldDef kMetricsRequestFields[] = {
    {1, Type::kMessage, true, "resourceMetrics", "resource_metrics", &kResourceMetrics},
};
constexpr MessageDef kMetricsRequest{"ExportMetricsServiceRequest", kMetricsRequestFields};

// Logs.
constexpr std::array<std::string_view, 25> kSeverityNames = {
    "SEVERITY_NUMBER_UNSPECIFIED", "SEVERITY_NUMBER_TRACE",  "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",      "SEVERITY_NUMBER_TRACE4", "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",      "SEVERITY_NUMBER_DEBUG3", "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",        "SEVERITY_NUMBER_INFO2",  "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",       "SEVERITY_NUMBER_WARN",   "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",       "SEVERITY_NUMBER_WARN4",  "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",      "SEVERITY_NUMBER_ERROR3", "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",       "SEVERITY_NUMBER_FATAL2", "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
};

constexpr FieldDef kLogRecordFields[] = {
    {1, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {11, Type::kFixed64, false, "observedTimeUnixNano", "observed_time_unix_nano"},
    {2, Type::kEnum, false, "severityNumber", "severity_number", nullptr, kSeverityNames},
    {3, Type::kString, false, "severityText", "severity_text"},
    {5, Type::kMessage, false, "body", "body", &kAnyValue, {}, true},
    {6, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {7, Type::kUint32, false, "droppedAttributesCount", "dropped_attributes_count"},
    {8, Type::kFixed32, false, "flags", "flags"},
    {9, Type::kId, false, "traceId", "trace_id"},
    {10, Type::kId, false, "spanId", "span_id"},
    {12, Type::kString, false, "eventName", "event_name"},
};
constexpr MessageDef kLogRecord{"LogRecord", kLogRecordFields, true};

constexpr FieldDef kScopeLogsFields[] = {
    {1, Type::kMessage, false, "scope", "scope", &kScope},
    {2, Type::kMessage, true, "logRecords", "log_records", &kLogRecord},
    {3, Type::kString, false, "schemaUrl", "schema_url"},
};
constexpr MessageDef kScopeLogs{"ScopeLogs", kScopeLogsFields};

constexpr FieldDef kResourceLogsFields[] = {
    {1, Type::kMessage, false, "resource", "resource", &kResource},
    {2, Type::kMessage, true, "scopeLogs", "scope_logs", &kScopeLogs},
    {3, Type::kString, false, "schemaUrl", "schema_url"},
};
constexpr MessageDef kResourceLogs{"ResourceLogs", kResourceLogsFields};

constexpr FieldDef kLogsRequestFields[] = {
    {1, Type::kMessage, true, "resourceLogs", "resource_logs", &kResourceLogs},
};
constexpr MessageDef kLogsRequest{"ExportLogsServiceRequest", kLogsRequestFields};

// Traces.
constexpr std::string_view kSpanKindNames[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};
constexpr std::string_view kStatusCodeNames[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                                 "STATUS_CODE_ERROR"};

constexpr FieldDef kEventFields[] = {
    {1, Type::kFixed64, false, "timeUnixNano", "time_unix_nano"},
    {2, Type::kString, false, "name", "name"},
    {3, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {4, Type::kUint32, false, "droppedAttributesCount", "dropped_attributes_count"},
};
constexpr MessageDef kEvent{"Span.Event", kEventFields};

constexpr FieldDef kLinkFields[] = {
    {1, Type::kId, false, "traceId", "trace_id"},
    {2, Type::kId, false, "spanId", "span_id"},
    {3, Type::kString, false, "traceState", "trace_state"},
    {4, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {5, Type::kUint32, false, "droppedAttributesCount", "dropped_attributes_count"},
    {6, Type::kFixed32, false, "flags", "flags"},
};
constexpr MessageDef kLink{"Span.Link", kLinkFields};

constexpr FieldDef kStatusFields[] = {
    {2, Type::kString, false, "message", "message"},
    {3, Type::kEnum, false, "code", "code", nullptr, kStatusCodeNames},
};
constexpr MessageDef kSpanStatus{"Status", kStatusFields};

constexpr FieldDef kSpanFields[] = {
    {1, Type::kId, false, "traceId", "trace_id"},
    {2, Type::kId, false, "spanId", "span_id"},
    {3, Type::kString, false, "traceState", "trace_state"},
    {4, Type::kId, false, "parentSpanId", "parent_span_id"},
    {16, Type::kFixed32, false, "flags", "flags"},
    {5, Type::kString, false, "name", "name"},
    {6, Type::kEnum, false, "kind", "kind", nullptr, kSpanKindNames},
    {7, Type::kFixed64, false, "startTimeUnixNano", "start_time_unix_nano"},
    {8, Type::kFixed64, false, "endTimeUnixNano", "end_time_unix_nano"},
    {9, Type::kMessage, true, "attributes", "attributes", &kKeyValue},
    {10, Type::kUint32, false, "droppedAttributesCount", "dropped_attributes_count"},
    {11, Type::kMessage, true, "events", "events", &kEvent},
    {12, Type::kUint32, false, "droppedEventsCount", "dropped_events_count"},
    {13, Type::kMessage, true, "links", "links", &kLink},
    {14, Type::kUint32, false, "droppedLinksCount", "dropped_links_count"},
    {15, Type::kMessage, false, "status", "status", &kSpanStatus},
};
constexpr MessageDef kSpan{"Span", kSpanFields, true};

constexpr FieldDef kScopeSpansFields[] = {
    {1, Type::kMessage, false, "scope", "scope", &kScope},
    {2, Type::kMessage, true, "spans", "spans", &kSpan},
    {3, Type::kString, false, "schemaUrl", "schema_url"},
};
constexpr MessageDef kScopeSpans{"ScopeSpans", kScopeSpansFields};

constexpr FieldDef kResourceSpansFields[] = {
    {1, Type::kMessage, false, "resource", "resource", &kResource},
    {2, Type::kMessage, true, "scopeSpans", "scope_spans", &kScopeSpans},
    {3, Type::kString, false, "schemaUrl", "schema_url"},
};
constexpr MessageDef kResourceSpans{"ResourceSpans", kResourceSpansFields};

constexpr FieldDef kTracesRequestFields[] = {
    {1, Type::kMessage, true, "resourceSpans", "resource_spans", &kResourceSpans},
};
constexpr MessageDef kTracesRequest{"ExportTraceServiceRequest", kTracesRequestFields};

const MessageDef& RequestDef(OtlpSignal s) {
  switch (s) {
    case OtlpSignal::kMetrics:
      return kMetricsRequest;
    case OtlpSignal::kLogs:
      return kLogsRequest;
    case OtlpSignal::kTraces:
      return kTracesRequest;
  }
  return kMetricsRequest;
}

// ---- Protobuf validation ----

Status Invalid(const MessageDef& m, const FieldDef& f, std::string_view what) {
  return Status::InvalidArgument(
      fmt::format("malformed OTLP request: {}.{}: {}", m.name, f.snake, what));
}

Status ScanMessage(const MessageDef& def, std::string_view data, int depth, OtlpCounts& counts) {
  if (depth > kMaxDepth) {
    return Status::InvalidArgument(fmt::format(
        "malformed OTLP request: {} nested deeper than {} levels", def.name, kMaxDepth));
  }
  if (def.item) ++counts.items;
  WireReader r(data);
  while (r.NextField()) {
    const FieldDef* f = def.Find(r.field());
    if (f == nullptr) {
      if (!r.Skip()) break;
      continue;
    }
    const auto wt = static_cast<WireType>(r.wire_type());
    if (IsPacked(f->type) && wt == ElementWireType(f->type)) {
      if (!r.Skip()) break;  // one element sent unpacked
      continue;
    }
    if (wt != WireTypeOf(f->type)) return Invalid(def, *f, "wrong wire type");
    if (wt != WireType::kLen) {
      if (!r.Skip()) break;
      continue;
    }
    std::string_view bytes;
    if (!r.ReadBytes(&bytes)) break;
    switch (f->type) {
      case Type::kMessage:
        if (f->log_bytes) counts.log_bytes += bytes.size();
        RETURN_IF_ERROR(ScanMessage(*f->message, bytes, depth + 1, counts));
        break;
      case Type::kString:
        if (!IsValidUtf8(bytes)) return Invalid(def, *f, "string is not valid UTF-8");
        break;
      case Type::kPackedFixed64:
      case Type::kPackedDouble:
        if (bytes.size() % 8 != 0) return Invalid(def, *f, "packed length is not a multiple of 8");
        break;
      case Type::kPackedUint64: {
        ByteReader pr(bytes);
        uint64_t v;
        while (!pr.empty()) {
          if (!pr.ReadUvarint(&v)) return Invalid(def, *f, "truncated packed varint");
        }
        break;
      }
      default:
        break;  // bytes and IDs: any content
    }
  }
  if (r.error()) {
    return Status::InvalidArgument(
        fmt::format("malformed OTLP request: truncated or invalid protobuf in {}", def.name));
  }
  return Status::Ok();
}

// ---- JSON transcoding ----

Status JsonError(const MessageDef& m, std::string_view key, std::string_view what) {
  return Status::InvalidArgument(
      fmt::format("invalid OTLP/JSON request: {}.{}: {}", m.name, key, what));
}

template <typename T>
bool ParseIntegerString(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A JSON value as a 64-bit integer: a number or a decimal string.
template <typename T>
bool JsonInteger(simdjson::dom::element v, T* out) {
  if (v.is_string()) return ParseIntegerString(std::string_view(v.get_string().value()), out);
  if constexpr (std::is_signed_v<T>) {
    int64_t i;
    if (v.get_int64().get(i) != simdjson::SUCCESS) return false;
    if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(i);
  } else {
    uint64_t u;
    if (v.get_uint64().get(u) != simdjson::SUCCESS) return false;
    if (u > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(u);
  }
  return true;
}

bool JsonDouble(simdjson::dom::element v, double* out) {
  if (v.is_string()) {
    std::string_view s = v.get_string().value();
    if (s == "NaN") {
      *out = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "Infinity") {
      *out = std::numeric_limits<double>::infinity();
    } else if (s == "-Infinity") {
      *out = -std::numeric_limits<double>::infinity();
    } else {
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      return ec == std::errc() && p == s.data() + s.size();
    }
    return true;
  }
  return v.get_double().get(*out) == simdjson::SUCCESS;
}

Status EncodeJsonMessage(const MessageDef& def, simdjson::dom::object obj, int depth,
                         std::string& out);

// Encodes one value (one element of a repeated field) of `f` into `out` as a complete field.
Status EncodeJsonValue(const MessageDef& def, const FieldDef& f, simdjson::dom::element v,
                       int depth, std::string& out) {
  std::string scratch;
  switch (f.type) {
    case Type::kMessage: {
      simdjson::dom::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS)
        return JsonError(def, f.json, "not an object");
      std::string sub;
      RETURN_IF_ERROR(EncodeJsonMessage(*f.message, o, depth + 1, sub));
      PutBytesField(out, f.number, sub);
      return Status::Ok();
    }
    case Type::kString: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return JsonError(def, f.json, "not a string");
      PutBytesField(out, f.number, s);
      return Status::Ok();
    }
    case Type::kBytes:
    case Type::kId: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return JsonError(def, f.json, "not a string");
      if (f.type == Type::kId ? !HexDecode(s, &scratch) : !Base64Decode(s, &scratch)) {
        return JsonError(def, f.json, f.type == Type::kId ? "not a hex string" : "not base64");
      }
      if (!scratch.empty()) PutBytesField(out, f.number, scratch);
      return Status::Ok();
    }
    case Type::kInt64:
    case Type::kSfixed64: {
      int64_t i;
      if (!JsonInteger(v, &i)) return JsonError(def, f.json, "not a 64-bit integer");
      if (f.type == Type::kInt64) {
        PutVarintField(out, f.number, static_cast<uint64_t>(i));
      } else {
        PutKey(out, f.number, WireType::kFixed64);
        PutFixed64(out, static_cast<uint64_t>(i));
      }
      return Status::Ok();
    }
    case Type::kUint64:
    case Type::kFixed64:
    case Type::kPackedUint64:
    case Type::kPackedFixed64: {
      uint64_t u;
      if (!JsonInteger(v, &u)) return JsonError(def, f.json, "not an unsigned 64-bit integer");
      if (f.type == Type::kFixed64 || f.type == Type::kPackedFixed64) {
        PutKey(out, f.number, WireType::kFixed64);
        PutFixed64(out, u);
      } else {
        PutVarintField(out, f.number, u);
      }
      return Status::Ok();
    }
    case Type::kInt32:
    case Type::kSint32: {
      int32_t i;
      if (!JsonInteger(v, &i)) return JsonError(def, f.json, "not a 32-bit integer");
      PutVarintField(out, f.number,
                     f.type == Type::kSint32 ? ZigZagEncode(i) : static_cast<uint64_t>(int64_t{i}));
      return Status::Ok();
    }
    case Type::kUint32:
    case Type::kFixed32: {
      uint32_t u;
      if (!JsonInteger(v, &u)) return JsonError(def, f.json, "not an unsigned 32-bit integer");
      if (f.type == Type::kFixed32) {
        PutKey(out, f.number, WireType::kFixed32);
        PutFixed32(out, u);
      } else {
        PutVarintField(out, f.number, u);
      }
      return Status::Ok();
    }
    case Type::kEnum: {
      int32_t e = -1;
      if (v.is_string()) {
        std::string_view name = v.get_string().value();
        for (size_t i = 0; i < f.enum_names.size(); ++i) {
          if (f.enum_names[i] == name) e = static_cast<int32_t>(i);
        }
        if (e < 0) return JsonError(def, f.json, fmt::format("unknown enum value \"{}\"", name));
      } else if (!JsonInteger(v, &e)) {
        return JsonError(def, f.json, "not an enum value (integer or name)");
      }
      PutVarintField(out, f.number, static_cast<uint64_t>(int64_t{e}));
      return Status::Ok();
    }
    case Type::kBool: {
      bool b;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return JsonError(def, f.json, "not a boolean");
      PutVarintField(out, f.number, b ? 1 : 0);
      return Status::Ok();
    }
    case Type::kDouble:
    case Type::kPackedDouble: {
      double d;
      if (!JsonDouble(v, &d)) return JsonError(def, f.json, "not a number");
      PutDoubleField(out, f.number, d);
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status EncodeJsonMessage(const MessageDef& def, simdjson::dom::object obj, int depth,
                         std::string& out) {
  if (depth > kMaxDepth) {
    return Status::InvalidArgument(fmt::format(
        "invalid OTLP/JSON request: {} nested deeper than {} levels", def.name, kMaxDepth));
  }
  for (auto [key, value] : obj) {
    const FieldDef* f = def.Find(key);
    if (f == nullptr || value.is_null()) continue;
    if (!f->repeated) {
      RETURN_IF_ERROR(EncodeJsonValue(def, *f, value, depth, out));
      continue;
    }
    simdjson::dom::array arr;
    if (value.get_array().get(arr) != simdjson::SUCCESS) {
      return JsonError(def, key, "not an array");
    }
    // Packed numeric fields are written unpacked (one key per element): every protobuf decoder
    // accepts both, and it keeps one encoder per element type.
    for (auto elem : arr) RETURN_IF_ERROR(EncodeJsonValue(def, *f, elem, depth, out));
  }
  return Status::Ok();
}

// ---- Protobuf to JSON ----

// One field's occurrences in a message, in wire order: a varint, a fixed64 or fixed32 value in
// `number`, or a length-delimited value in `bytes`.
struct WireValue {
  WireType wire = WireType::kVarint;
  uint64_t number = 0;
  std::string_view bytes;
};

Status Corrupt(const MessageDef& m, std::string_view what) {
  return Status::Corruption(fmt::format("stored OTLP data: {}: {}", m.name, what));
}

// Go's encoding/json form of a float64, as jsonpb writes doubles: non-finite values as the
// strings "NaN", "Infinity" and "-Infinity".
void WriteJsonDouble(double d, JsonWriter& w) {
  if (std::isnan(d)) {
    w.String("NaN");
  } else if (std::isinf(d)) {
    w.String(d > 0 ? "Infinity" : "-Infinity");
  } else {
    w.Number(d);
  }
}

Status WriteJsonMessage(const MessageDef& def, std::string_view data, int depth, bool hex_ids,
                        JsonWriter& w);

// Writes one value of `f`; a length-delimited packed field writes its elements one by one.
Status WriteJsonValue(const MessageDef& def, const FieldDef& f, const WireValue& v, int depth,
                      bool hex_ids, JsonWriter& w) {
  switch (f.type) {
    case Type::kMessage:
      return WriteJsonMessage(*f.message, v.bytes, depth + 1, hex_ids, w);
    case Type::kString:
      w.String(v.bytes);
      break;
    case Type::kBytes:
      w.String(Base64Encode(v.bytes));
      break;
    case Type::kId:
      w.String(hex_ids ? HexEncode(v.bytes) : Base64Encode(v.bytes));
      break;
    case Type::kInt64:
    case Type::kSfixed64:
      w.String(std::to_string(static_cast<int64_t>(v.number)));
      break;
    case Type::kUint64:
    case Type::kFixed64:
      w.String(std::to_string(v.number));
      break;
    case Type::kInt32:
      w.Int(static_cast<int32_t>(v.number));
      break;
    case Type::kSint32:
      w.Int(ZigZagDecode(v.number));
      break;
    case Type::kUint32:
    case Type::kFixed32:
      w.Int(static_cast<int64_t>(static_cast<uint32_t>(v.number)));
      break;
    case Type::kEnum: {
      const auto e = static_cast<int32_t>(v.number);
      if (e >= 0 && static_cast<size_t>(e) < f.enum_names.size()) {
        w.String(f.enum_names[static_cast<size_t>(e)]);
      } else {
        w.Int(e);  // a value this schema does not name, as jsonpb writes it
      }
      break;
    }
    case Type::kBool:
      w.Bool(v.number != 0);
      break;
    case Type::kDouble:
      WriteJsonDouble(std::bit_cast<double>(v.number), w);
      break;
    case Type::kPackedFixed64:
    case Type::kPackedDouble:
    case Type::kPackedUint64: {
      ByteReader r(v.bytes);
      uint64_t e;
      while (!r.empty()) {
        const bool ok = f.type == Type::kPackedUint64 ? r.ReadUvarint(&e) : r.ReadFixed64(&e);
        if (!ok) return Corrupt(def, fmt::format("{}: truncated packed value", f.snake));
        if (f.type == Type::kPackedDouble) {
          WriteJsonDouble(std::bit_cast<double>(e), w);
        } else {
          w.String(std::to_string(e));
        }
      }
      break;
    }
  }
  return Status::Ok();
}

// Whether jsonpb leaves the value out: a zero scalar or an empty string outside a oneof.
bool IsDefault(const MessageDef& def, const FieldDef& f, const WireValue& v) {
  if (def.oneof || f.type == Type::kMessage) return false;
  return WireTypeOf(f.type) == WireType::kLen ? v.bytes.empty() : v.number == 0;
}

Status WriteJsonMessage(const MessageDef& def, std::string_view data, int depth, bool hex_ids,
                        JsonWriter& w) {
  if (depth > kMaxDepth) return Corrupt(def, "nested too deeply");
  std::vector<std::pair<const FieldDef*, WireValue>> values;
  WireReader r(data);
  while (r.NextField()) {
    const FieldDef* f = def.Find(r.field());
    if (f == nullptr) {
      if (!r.Skip()) break;
      continue;
    }
    WireValue v;
    const auto wt = static_cast<WireType>(r.wire_type());
    v.wire = wt;
    bool ok = false;
    if (wt != WireTypeOf(f->type) && !(IsPacked(f->type) && wt == ElementWireType(f->type))) {
      return Corrupt(def, fmt::format("{}: wrong wire type", f->snake));
    }
    switch (wt) {
      case WireType::kVarint:
        ok = r.ReadVarint(&v.number);
        break;
      case WireType::kFixed64:
        ok = r.ReadFixed64(&v.number);
        break;
      case WireType::kFixed32: {
        uint32_t u = 0;
        ok = r.ReadFixed32(&u);
        v.number = u;
        break;
      }
      case WireType::kLen:
        ok = r.ReadBytes(&v.bytes);
        break;
    }
    if (!ok) break;
    values.emplace_back(f, v);
  }
  if (r.error()) return Corrupt(def, "truncated or invalid protobuf");
  w.BeginObject();
  // jsonpb writes fields in declaration order (that of `def.fields`); a singular field
  // present more than once takes its last value, as protobuf parsers do.
  for (const FieldDef& f : def.fields) {
    const WireValue* last = nullptr;
    size_t count = 0;
    for (const auto& [vf, v] : values) {
      if (vf == &f) {
        last = &v;
        ++count;
      }
    }
    if (count == 0) continue;
    if (!f.repeated) {
      if (IsDefault(def, f, *last)) continue;
      w.Key(f.json);
      RETURN_IF_ERROR(WriteJsonValue(def, f, *last, depth, hex_ids, w));
      continue;
    }
    w.Key(f.json).BeginArray();
    for (const auto& [vf, v] : values) {
      if (vf != &f) continue;
      if (IsPacked(f.type) && v.wire != WireType::kLen) {
        // One element sent unpacked.
        if (f.type == Type::kPackedUint64 || f.type == Type::kPackedFixed64) {
          w.String(std::to_string(v.number));
        } else {
          WriteJsonDouble(std::bit_cast<double>(v.number), w);
        }
        continue;
      }
      RETURN_IF_ERROR(WriteJsonValue(def, f, v, depth, hex_ids, w));
    }
    w.EndArray();
  }
  w.EndObject();
  return Status::Ok();
}

}  // namespace

std::string_view OtlpSignalName(OtlpSignal s) {
  switch (s) {
    case OtlpSignal::kMetrics:
      return "metrics";
    case OtlpSignal::kLogs:
      return "logs";
    case OtlpSignal::kTraces:
      return "traces";
  }
  return "metrics";
}

Result<OtlpCounts> ScanOtlp(OtlpSignal signal, std::string_view data) {
  OtlpCounts counts;
  RETURN_IF_ERROR(ScanMessage(RequestDef(signal), data, 0, counts));
  return counts;
}

Result<std::string> OtlpJsonToProtobuf(OtlpSignal signal, std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err != simdjson::SUCCESS) {
    return Status::InvalidArgument(
        fmt::format("invalid OTLP/JSON request: {}", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Status::InvalidArgument("invalid OTLP/JSON request: the body is not a JSON object");
  }
  std::string out;
  RETURN_IF_ERROR(EncodeJsonMessage(RequestDef(signal), obj, 0, out));
  return out;
}

std::string OtlpExportResponse(OtlpSignal signal, uint64_t rejected, std::string_view message,
                               bool json) {
  if (json) {
    if (rejected == 0 && message.empty()) return "{}";
    std::string_view key = signal == OtlpSignal::kMetrics ? "rejectedDataPoints"
                           : signal == OtlpSignal::kLogs  ? "rejectedLogRecords"
                                                          : "rejectedSpans";
    JsonWriter w;
    w.BeginObject().Key("partialSuccess").BeginObject();
    w.Key(key).String(std::to_string(rejected));
    w.Key("errorMessage").String(message);
    w.EndObject().EndObject();
    return std::move(w.str());
  }
  if (rejected == 0 && message.empty()) return {};
  std::string partial;
  PutVarintField(partial, 1, rejected);
  PutBytesField(partial, 2, message);
  std::string out;
  PutBytesField(out, 1, partial);
  return out;
}

Result<std::string> TraceJson(std::string_view traces_data, const TraceJsonStyle& style) {
  JsonWriter w;
  w.BeginObject().Key(style.root_key).BeginArray();
  WireReader r(traces_data);
  while (r.NextField()) {
    std::string_view rs;
    if (r.field() != 1 || !r.Expect(WireType::kLen)) {
      if (!r.Skip()) break;
      continue;
    }
    if (!r.ReadBytes(&rs)) break;
    RETURN_IF_ERROR(WriteJsonMessage(kResourceSpans, rs, 1, style.hex_ids, w));
  }
  if (r.error()) return Status::Corruption("stored OTLP data: TracesData: truncated or invalid");
  w.EndArray().EndObject();
  return std::move(w.str());
}

}  // namespace strata::proto
