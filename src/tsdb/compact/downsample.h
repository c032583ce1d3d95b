#pragma once

#include <cstdint>
#include <span>

#include "base/labels.h"
#include "base/sample.h"
#include "base/status.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/writer.h"

namespace strata::tsdb::compact {

using block::kRes1h;
using block::kRes5m;

// Aggregates raw samples into windows of `res` (aligned to multiples of it). Stale markers
// are dropped.
block::AggrSeries DownsampleRaw(std::span<const Sample> raw, int64_t res);
// Coarsens aggregates (5m into 1h).
block::AggrSeries DownsampleAggr(const block::AggrSeries& in, int64_t res);

// Writes series into a downsampled block, from raw samples or from finer aggregates. Native
// histograms are carried over as they are.
class Downsampler {
 public:
  explicit Downsampler(int64_t res) : res_(res) {}
  Status Add(block::BlockWriter& w, const Labels& labels, std::span<const Sample> raw,
             std::span<const histogram::HistogramSample> histograms) {
    return w.AddAggregateSeries(labels, DownsampleRaw(raw, res_), histograms);
  }
  Status AddAggregated(block::BlockWriter& w, const Labels& labels, const block::AggrSeries& in,
                       std::span<const histogram::HistogramSample> histograms) {
    return w.AddAggregateSeries(labels, DownsampleAggr(in, res_), histograms);
  }

 private:
  int64_t res_;
};

}  // namespace strata::tsdb::compact
