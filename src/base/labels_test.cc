#include "base/labels.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(Labels, HashIsStableAndSeparatesBoundaries) {
  std::vector<LabelView> a = {{"__name__", "up"}, {"job", "node"}};
  std::vector<LabelView> b = {{"__name__", "up"}, {"job", "node"}};
  std::vector<LabelView> c = {{"__name__", "upj"}, {"ob", "node"}};
  EXPECT_EQ(HashLabels(a), HashLabels(b));
  EXPECT_NE(HashLabels(a), HashLabels(c));
}

TEST(Labels, LongLabelSetsHashLikeShortPath) {
  std::string big(3000, 'x');
  std::vector<LabelView> a = {{"a", big}};
  std::vector<LabelView> b = {{"a", big}};
  EXPECT_EQ(HashLabels(a), HashLabels(b));
  std::string big2 = big;
  big2.back() = 'y';
  EXPECT_NE(HashLabels(a), HashLabels(std::vector<LabelView>{{"a", big2}}));
}

// Regression (found by remote_write_fuzzer): a Label message without a name field decodes to
// a null view, which must hash like an empty string without passing null to memcpy.
TEST(Labels, NullEmptyViewsHashLikeEmptyStrings) {
  std::vector<LabelView> null_views = {{std::string_view(), std::string_view()}};
  std::vector<LabelView> empty = {{"", ""}};
  EXPECT_EQ(HashLabels(null_views), HashLabels(empty));
}

TEST(Labels, FormatEscapesLikePrometheus) {
  std::vector<LabelView> l = {{"__name__", "up"}, {"path", "a\"b\\c\nd"}, {"ünicode", "x"}};
  EXPECT_EQ(FormatLabels(l), R"({__name__="up", path="a\"b\\c\nd", "ünicode"="x"})");
}

TEST(Labels, LegacyNames) {
  EXPECT_TRUE(IsValidLegacyMetricName("http_requests_total"));
  EXPECT_TRUE(IsValidLegacyMetricName("job:rate5m:sum"));
  EXPECT_FALSE(IsValidLegacyMetricName(""));
  EXPECT_FALSE(IsValidLegacyMetricName("1abc"));
  EXPECT_FALSE(IsValidLegacyMetricName("a-b"));
  EXPECT_TRUE(IsValidLegacyLabelName("_a1"));
  EXPECT_FALSE(IsValidLegacyLabelName("a:b"));
  EXPECT_FALSE(IsValidLegacyLabelName("9"));
}

TEST(Labels, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

}  // namespace
}  // namespace strata
