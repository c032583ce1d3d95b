#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "proto/loki.h"

namespace strata::proto {

// An OTLP logs request as Loki 3 stores it: `push` points into `storage`.
struct OtlpLogs {
  LokiPush push;
  std::deque<std::string> storage;  // lines and structured metadata the push points to
  uint64_t records = 0;
};

// Translates a serialized ExportLogsServiceRequest with Loki 3's OpenTelemetry conventions
// (its default otlp_config): the resource attributes Loki indexes by default (service.name,
// service.namespace, service.instance.id, deployment.environment[.name], cloud.region,
// cloud.availability_zone, k8s.{cluster,namespace,pod,container,replicaset,deployment,
// statefulset,daemonset,cronjob,job}.name, container.name) become stream labels with dots as
// underscores, and service_name is discovered or "unknown_service" without service.name;
// every other resource, scope and log attribute (maps flattened with '_'), and trace_id,
// span_id, severity_text, severity_number, flags, observed_timestamp, event_name,
// scope_name, scope_version, becomes structured metadata. The body is the line (non-strings
// as OpenTelemetry prints them); the time is the record's, else its observed time, else
// `now_ns`. Malformed input -> kInvalidArgument naming the problem.
Result<std::unique_ptr<OtlpLogs>> TranslateOtlpLogs(std::string_view data, int64_t now_ns);

}  // namespace strata::proto
