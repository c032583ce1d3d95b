#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/matcher.h"
#include "base/sample.h"
#include "base/status.h"

namespace strata::query {

// One series with its samples: the materialized form of a series set entry.
struct SeriesData {
  Labels labels;
  std::vector<Sample> samples;
};

struct SelectParams {
  int64_t mint = 0;  // inclusive, milliseconds
  int64_t maxt = 0;  // inclusive
  // Hints from the engine, for reading downsampled data: the function applied to the
  // selection ("rate", "max_over_time"; empty for a plain selector), its range, and the
  // query's step (0 for instant queries).
  std::string_view func;
  int64_t range_ms = 0;
  int64_t step_ms = 0;
};

// How a query wants its data read.
struct ReadHints {
  // The sample times the querier will be asked about, inclusive: storage holding nothing in
  // [mint, maxt] may be left out of it, so calls beyond the range can miss data.
  int64_t mint = std::numeric_limits<int64_t>::min();
  int64_t maxt = std::numeric_limits<int64_t>::max();
  // The coarsest downsampling resolution to read (Thanos's max_source_resolution):
  // kAutoResolution picks per selection, 0 reads raw data only.
  static constexpr int64_t kAutoResolution = -1;
  int64_t max_resolution_ms = kAutoResolution;
};

// The series a Select found: labels up front, samples decoded on demand, one series at a time,
// so a query holds only the series it is working on. Samples are in time order and include
// stale markers; a series may turn out to have none in the range. Samples() may be called
// concurrently for different series. Valid while the Querier that made it lives.
class SeriesSet {
 public:
  virtual ~SeriesSet() = default;
  virtual size_t size() const = 0;
  virtual const Labels& labels(size_t i) const = 0;
  // Replaces `out` with series i's samples in the selected range.
  virtual void Samples(size_t i, std::vector<Sample>& out) const = 0;
  // Replaces `out` with series i's native histogram samples in the selected range, in time
  // order, stale markers included. Storage without histograms has none.
  virtual void Histograms(size_t /*i*/, std::vector<histogram::HistogramSample>& out) const {
    out.clear();
  }
};

// A SeriesSet over series already in memory (tests, small results).
class MaterializedSeriesSet : public SeriesSet {
 public:
  explicit MaterializedSeriesSet(std::vector<SeriesData> series) : series_(std::move(series)) {}
  size_t size() const override { return series_.size(); }
  const Labels& labels(size_t i) const override { return series_[i].labels; }
  void Samples(size_t i, std::vector<Sample>& out) const override { out = series_[i].samples; }

 private:
  std::vector<SeriesData> series_;
};

// Querier reads series of one tenant over a time range. The PromQL engine and the HTTP API
// see storage only through it, so the head, object-storage blocks, or a merge of both plug in
// underneath. Implementations are safe to call from several threads at once.
class Querier {
 public:
  virtual ~Querier() = default;

  // Series that match all matchers and may have samples in [mint, maxt], sorted by labels.
  virtual Result<std::unique_ptr<SeriesSet>> Select(const SelectParams& params,
                                                    std::span<const Matcher> matchers) const = 0;
  // Label sets of series matching all matchers, sorted.
  virtual Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                             std::span<const Matcher> matchers) const = 0;
  // Sorted label names of series matching the matchers (all series when empty).
  virtual Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                                      std::span<const Matcher> matchers) const = 0;
  // Sorted values of `name` among series matching the matchers.
  virtual Result<std::vector<std::string>> LabelValues(std::string_view name, int64_t mint,
                                                       int64_t maxt,
                                                       std::span<const Matcher> matchers) const = 0;
};

// Forwards every call to another querier; subclasses override what they watch or limit.
class ForwardingQuerier : public Querier {
 public:
  explicit ForwardingQuerier(const Querier& inner) : inner_(inner) {}
  Result<std::unique_ptr<SeriesSet>> Select(const SelectParams& p,
                                            std::span<const Matcher> m) const override {
    return inner_.Select(p, m);
  }
  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     std::span<const Matcher> m) const override {
    return inner_.Series(mint, maxt, m);
  }
  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              std::span<const Matcher> m) const override {
    return inner_.LabelNames(mint, maxt, m);
  }
  Result<std::vector<std::string>> LabelValues(std::string_view name, int64_t mint, int64_t maxt,
                                               std::span<const Matcher> m) const override {
    return inner_.LabelValues(name, mint, maxt, m);
  }

 private:
  const Querier& inner_;
};

// A querier over no data: tenants that have not written anything yet.
class EmptyQuerier : public Querier {
 public:
  Result<std::unique_ptr<SeriesSet>> Select(const SelectParams&,
                                            std::span<const Matcher>) const override {
    return std::unique_ptr<SeriesSet>(
        std::make_unique<MaterializedSeriesSet>(std::vector<SeriesData>{}));
  }
  Result<std::vector<Labels>> Series(int64_t, int64_t, std::span<const Matcher>) const override {
    return std::vector<Labels>{};
  }
  Result<std::vector<std::string>> LabelNames(int64_t, int64_t,
                                              std::span<const Matcher>) const override {
    return std::vector<std::string>{};
  }
  Result<std::vector<std::string>> LabelValues(std::string_view, int64_t, int64_t,
                                               std::span<const Matcher>) const override {
    return std::vector<std::string>{};
  }
};

}  // namespace strata::query
