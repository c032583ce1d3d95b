#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace strata {

// Buckets of the HTTP request latency histograms (server and agent), in seconds.
inline const prometheus::Histogram::BucketBoundaries& HttpLatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

// MetricFamilyBuilder assembles one prometheus-cpp family at scrape time from values a
// component keeps itself (statistics read under its own lock), for rendering next to the
// registry's families. Users link prometheus-cpp. Not thread-safe.
class MetricFamilyBuilder {
 public:
  MetricFamilyBuilder(const char* name, const char* help, prometheus::MetricType type) {
    f_.name = name;
    f_.help = help;
    f_.type = type;
  }
  void Add(std::vector<prometheus::ClientMetric::Label> labels, double v) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    (f_.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) = v;
    f_.metric.push_back(std::move(m));
  }
  prometheus::MetricFamily Take() { return std::move(f_); }

 private:
  prometheus::MetricFamily f_;
};

}  // namespace strata
