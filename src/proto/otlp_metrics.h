#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "proto/remote_write.h"

namespace strata::proto {

// OTLP metrics translated to Prometheus series by the OpenTelemetry -> Prometheus conventions,
// as Prometheus's own OTLP receiver does with its defaults (docs/format/otlp.md):
// - names: characters outside [a-zA-Z0-9] split words, joined by "_"; the unit appended as
//   words ("s" -> seconds, "By" -> bytes, "1/s" -> per_second, {annotations} dropped);
//   monotonic sums end in "_total", gauges with unit "1" in "_ratio";
// - attributes become labels (invalid characters -> "_", a leading digit gets "key_");
//   colliding names join their values with ";" in key order;
// - job = service.namespace/service.name, instance = service.instance.id; the other resource
//   attributes go to one target_info series per resource;
// - gauges and non-monotonic sums -> gauges; cumulative monotonic sums -> counters; cumulative
//   histograms -> _bucket{le}, _sum, _count; cumulative exponential histograms -> native
//   histograms; summaries -> {quantile}, _sum, _count; NoRecordedValue -> a staleness
//   marker. Timestamps: nanoseconds -> milliseconds.
// Points Prometheus cannot store are dropped and reported: delta temporality (not converted
// to cumulative), exponential histograms with a scale below -4 or inconsistent counts.
struct OtlpTranslation {
  WriteRequest request;
  uint64_t points = 0;                    // data points in the OTLP request
  uint64_t dropped = 0;                   // data points dropped
  std::vector<std::string> drop_reasons;  // the first few, for the response
};

// Translates a serialized ExportMetricsServiceRequest. Malformed input -> kInvalidArgument.
Result<OtlpTranslation> TranslateOtlpMetrics(std::string_view data);

// The Prometheus metric name of an OTLP metric (exposed for tests).
enum class OtlpMetricKind : uint8_t { kGauge, kCounter, kHistogram, kSummary };
std::string PrometheusMetricName(std::string_view name, std::string_view unit, OtlpMetricKind kind);
// The Prometheus label name of an OTLP attribute key.
std::string PrometheusLabelName(std::string_view key);

}  // namespace strata::proto
