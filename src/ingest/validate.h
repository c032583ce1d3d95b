#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/labels.h"
#include "ingest/reasons.h"
#include "limits/limits.h"

namespace strata::ingest {

struct Invalid {
  Reason reason;
  std::string message;  // names the series and the rule
};

// Checks one series' labels against the tenant's limits and naming rules. On success fills
// `out` with the labels to store: empty-valued labels (which Prometheus treats as absent) and
// `drop_labels` removed, order kept. `out` is reused across calls to avoid allocation.
std::optional<Invalid> ValidateLabels(std::span<const LabelView> labels,
                                      const limits::IngestLimits& limits,
                                      std::vector<LabelView>& out);

// Checks a sample timestamp against the future bound; `now_ms` is the receive time.
std::optional<Invalid> ValidateTimestamp(std::span<const LabelView> labels, int64_t t,
                                         int64_t now_ms, const limits::IngestLimits& limits);

// A short form of a label set for error messages (long values are elided).
std::string DescribeSeries(std::span<const LabelView> labels);

}  // namespace strata::ingest
