#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/coding.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

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

// The series of one prometheus-cpp family, found by their label values. Family::Add builds a
// label map and a new metric (a histogram's buckets included) on every call, only to throw the
// metric away when the series exists, as it nearly always does; a per-request metric pays that
// for every request. Get looks the series up by its values and adds it on first use. The
// series are the family's: as many as it holds. Thread-safe.
template <typename T>
class SeriesByLabels {
 public:
  // `names`: the label names, in the order Get takes their values; `args`: what the family's
  // Add takes after the labels for a new series (a histogram's buckets).
  template <typename... Args>
  SeriesByLabels(prometheus::Family<T>& family, std::vector<std::string> names, const Args&... args)
      : names_(std::move(names)), add_([&family, args...](const prometheus::Labels& l) -> T& {
          return family.Add(l, args...);
        }) {}
  SeriesByLabels(const SeriesByLabels&) = delete;
  SeriesByLabels& operator=(const SeriesByLabels&) = delete;

  // The series with these label values, one per name.
  T& Get(std::initializer_list<std::string_view> values) EXCLUDES(mu_) {
    thread_local std::string key;
    key.clear();
    for (std::string_view v : values) PutLengthPrefixed(key, v);
    MutexLock lk(mu_);
    if (auto it = series_.find(std::string_view(key)); it != series_.end()) return *it->second;
    prometheus::Labels labels;
    auto v = values.begin();
    for (size_t i = 0; i < names_.size() && v != values.end(); ++i, ++v) {
      labels.emplace(names_[i], std::string(*v));
    }
    T& series = add_(labels);
    series_.emplace(key, &series);
    return series;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  const std::vector<std::string> names_;
  const std::function<T&(const prometheus::Labels&)> add_;
  Mutex mu_;
  std::unordered_map<std::string, T*, Hash, std::equal_to<>> series_ GUARDED_BY(mu_);
};

}  // namespace strata
