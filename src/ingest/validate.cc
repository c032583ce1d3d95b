#include "ingest/validate.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/units.h"

namespace strata::ingest {

std::string DescribeSeries(std::span<const LabelView> labels) {
  constexpr size_t kMaxValue = 120;
  constexpr size_t kMaxLabels = 20;
  std::vector<LabelView> shown;
  std::vector<std::string> cut;
  cut.reserve(labels.size());
  for (size_t i = 0; i < labels.size() && i < kMaxLabels; ++i) {
    if (labels[i].value.size() > kMaxValue || labels[i].name.size() > kMaxValue) {
      cut.push_back(std::string(labels[i].value.substr(0, kMaxValue)) + "...");
      shown.push_back({labels[i].name.substr(0, kMaxValue), cut.back()});
    } else {
      shown.push_back(labels[i]);
    }
  }
  std::string s = FormatLabels(shown);
  if (labels.size() > kMaxLabels) {
    s.insert(s.size() - 1, fmt::format(", ...{} more", labels.size() - kMaxLabels));
  }
  return s;
}

namespace {

Invalid Make(Reason r, std::span<const LabelView> labels, std::string rule) {
  return {r, fmt::format("series {}: {}", DescribeSeries(labels), rule)};
}

}  // namespace

std::optional<Invalid> ValidateLabels(std::span<const LabelView> labels,
                                      const limits::IngestLimits& limits,
                                      std::vector<LabelView>& out) {
  out.clear();
  bool legacy = limits.name_validation == limits::NameValidation::kLegacy;
  std::string_view metric;
  for (size_t i = 0; i < labels.size(); ++i) {
    const LabelView& l = labels[i];
    if (!IsValidUtf8(l.name) || !IsValidUtf8(l.value)) {
      return Make(Reason::kInvalidUtf8, labels, fmt::format("label {} is not valid UTF-8", i + 1));
    }
    if (i > 0 && l.name <= labels[i - 1].name) {
      if (l.name == labels[i - 1].name) {
        return Make(Reason::kDuplicateLabelName, labels,
                    fmt::format("label name \"{}\" appears more than once", l.name));
      }
      return Make(Reason::kUnsortedLabels, labels,
                  fmt::format("labels are not sorted by name (\"{}\" follows \"{}\"); remote write "
                              "requires sorted label names",
                              l.name, labels[i - 1].name));
    }
    if (l.name == kMetricNameLabel) {
      metric = l.value;
      if (l.value.empty()) break;  // reported below as missing
      if (legacy && !IsValidLegacyMetricName(l.value)) {
        return Make(Reason::kInvalidMetricName, labels,
                    fmt::format("metric name \"{}\" is invalid (must match "
                                "[a-zA-Z_:][a-zA-Z0-9_:]*)",
                                l.value));
      }
    } else if (l.name.empty() || (legacy && !IsValidLegacyLabelName(l.name))) {
      return Make(Reason::kInvalidLabelName, labels,
                  fmt::format("label name \"{}\" is invalid (must {})", l.name,
                              legacy ? "match [a-zA-Z_][a-zA-Z0-9_]*" : "not be empty"));
    }
    if (limits.max_label_name_length > 0 && l.name.size() > limits.max_label_name_length) {
      return Make(Reason::kLabelNameTooLong, labels,
                  fmt::format("label name \"{}...\" is {} bytes long, the limit is {}",
                              l.name.substr(0, 40), l.name.size(), limits.max_label_name_length));
    }
    if (limits.max_label_value_length > 0 && l.value.size() > limits.max_label_value_length) {
      return Make(Reason::kLabelValueTooLong, labels,
                  fmt::format("value of label \"{}\" is {} bytes long, the limit is {}", l.name,
                              l.value.size(), limits.max_label_value_length));
    }
    if (!limits.reject_labels.empty() &&
        std::find(limits.reject_labels.begin(), limits.reject_labels.end(), l.name) !=
            limits.reject_labels.end()) {
      return Make(Reason::kRejectedLabel, labels,
                  fmt::format("label \"{}\" is not accepted for this tenant (limits.reject_labels; "
                              "it would explode cardinality)",
                              l.name));
    }
    if (l.value.empty()) continue;
    if (!limits.drop_labels.empty() &&
        std::find(limits.drop_labels.begin(), limits.drop_labels.end(), l.name) !=
            limits.drop_labels.end()) {
      continue;
    }
    out.push_back(l);
  }
  if (metric.empty()) {
    return Make(Reason::kMissingMetricName, labels, "series has no metric name (__name__ label)");
  }
  if (limits.max_label_names_per_series > 0 && out.size() > limits.max_label_names_per_series) {
    return Make(Reason::kTooManyLabels, labels,
                fmt::format("series has {} labels, the limit is {}", out.size(),
                            limits.max_label_names_per_series));
  }
  return std::nullopt;
}

std::optional<Invalid> ValidateTimestamp(std::span<const LabelView> labels, int64_t t,
                                         int64_t now_ms, const limits::IngestLimits& limits) {
  if (limits.creation_grace_period_ms > 0 && t > now_ms + limits.creation_grace_period_ms) {
    return Make(Reason::kTooFarInFuture, labels,
                fmt::format("sample timestamp {} is {} in the future; the limit is {} "
                            "(limits.creation_grace_period)",
                            t, FormatDurationMillis(t - now_ms),
                            FormatDurationMillis(limits.creation_grace_period_ms)));
  }
  return std::nullopt;
}

}  // namespace strata::ingest
