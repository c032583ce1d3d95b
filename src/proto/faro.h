#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/labels.h"
#include "base/status.h"

namespace strata::proto {

// The Grafana Faro Web SDK's payload (POST /collect): a JSON object of meta, logs, exceptions,
// measurements, events and traces (OTLP/JSON). docs/format/faro.md describes what is read and
// the log lines written, which are those of Grafana Alloy's faro.receiver.

using FaroKeyVals = std::vector<std::pair<std::string, std::string>>;  // sorted by key

// An RFC 3339 time as the payload gave it; a missing or null timestamp is Go's zero time.
struct FaroTime {
  int64_t unix_s = 0;
  int32_t nanos = 0;
  int32_t offset_s = 0;  // the zone offset written in the timestamp
  bool utc = true;       // written with Z (or +00:00)
  bool zero = true;
};

struct FaroTraceContext {
  std::string trace_id, span_id;  // as sent; not validated (Alloy copies them as they are)
};

struct FaroFrame {
  std::string function, module, filename;
  int64_t lineno = 0, colno = 0;
};

struct FaroLog {
  FaroTime timestamp;
  std::string message, level;
  FaroKeyVals context;
  FaroTraceContext trace;
};

struct FaroException {
  FaroTime timestamp;
  std::string type, value;
  std::optional<std::vector<FaroFrame>> frames;  // absent: no stacktrace
  FaroKeyVals context;
  FaroTraceContext trace;
};

struct FaroMeasurement {
  FaroTime timestamp;
  std::string type;
  std::vector<std::pair<std::string, double>> values;  // sorted by name
  FaroKeyVals context;
  FaroTraceContext trace;
};

struct FaroEvent {
  FaroTime timestamp;
  std::string name, domain;
  std::optional<FaroKeyVals> attributes;
  FaroTraceContext trace;
};

struct FaroMeta {
  std::string sdk_name, sdk_version;
  std::vector<std::pair<std::string, std::string>> sdk_integrations;  // name, version
  std::string app_name, app_namespace, app_release, app_version, app_environment;
  std::string user_email, user_id, user_username;
  FaroKeyVals user_attributes;
  std::string session_id;
  FaroKeyVals session_attributes;
  std::string page_id, page_url;
  FaroKeyVals page_attributes;
  std::string browser_name, browser_version, browser_os, browser_user_agent, browser_language,
      browser_viewport_width, browser_viewport_height;
  bool browser_mobile = false;
  std::string view_name;
};

struct FaroPayload {
  FaroMeta meta;
  std::vector<FaroLog> logs;
  std::vector<FaroException> exceptions;
  std::vector<FaroMeasurement> measurements;
  std::vector<FaroEvent> events;
  std::string traces_json;  // the `traces` member (OTLP/JSON), minified; empty when none
};

// Decodes a payload as Alloy's receiver does (Go's encoding/json into its types): keys match
// case-insensitively, unknown keys are ignored, null leaves a field empty; a member of the
// wrong type, a timestamp that is not RFC 3339 or malformed JSON is InvalidArgument naming it.
Result<FaroPayload> DecodeFaro(std::string_view json);

enum class FaroLogFormat { kLogfmt, kJson };

struct FaroLogOptions {
  FaroLogFormat format = FaroLogFormat::kLogfmt;
  // Stream labels: a name with a value is a fixed label; with an empty value it takes the
  // line's key of that name (kind, app_name, ...) and is left out when the line lacks it.
  std::vector<std::pair<std::string, std::string>> labels;
  int64_t entry_ns = 0;  // every entry's Loki timestamp: the time received, as Alloy's
  // Rewrites an exception's stack frame through a source map (given the app's release); false
  // leaves the frame as it is.
  std::function<bool(FaroFrame& frame, std::string_view release)> resolve_frame;
};

struct FaroLogs {
  std::string push;  // a serialized logproto.PushRequest; empty when there are no items
  uint64_t entries = 0;
  uint64_t line_bytes = 0;
  // Items whose line cannot be written: a key left empty once logfmt's forbidden characters
  // are taken out (Alloy drops those lines too).
  uint64_t dropped = 0;
};

// The payload's logs, exceptions, measurements and events as Loki log lines with the keys
// Alloy writes (kind=log|exception|measurement|event, the item's keys, then app_*, session_*,
// page_*, browser_*, ...), one entry each, grouped into streams by their labels.
FaroLogs FaroToLoki(const FaroPayload& payload, const FaroLogOptions& options);

}  // namespace strata::proto
