#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace strata {

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
