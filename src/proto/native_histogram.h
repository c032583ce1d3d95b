#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/histogram.h"

namespace strata::proto {

// A native histogram sample of remote write: 1.0's prometheus.Histogram and 2.0's
// io.prometheus.write.v2.Histogram, which share their field numbers. Integer histograms (a
// count_int) are checked as such and converted to the float form PromQL reads.
struct HistogramSampleIn {
  int64_t t = 0;
  std::shared_ptr<const histogram::FloatHistogram> h;  // null when invalid
  std::string invalid;                                 // why it cannot be stored
};

// Decodes a Histogram message (repeated fields packed or not). False for a malformed
// message; a well-formed histogram that breaks the model's rules comes back with `invalid`.
bool DecodeHistogram(std::string_view msg, HistogramSampleIn* out);
// Appends a Histogram message of `h` at `t`, in float form (count_float and counts).
void EncodeHistogram(std::string& out, const histogram::FloatHistogram& h, int64_t t);

}  // namespace strata::proto
