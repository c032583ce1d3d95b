#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "proto/remote_write.h"

namespace strata::proto {

// The Prometheus text exposition format (version 0.0.4), what /metrics endpoints serve:
// "# HELP", "# TYPE" and comment lines, and samples `name{label="value",...} value [ms]`.
struct ExposedSample {
  Labels labels;  // sorted, __name__ included
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct Exposition {
  std::vector<ExposedSample> samples;
  std::map<std::string, MetricType> types;  // by family name, from # TYPE
  std::map<std::string, std::string> help;  // by family name, from # HELP
};

// Parses a whole exposition. Errors name the line and what is wrong with it; more than
// `max_samples` samples is kTooLarge.
Result<Exposition> ParseExposition(std::string_view text, size_t max_samples);

}  // namespace strata::proto
