#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/sample.h"
#include "base/status.h"

namespace strata::query {

// One series read for a query: its labels and its samples in the requested time range, in
// time order. Stale markers are included; the engine interprets them.
struct SeriesData {
  Labels labels;
  std::vector<Sample> samples;
};

struct SelectParams {
  int64_t mint = 0;  // inclusive, milliseconds
  int64_t maxt = 0;  // inclusive
  // Give up with ResourceExhausted once more samples than this would be returned.
  uint64_t max_samples = UINT64_MAX;
};

// Querier reads series of one tenant over a time range. The PromQL engine and the HTTP API
// see storage only through it, so the head, object-storage blocks, or a merge of both plug in
// underneath. Implementations are safe to call from several threads at once.
class Querier {
 public:
  virtual ~Querier() = default;

  // Series that match all matchers and have samples in [mint, maxt], sorted by labels.
  virtual Result<std::vector<SeriesData>> Select(const SelectParams& params,
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

// A querier over no data: tenants that have not written anything yet.
class EmptyQuerier : public Querier {
 public:
  Result<std::vector<SeriesData>> Select(const SelectParams&,
                                         std::span<const Matcher>) const override {
    return std::vector<SeriesData>{};
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
