#include "base/json.h"

#include <gtest/gtest.h>

#include <cmath>

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

TEST(Json, ObjectsSeparateMembers) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().Null().Bool(true).EndArray();
  w.Key("c").BeginObject().EndObject().EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[null,true],"c":{}})");
}

}  // namespace
}  // namespace strata
