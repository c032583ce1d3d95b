#include "base/json.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace strata {
namespace {

TEST(Json, SampleValuesAsPrometheus) {
  EXPECT_EQ(FormatSampleValue(1), "1");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(-2.5), "-2.5");
  EXPECT_EQ(FormatSampleValue(1e21), "1e+21");
  EXPECT_EQ(FormatSampleValue(1e-7), "1e-07");
  EXPECT_EQ(FormatSampleValue(123456789012345678.0), "123456789012345680");
  EXPECT_EQ(FormatSampleValue(NAN), "NaN");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(INFINITY), "+Inf");
}

// Go's encoding/json: shortest digits, exponents below 1e-6 and from 1e21, a one-digit
// negative exponent without its 0.
TEST(Json, NumbersAsGo) {
  JsonWriter w;
  w.BeginArray().Number(0.5).Number(1e-7).Number(1.024e-6).Number(1e21).Number(2.5e-10);
  EXPECT_EQ(w.EndArray().str(), "[0.5,1e-7,0.000001024,1e+21,2.5e-10]");
}

TEST(Json, TimestampsAndStrings) {
  JsonWriter w;
  w.BeginArray().Timestamp(1435781451781).Timestamp(1000).Timestamp(1005).Timestamp(-1500);
  w.String("<a&b>\n\"\x01").String(std::string("\xff", 1)).EndArray();
  EXPECT_EQ(w.str(),
            "[1435781451.781,1,1.005,-1.500,\"\\u003ca\\u0026b\\u003e\\n\\\"\\u0001\","
            "\"\\ufffd\"]");
}

// Every character that is escaped or checked as UTF-8, at every place in strings long and
// short (plain runs are copied 8 bytes at a time), against RFC 8259 and Go's encoding/json:
// controls as \uXXXX unless they have a short form, invalid UTF-8 as U+FFFD, and in the
// HTML-safe form <, >, &, U+2028 and U+2029 escaped too.
TEST(Json, EscapesWhatNeedsItWherever) {
  struct Case {
    std::string in, plain, html;
  };
  const std::vector<Case> cases = {
      {"\"", "\\\"", "\\\""},
      {"\\", "\\\\", "\\\\"},
      {"\n", "\\n", "\\n"},
      {"\r", "\\r", "\\r"},
      {"\t", "\\t", "\\t"},
      {std::string(1, '\0'), "\\u0000", "\\u0000"},
      {"\x1f", "\\u001f", "\\u001f"},
      {"<", "<", "\\u003c"},
      {">", ">", "\\u003e"},
      {"&", "&", "\\u0026"},
      {"\x7f", "\x7f", "\x7f"},
      {"\xc3\xa9", "\xc3\xa9", "\xc3\xa9"},
      {"\xff", "\\ufffd", "\\ufffd"},
      {"\xe2\x80\xa8", "\xe2\x80\xa8", "\\u2028"},
      {"\xe2\x80", "\\ufffd\\ufffd", "\\ufffd\\ufffd"},
  };
  for (const auto& c : cases) {
    for (size_t len : {0, 1, 7, 8, 9, 16, 23}) {
      for (size_t at = 0; at <= len; ++at) {
        const std::string before(at, 'a'), after(len - at, 'z');
        const std::string in = fmt::format("{}{}{}", before, c.in, after);
        std::string out = "x";
        AppendJsonString(out, in, /*html_safe=*/false);
        EXPECT_EQ(out, fmt::format("x\"{}{}{}\"", before, c.plain, after))
            << c.plain << " at " << at;
        out.clear();
        AppendJsonString(out, in);
        EXPECT_EQ(out, fmt::format("\"{}{}{}\"", before, c.html, after)) << c.html << " at " << at;
      }
    }
  }
  std::string all;
  for (int c = 0x20; c < 0x7f; ++c) all += static_cast<char>(c);
  std::string out;
  AppendJsonString(out, all, /*html_safe=*/false);
  EXPECT_EQ(out.size(), all.size() + 4);  // only '"' and '\\' grew
}

TEST(Json, ObjectsSeparateMembers) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().Null().Bool(true).EndArray();
  w.Key("c").BeginObject().EndObject().EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[null,true],"c":{}})");
}

}  // namespace
}  // namespace strata
