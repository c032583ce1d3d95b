#pragma once

// Test data shared by the storage and query-frontend tests: generated series with the
// awkward parts of real data, and a PromQL corpus whose answers must not change however
// the data is stored or the query is run.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/sample.h"

namespace strata::testing {

inline constexpr int64_t kHour = 3'600'000;

struct Generated {
  Labels labels;
  std::vector<Sample> samples;
  std::vector<histogram::HistogramSample> histograms;
};

// Counters, gauges, classic histogram buckets and native histograms (exponential and custom
// buckets) over `hours`, with jittered scrape times, gaps, counter resets and stale markers.
inline std::vector<Generated> Generate(int64_t hours, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Generated> out;
  auto add = [&](Labels labels, bool counter) {
    Generated g{std::move(labels), {}, {}};
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
  // Native histogram counters: six buckets that grow, now and then reset, some series with
  // custom bounds; a stale marker at the end of some.
  for (int i = 0; i < 4; ++i) {
    Generated g{{{"__name__", "rpc_duration_seconds"},
                 {"instance", "host-" + std::to_string(i)},
                 {"job", i % 2 ? "api" : "web"}},
                {},
                {}};
    const bool custom = i % 4 == 3;
    std::vector<double> counts(6, 0);
    int64_t step = 15'000 * (1 + static_cast<int64_t>(rng() % 4));
    for (int64_t t = static_cast<int64_t>(rng() % 20'000); t < hours * kHour; t += step) {
      if (rng() % 200 == 0) t += 1'200'000;
      if (t >= hours * kHour) break;
      const bool reset = rng() % 400 == 0;
      histogram::FloatHistogram h;
      h.schema = custom ? histogram::kCustomBucketsSchema : 1;
      if (custom) h.custom_values = {0.05, 0.1, 0.25, 0.5, 1};
      h.positive_spans = {{custom ? 0 : -2, 6}};
      for (double& c : counts) {
        c = reset ? 0 : c + static_cast<double>(rng() % 5);
        h.count += c;
        h.sum += c * 0.3;
      }
      h.positive_buckets = counts;
      g.histograms.push_back({t + static_cast<int64_t>(rng() % 1000),
                              std::make_shared<const histogram::FloatHistogram>(std::move(h))});
    }
    if (rng() % 3 == 0 && !g.histograms.empty()) {
      histogram::FloatHistogram stale;
      stale.sum = StaleNaN();
      g.histograms.push_back(
          {g.histograms.back().t + 1000, std::make_shared<const histogram::FloatHistogram>(stale)});
    }
    out.push_back(std::move(g));
  }
  return out;
}

// Whether two results' histogram points are the same, bit for bit.
inline bool SameHistograms(const std::vector<histogram::HistogramSample>& a,
                           const std::vector<histogram::HistogramSample>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].t != b[i].t || !a[i].h->Equals(*b[i].h)) return false;
  }
  return true;
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
    "rpc_duration_seconds",
    "histogram_quantile(0.9, rate(rpc_duration_seconds[5m]))",
    "sum by (job) (rate(rpc_duration_seconds[10m]))",
    "histogram_count(increase(rpc_duration_seconds{job=\"api\"}[1h]))",
};

}  // namespace strata::testing
