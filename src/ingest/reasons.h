#pragma once

#include <array>
#include <string_view>

namespace strata::ingest {

// Why a sample or series was refused. The names are the `reason` label of
// strata_ingest_rejected_samples_total.
enum class Reason {
  kMissingMetricName,
  kInvalidMetricName,
  kInvalidLabelName,
  kDuplicateLabelName,
  kUnsortedLabels,
  kLabelNameTooLong,
  kLabelValueTooLong,
  kTooManyLabels,
  kInvalidUtf8,
  kRejectedLabel,
  kTooFarInFuture,
  kOutOfOrder,
  kDuplicateTimestamp,
  kTooOld,
  kSeriesLimit,
  kMetricSeriesLimit,
  kRateLimited,
  kInvalidNativeHistogram,
  kUnsupportedOtlp,  // OTLP points with no Prometheus form (delta temporality, exponential)
  kCount,            // number of reasons
};

inline constexpr std::array<std::string_view, static_cast<size_t>(Reason::kCount)> kReasonNames = {
    "missing_metric_name",  "invalid_metric_name",
    "invalid_label_name",   "duplicate_label_name",
    "unsorted_labels",      "label_name_too_long",
    "label_value_too_long", "too_many_labels",
    "invalid_utf8",         "rejected_label",
    "too_far_in_future",    "out_of_order",
    "duplicate_timestamp",  "too_old",
    "max_active_series",    "max_series_per_metric",
    "rate_limited",         "invalid_native_histogram",
    "unsupported_otlp",
};

inline std::string_view ReasonName(Reason r) { return kReasonNames[static_cast<size_t>(r)]; }

}  // namespace strata::ingest
