#pragma once

#include <string_view>

namespace strata {

// The kinds of telemetry Strata stores. Shared machinery (WAL, object store, block lifecycle,
// limits) is written once and labelled by the signal it serves.
enum class Signal : unsigned char { kMetrics, kLogs, kTraces };

constexpr std::string_view SignalName(Signal s) {
  switch (s) {
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
    case Signal::kTraces:
      return "traces";
  }
  return "unknown";
}

}  // namespace strata
