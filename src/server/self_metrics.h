#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "base/metric_family.h"
#include "tsdb/storage.h"

namespace strata::server {

// SelfMetrics owns Strata's own metric families that no component keeps: HTTP request
// metrics, readiness and build info; and it renders head and WAL statistics of every tenant
// at scrape time. Thread-safe.
class SelfMetrics {
 public:
  explicit SelfMetrics(std::shared_ptr<prometheus::Registry> registry);

  void ObserveHttp(const std::string& route, unsigned code, double seconds);
  void SetReady(bool ready) { ready_.Set(ready ? 1 : 0); }
  // The text exposition of everything: registered families plus storage statistics
  // (`storage` may be null before it is open).
  std::string Render(const tsdb::Storage* storage) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  SeriesByLabels<prometheus::Counter> http_requests_;    // by route, code
  SeriesByLabels<prometheus::Histogram> http_duration_;  // by route
  prometheus::Gauge& ready_;
};

}  // namespace strata::server
