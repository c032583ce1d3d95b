#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"

// The payload that gives a head's series (metric series, log streams) their refs in a WAL:
// per series, uvarint ref, uvarint label count, then each name and value length-prefixed
// (docs/format/wal.md). Encoders append to a caller-owned buffer; the decoder borrows from the
// payload and validates every length.
namespace strata::index {

struct RefSeries {
  uint32_t ref;
  std::vector<LabelView> labels;
};

void EncodeSeries(std::string& out, uint32_t ref, std::span<const LabelView> labels);
// Appends every series of the payload to `out`; kCorruption naming `what` on malformed input.
Status DecodeSeries(std::string_view payload, std::vector<RefSeries>& out,
                    std::string_view what = "series");

}  // namespace strata::index
