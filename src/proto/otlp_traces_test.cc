#include "proto/otlp_traces.h"

#include <gtest/gtest.h>

#include "base/coding.h"
#include "base/encoding.h"
#include "proto/otlp.h"

namespace strata::proto {
namespace {

// Two services' spans of two traces (a and b), one span without a trace ID; the second
// resource has no scope.
constexpr std::string_view kRequest = R"({"resourceSpans": [
  {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
   "scopeSpans": [
     {"scope": {"name": "http", "version": "1.2"},
      "spans": [
        {"traceId": "0000000000000000000000000000000a", "spanId": "0000000000000001",
         "name": "GET /", "kind": 2, "startTimeUnixNano": "1000", "endTimeUnixNano": "5000",
         "attributes": [{"key": "n", "value": {"intValue": "0"}},
                        {"key": "ok", "value": {"boolValue": false}},
                        {"key": "ratio", "value": {"doubleValue": 0.5}}],
         "status": {}},
        {"traceId": "0000000000000000000000000000000b", "spanId": "0000000000000002",
         "name": "GET /b", "startTimeUnixNano": "2000", "endTimeUnixNano": "3000",
         "status": {"code": 2, "message": "boom"}},
        {"spanId": "0000000000000003", "name": "no trace"}]},
     {"scope": {"name": "db"},
      "spans": [
        {"traceId": "0000000000000000000000000000000a", "spanId": "0000000000000004",
         "parentSpanId": "0000000000000001", "name": "SELECT", "kind": "SPAN_KIND_CLIENT",
         "startTimeUnixNano": "1500", "endTimeUnixNano": "6000"}]}],
   "schemaUrl": "https://opentelemetry.io/schemas/1.26.0"},
  {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "db"}}]},
   "scopeSpans": [{"spans": [
        {"traceId": "0000000000000000000000000000000a", "spanId": "0000000000000005",
         "name": "query", "startTimeUnixNano": "1600", "endTimeUnixNano": "1700",
         "events": [{"timeUnixNano": "1650", "name": "row"}],
         "links": [{"traceId": "0000000000000000000000000000000b",
                    "spanId": "0000000000000002"}]}]}]}
]})";

std::string Id(std::string_view hex) {
  std::string out;
  EXPECT_TRUE(HexDecode(hex, &out));
  return out;
}

TEST(OtlpTracesTest, SplitsByTraceAndResource) {
  auto pb = OtlpJsonToProtobuf(OtlpSignal::kTraces, kRequest);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto split = SplitByTrace(*pb);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(split->spans, 4u);
  EXPECT_EQ(split->invalid, 1u);
  EXPECT_EQ(split->invalid_message,
            "span with an invalid trace_id (0 bytes, 16 non-zero bytes required)");
  ASSERT_EQ(split->fragments.size(), 3u);
  const auto& a1 = split->fragments[0];
  const auto& b = split->fragments[1];
  const auto& a2 = split->fragments[2];
  EXPECT_EQ(a1.trace_id, Id("0000000000000000000000000000000a"));
  EXPECT_EQ(b.trace_id, Id("0000000000000000000000000000000b"));
  EXPECT_EQ(a2.trace_id, a1.trace_id);
  EXPECT_EQ(a1.spans, 2u);
  EXPECT_EQ(a1.start_ns, 1000);
  EXPECT_EQ(a1.end_ns, 6000);
  EXPECT_EQ(b.start_ns, 2000);
  EXPECT_EQ(b.end_ns, 3000);
  EXPECT_EQ(a2.spans, 1u);

  // Trace a as the protobuf JSON mapping writes it, derived by hand from the request: the
  // web resource with both of its scopes, then the db resource; zero values left out except
  // in AnyValue (a oneof); kind and status code by name; IDs in base64 (jsonpb's bytes).
  uint64_t spans = 0;
  const std::string trace = AssembleTrace({a1.resource_spans, a2.resource_spans}, &spans);
  EXPECT_EQ(spans, 3u);
  auto json = TraceJson(trace, {});
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(*json,
            R"({"batches":[{"resource":{"attributes":[{"key":"service.name","value":)"
            R"({"stringValue":"web"}}]},"scopeSpans":[{"scope":{"name":"http","version":"1.2"},)"
            R"("spans":[{"traceId":"AAAAAAAAAAAAAAAAAAAACg==","spanId":"AAAAAAAAAAE=",)"
            R"("name":"GET /","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1000",)"
            R"("endTimeUnixNano":"5000","attributes":[{"key":"n","value":{"intValue":"0"}},)"
            R"({"key":"ok","value":{"boolValue":false}},{"key":"ratio","value":)"
            R"({"doubleValue":0.5}}],"status":{}}]},{"scope":{"name":"db"},"spans":[)"
            R"({"traceId":"AAAAAAAAAAAAAAAAAAAACg==","spanId":"AAAAAAAAAAQ=",)"
            R"("parentSpanId":"AAAAAAAAAAE=","name":"SELECT","kind":"SPAN_KIND_CLIENT",)"
            R"("startTimeUnixNano":"1500","endTimeUnixNano":"6000"}]}],)"
            R"("schemaUrl":"https://opentelemetry.io/schemas/1.26.0"},)"
            R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"db"}}]},)"
            R"("scopeSpans":[{"spans":[{"traceId":"AAAAAAAAAAAAAAAAAAAACg==",)"
            R"("spanId":"AAAAAAAAAAU=","name":"query","startTimeUnixNano":"1600",)"
            R"("endTimeUnixNano":"1700","events":[{"timeUnixNano":"1650","name":"row"}],)"
            R"("links":[{"traceId":"AAAAAAAAAAAAAAAAAAAACw==","spanId":"AAAAAAAAAAI="}]}]}]}]})");

  auto hex = TraceJson(AssembleTrace({b.resource_spans}, nullptr),
                       {.root_key = "resourceSpans", .hex_ids = true});
  ASSERT_TRUE(hex.ok());
  EXPECT_NE(hex->find(R"({"resourceSpans":[)"), std::string::npos);
  EXPECT_NE(hex->find(R"("traceId":"0000000000000000000000000000000b")"), std::string::npos);
  EXPECT_NE(hex->find(R"("status":{"message":"boom","code":"STATUS_CODE_ERROR"})"),
            std::string::npos);
}

TEST(OtlpTracesTest, AssembleKeepsARetriedSpanOnce) {
  auto pb = OtlpJsonToProtobuf(OtlpSignal::kTraces, kRequest);
  ASSERT_TRUE(pb.ok());
  auto split = SplitByTrace(*pb);
  ASSERT_TRUE(split.ok());
  const auto& a1 = split->fragments[0].resource_spans;
  const auto& a2 = split->fragments[2].resource_spans;
  uint64_t spans = 0;
  // The same request stored twice: the second copy adds nothing, and the first is kept as
  // stored (TracesData field 1, length-delimited, per fragment).
  const std::string twice = AssembleTrace({a1, a2, a1, a2}, &spans);
  EXPECT_EQ(spans, 3u);
  std::string want;
  for (std::string_view rs : {std::string_view(a1), std::string_view(a2)}) {
    want.push_back('\x0a');
    PutUvarint(want, rs.size());
    want.append(rs);
  }
  EXPECT_EQ(twice, want);
}

TEST(OtlpTracesTest, RefusesMalformedInput) {
  EXPECT_FALSE(SplitByTrace(std::string("\x0a\x05\x12\x03\x12\x01", 6)).ok());
  EXPECT_EQ(TraceJson(std::string("\x0a\x04\x12\x02\x12\x05", 6), {}).status().code(),
            Status::Code::kCorruption);
}

}  // namespace
}  // namespace strata::proto
