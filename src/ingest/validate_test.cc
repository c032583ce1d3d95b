#include "ingest/validate.h"

#include <gtest/gtest.h>

namespace strata::ingest {
namespace {

std::optional<Invalid> Check(std::vector<LabelView> labels,
                             const limits::IngestLimits& limits = {}) {
  std::vector<LabelView> out;
  return ValidateLabels(labels, limits, out);
}

TEST(Validate, AcceptsTypicalSeriesAndNormalizes) {
  limits::IngestLimits limits;
  limits.drop_labels = {"pod_uid"};
  std::vector<LabelView> in = {{"__name__", "node_cpu_seconds_total"},
                               {"cpu", "0"},
                               {"empty", ""},
                               {"mode", "idle"},
                               {"pod_uid", "abc"}};
  std::vector<LabelView> out;
  EXPECT_FALSE(ValidateLabels(in, limits, out));
  std::vector<LabelView> want = {
      {"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}};
  EXPECT_EQ(out, want);
}

TEST(Validate, EachRuleHasItsReasonAndNamesTheSeries) {
  struct Case {
    std::vector<LabelView> labels;
    Reason reason;
    std::string fragment;
  };
  std::string long_value(3000, 'v');
  std::string long_name(2000, 'n');
  std::vector<Case> cases = {
      {{{"job", "x"}}, Reason::kMissingMetricName, "no metric name"},
      {{{"__name__", ""}, {"job", "x"}}, Reason::kMissingMetricName, "no metric name"},
      {{{"__name__", "1bad"}}, Reason::kInvalidMetricName, "metric name \"1bad\""},
      {{{"__name__", "m"}, {"bad-name", "x"}},
       Reason::kInvalidLabelName,
       "label name \"bad-name\""},
      {{{"", "x"}, {"__name__", "m"}}, Reason::kInvalidLabelName, "label name \"\""},
      {{{"__name__", "m"}, {"a", "1"}, {"a", "2"}}, Reason::kDuplicateLabelName, "more than once"},
      {{{"__name__", "m"}, {"b", "1"}, {"a", "2"}}, Reason::kUnsortedLabels, "not sorted"},
      {{{"__name__", "m"}, {"a", long_value}}, Reason::kLabelValueTooLong, "3000 bytes"},
      {{{"__name__", "m"}, {long_name, "x"}}, Reason::kLabelNameTooLong, "2000 bytes"},
      {{{"__name__", "m"}, {"a", "\xff\xfe"}}, Reason::kInvalidUtf8, "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    auto r = Check(c.labels);
    ASSERT_TRUE(r) << c.fragment;
    EXPECT_EQ(r->reason, c.reason) << r->message;
    EXPECT_NE(r->message.find(c.fragment), std::string::npos) << r->message;
    EXPECT_EQ(r->message.rfind("series {", 0), 0u) << r->message;
  }
}

TEST(Validate, TooManyLabelsAndRejectList) {
  limits::IngestLimits limits;
  limits.max_label_names_per_series = 2;
  EXPECT_EQ(Check({{"__name__", "m"}, {"a", "1"}, {"b", "2"}}, limits)->reason,
            Reason::kTooManyLabels);
  limits.max_label_names_per_series = 0;
  limits.reject_labels = {"user_id"};
  auto r = Check({{"__name__", "m"}, {"user_id", "42"}}, limits);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kRejectedLabel);
}

TEST(Validate, Utf8NameScheme) {
  limits::IngestLimits limits;
  limits.name_validation = limits::NameValidation::kUtf8;
  EXPECT_FALSE(Check({{"__name__", "http.requests"}, {"k8s.pod", "x"}}, limits));
  EXPECT_TRUE(Check({{"__name__", "http.requests"}}));  // legacy by default
}

TEST(Validate, FutureTimestamps) {
  limits::IngestLimits limits;
  std::vector<LabelView> l = {{"__name__", "m"}};
  EXPECT_FALSE(ValidateTimestamp(l, 1000 + 600'000, 1000, limits));
  auto r = ValidateTimestamp(l, 1000 + 600'001, 1000, limits);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kTooFarInFuture);
}

}  // namespace
}  // namespace strata::ingest
