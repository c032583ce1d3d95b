#pragma once

#include <fmt/format.h>

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

// Replays a series record into `head` (a metrics or log head: anything with
// GetOrCreate(hash, labels, bool* created, std::optional<uint32_t> ref)), each series under
// the ref it was logged with; kCorruption for a ref that is reused or implausibly large.
template <typename Head>
Status ApplySeriesRecord(std::string_view payload, Head& head, std::string_view what = "series") {
  std::vector<RefSeries> series;
  RETURN_IF_ERROR(DecodeSeries(payload, series, what));
  for (const auto& s : series) {
    bool created;
    if (head.GetOrCreate(HashLabels(s.labels), s.labels, &created, s.ref) == nullptr) {
      return Status::Corruption(
          fmt::format("{} ref {} is reused or implausibly large", what, s.ref));
    }
  }
  return Status::Ok();
}

}  // namespace strata::index
