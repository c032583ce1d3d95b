#pragma once

#include <cstdint>
#include <string>

namespace strata::tsdb {

// The metadata of a metric family (TYPE, UNIT, HELP), as remote write and OTLP carry it; `type`
// is proto::MetricType's number.
struct MetricMetadata {
  uint8_t type = 0;
  std::string unit;
  std::string help;
  bool operator==(const MetricMetadata&) const = default;
};

}  // namespace strata::tsdb
