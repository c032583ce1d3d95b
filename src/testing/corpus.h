#pragma once

// Test data shared by the storage and query-frontend tests: generated series with the
// awkward parts of real data, and a PromQL corpus whose answers must not change however
// the data is stored or the query is run.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/sample.h"

namespace strata::testing {

inline constexpr int64_t kHour = 3'600'000;

struct Generated {
  Labels labels;
  std::vector<Sample> samples;
};

// Counters, gauges and histogram buckets over `hours`, with jittered scrape times, gaps,
// counter resets and stale markers.
inline std::vector<Generated> Generate(int64_t hours, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Generated> out;
  auto add = [&](Labels labels, bool counter) {
    Generated g{std::move(labels), {}};
    int64_t step = 15'000 * (1 + static_cast<int64_t>(rng() % 4));
    double v = static_cast<double>(rng() % 1000);
    for (int64_t t = static_cast<int64_t>(rng() % 20'000); t < hours * kHour; t += step) {
      if (rng() % 200 == 0) t += 1'200'000;  // a gap longer than the lookback
      if (t >= hours * kHour) break;
      if (counter) {
        v = rng() % 500 == 0 ? 0 : v + static_cast<double>(rng() % 100);
      } else {
        v = static_cast<double>(rng() % 10'000) / 10;
      }
      g.samples.push_back({t + static_cast<int64_t>(rng() % 1000), v});
    }
    if (rng() % 5 == 0 && !g.samples.empty()) {
      uint64_t stale_bits = 0x7ff0000000000002ULL;
      double stale;
      std::memcpy(&stale, &stale_bits, 8);
      g.samples.push_back({g.samples.back().t + 1000, stale});
    }
    out.push_back(std::move(g));
  };
  for (int i = 0; i < 40; ++i) {
    add({{"__name__", "http_requests_total"},
         {"code", i % 3 == 0 ? "500" : "200"},
         {"instance", "host-" + std::to_string(i)},
         {"job", i % 2 ? "api" : "web"}},
        true);
    add({{"__name__", "memory_bytes"}, {"instance", "host-" + std::to_string(i)}, {"job", "node"}},
        false);
  }
  for (int i = 0; i < 6; ++i) {
    for (const char* le : {"0.1", "0.5", "1", "5", "+Inf"}) {
      add({{"__name__", "latency_seconds_bucket"},
           {"instance", "host-" + std::to_string(i)},
           {"le", le}},
          true);
    }
  }
  return out;
}

inline constexpr const char* kCorpus[] = {
    "http_requests_total",
    "memory_bytes{instance=~\"host-1.*\"}",
    "rate(http_requests_total[5m])",
    "sum by (code) (rate(http_requests_total[5m]))",
    "increase(http_requests_total{job=\"api\"}[1h])",
    "avg_over_time(memory_bytes[30m])",
    "max_over_time(memory_bytes[2h])",
    "min_over_time(memory_bytes[10m])",
    "count_over_time(memory_bytes[3h])",
    "last_over_time(memory_bytes[1h])",
    "quantile_over_time(0.9, memory_bytes[1h])",
    "histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[10m])))",
    "topk(3, memory_bytes)",
    "resets(http_requests_total[2h])",
    "changes(memory_bytes[1h])",
    "deriv(memory_bytes[20m])",
    "memory_bytes offset 1h",
    "absent(nope)",
    "count by (job) (memory_bytes)",
    "sum(rate(http_requests_total[5m])) / sum(rate(http_requests_total[5m] offset 30m))",
    "max_over_time(rate(http_requests_total[5m])[1h:1m])",
    "memory_bytes{job!=\"node\"}",
    "timestamp(memory_bytes)",
};

}  // namespace strata::testing
