// OTLP traces in, Tempo's trace-by-ID API out, against an in-process server: what a sender and
// Grafana's Tempo data source see, through a restart.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "base/coding.h"
#include "base/encoding.h"
#include "base/units.h"
#include "proto/otlp.h"
#include "server/server.h"
#include "test_util.h"

namespace strata {
namespace {
namespace bhttp = boost::beast::http;

// Trace a (two spans of two scopes), trace b (one span) and a span without a trace ID.
constexpr std::string_view kTwoTraces = R"({"resourceSpans":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
  "scopeSpans":[
    {"scope":{"name":"http"},"spans":[
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
       "name":"GET /cart","kind":2,"startTimeUnixNano":"1700000000000000000",
       "endTimeUnixNano":"1700000000250000000",
       "attributes":[{"key":"http.status_code","value":{"intValue":"200"}}],"status":{}},
      {"traceId":"0000000000000000000000000000000b","spanId":"0000000000000001",
       "name":"GET /b","startTimeUnixNano":"1700000001000000000",
       "endTimeUnixNano":"1700000002000000000"},
      {"spanId":"0000000000000002","name":"lost"}]},
    {"scope":{"name":"db","version":"2"},"spans":[
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000003",
       "parentSpanId":"eee19b7ec3c1b174","name":"SELECT","kind":"SPAN_KIND_CLIENT",
       "startTimeUnixNano":"1700000000100000000","endTimeUnixNano":"1700000000200000000",
       "status":{"code":"STATUS_CODE_ERROR","message":"timeout"}}]}]}]})";

// Trace a as Tempo's v1 API writes it (gogo jsonpb: IDs base64, enums by name, int64 as
// strings, zero values left out), worked out by hand from kTwoTraces, the IDs in base64 by
// Python's base64 module: 5b8efff7... is W47/95gDgQPSabYzgT/GDA==, eee19b7ec3c1b174 is
// 7uGbfsPBsXQ=.
constexpr std::string_view kTraceAJson =
    R"({"batches":[{"resource":{"attributes":[{"key":"service.name","value":)"
    R"({"stringValue":"shop"}}]},"scopeSpans":[{"scope":{"name":"http"},"spans":[)"
    R"({"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","name":"GET /cart",)"
    R"("kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000000",)"
    R"("endTimeUnixNano":"1700000000250000000","attributes":[{"key":"http.status_code",)"
    R"("value":{"intValue":"200"}}],"status":{}}]},{"scope":{"name":"db","version":"2"},)"
    R"("spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"AAAAAAAAAAM=",)"
    R"("parentSpanId":"7uGbfsPBsXQ=","name":"SELECT","kind":"SPAN_KIND_CLIENT",)"
    R"("startTimeUnixNano":"1700000000100000000","endTimeUnixNano":"1700000000200000000",)"
    R"("status":{"message":"timeout","code":"STATUS_CODE_ERROR"}}]}]}]})";

class TempoApiTest : public ::testing::Test {
 protected:
  void Start(server::Config c = {}) {
    c.listen = "127.0.0.1:0";
    c.grpc_listen = "";
    c.data_dir = dir_.path();
    c.threads = 2;
    srv_ = std::make_unique<server::StrataServer>(c);
    ASSERT_TRUE(srv_->Start().ok());
    ASSERT_TRUE(srv_->WaitReady().ok());
    client_ = std::make_unique<http::Client>("127.0.0.1", std::to_string(srv_->port()));
  }
  void Stop() {
    client_.reset();
    if (srv_) srv_->Shutdown();
    srv_.reset();
  }
  void TearDown() override { Stop(); }

  http::Response Do(http::Request req) {
    auto res = client_->Do(std::move(req));
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : http::Response();
  }
  http::Response Push(std::string_view path, std::string_view content_type, std::string body,
                      const std::string& tenant = "") {
    http::Request req(bhttp::verb::post, std::string(path), 11);
    req.set(bhttp::field::content_type, std::string(content_type));
    if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
    req.body() = std::move(body);
    return Do(std::move(req));
  }
  http::Response Get(const std::string& target, std::string_view accept = "",
                     const std::string& tenant = "") {
    http::Request req(bhttp::verb::get, target, 11);
    if (!accept.empty()) req.set(bhttp::field::accept, std::string(accept));
    if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
    return Do(std::move(req));
  }

  testing::TempDir dir_{"tempo-api"};
  std::unique_ptr<server::StrataServer> srv_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(TempoApiTest, PushedSpansComeBackAsTempoAnswers) {
  Start();
  auto res = Push("/v1/traces", "application/json", std::string(kTwoTraces));
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  // The span without a trace ID is OTLP's partial success; the others are stored.
  EXPECT_NE(res.body().find(R"("rejectedSpans":"1")"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("invalid trace_id"), std::string::npos) << res.body();

  res = Get("/api/traces/5b8efff798038103d269b633813fc60c");
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), "application/json");
  EXPECT_EQ(res.body(), kTraceAJson);
  // Upper case, and a short ID left-padded with zeros.
  EXPECT_EQ(Get("/api/traces/5B8EFFF798038103D269B633813FC60C").body(), kTraceAJson);
  res = Get("/api/traces/b");
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find(R"("name":"GET /b")"), std::string::npos);

  // v2: the trace under "resourceSpans", with the bytes inspected.
  res = Get("/api/v2/traces/5b8efff798038103d269b633813fc60c");
  ASSERT_EQ(res.result(), http::Status::ok);
  std::string v2_trace = std::string(kTraceAJson);
  v2_trace.replace(0, std::string_view(R"({"batches")").size(), R"({"resourceSpans")");
  ASSERT_EQ(res.body().rfind(R"({"trace":)" + v2_trace + R"(,"metrics":{"inspectedBytes":")", 0),
            0u)
      << res.body();
  EXPECT_EQ(res.body().substr(res.body().size() - 3), R"("}})");

  // Not found: v1 is a 404, v2 an empty trace; another tenant sees nothing.
  EXPECT_EQ(Get("/api/traces/0000000000000000000000000000000f").result(), http::Status::not_found);
  res = Get("/api/v2/traces/f");
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res.body(), R"({"trace":{},"metrics":{}})");
  EXPECT_EQ(Get("/api/traces/b", "", "other").result(), http::Status::not_found);

  // Tempo's words for bad requests.
  res = Get("/api/traces/5b8ezz");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(),
            "trace IDs can only contain hex characters: invalid character 'z' at position 5");
  // Go ranges over the ID's characters: a character whole, a byte that is not UTF-8 as U+FFFD,
  // at its byte position.
  EXPECT_EQ(Get("/api/traces/ab%C3%A9").body(),
            "trace IDs can only contain hex characters: invalid character '\u00e9' at position 3");
  EXPECT_EQ(Get("/api/traces/ab%FFcd").body(),
            "trace IDs can only contain hex characters: invalid character '\ufffd' at position 3");
  // blockStart and blockEnd are block UUIDs, checked as Go's uuid.Parse checks them.
  for (const std::string ok :
       {"00000000-0000-0000-0000-000000000000", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "urn:UUID:00000000-0000-0000-0000-000000000000",
        "x00000000-0000-0000-0000-000000000000x"}) {
    EXPECT_EQ(Get(fmt::format("/api/traces/b?blockStart={0}&blockEnd={0}", ok)).result(),
              http::Status::ok)
        << ok;
  }
  EXPECT_EQ(Get("/api/traces/b?blockStart=abc").body(),
            "invalid value for blockstart: invalid UUID length: 3");
  EXPECT_EQ(Get("/api/traces/b?blockEnd=0000000g-0000-0000-0000-000000000000").body(),
            "invalid value for blockEnd: invalid UUID format");
  EXPECT_EQ(Get("/api/traces/b?blockEnd=urn:uid:x00000000-0000-0000-0000-000000000000").body(),
            R"(invalid value for blockEnd: invalid urn prefix: "urn:uid:x")");
  EXPECT_EQ(Get("/api/traces/b?blockStart=abc&mode=ingesters").result(), http::Status::ok);
  EXPECT_EQ(Get("/api/traces/" + std::string(33, 'a')).body(),
            "trace IDs can't be larger than 128 bits");
  EXPECT_EQ(Get("/api/traces/b?start=200&end=100").body(),
            "http parameter start must be before end. received start=200 end=100");
  EXPECT_EQ(Get("/api/traces/b?start=abc").body(),
            R"(invalid start: strconv.ParseInt: parsing "abc": invalid syntax)");
  EXPECT_EQ(Get("/api/traces/b?mode=some").body(), "invalid value for mode some");
  EXPECT_EQ(Get("/api/traces/b?start=100&end=200&mode=blocks").result(), http::Status::ok);

  res = Get("/api/echo");
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res.body(), "echo\n");
  EXPECT_NE(Get("/api/status/buildinfo").body().find(R"("version":")"), std::string::npos);
}

// A search answer's body up to its metrics (which count bytes as stored).
std::string SearchTraces(const http::Response& res) {
  const std::string& body = res.body();
  return body.substr(0, body.find(R"(,"metrics":)"));
}

TEST_F(TempoApiTest, SearchAnswersAsTempo) {
  Start();
  ASSERT_EQ(Push("/v1/traces", "application/json", std::string(kTwoTraces)).result(),
            http::Status::ok);
  auto search = [&](const std::string& q, const std::string& more = "") {
    return Get("/api/search?q=" + PercentEncode(q, true) + more);
  };
  // Worked out from kTwoTraces: trace a's SELECT span is its one error, 100 ms long; a is
  // 250 ms from its root GET /cart, b one second, a second later (the newer: first).
  const std::string select_span =
      R"({"spans":[{"spanID":"0000000000000003","name":"SELECT",)"
      R"("startTimeUnixNano":"1700000000100000000","durationNanos":"100000000"}],"matched":1})";
  const std::string trace_a_errors =
      R"({"traces":[{"traceID":"5b8efff798038103d269b633813fc60c","rootServiceName":"shop",)"
      R"("rootTraceName":"GET /cart","startTimeUnixNano":"1700000000000000000",)"
      R"("durationMs":250,"spanSet":)" +
      select_span + R"(,"spanSets":[)" + select_span + "]}]";
  auto res = search("{ status = error }");
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(SearchTraces(res), trace_a_errors);
  EXPECT_NE(res.body().find(R"("metrics":{"inspectedTraces":2,"inspectedBytes":")"),
            std::string::npos)
      << res.body();
  // Every trace, newest first; IDs without leading zeros, as Tempo writes them.
  std::string all = SearchTraces(search("{}"));
  EXPECT_EQ(all.find(R"({"traces":[{"traceID":"b","rootServiceName":"shop",)"
                     R"("rootTraceName":"GET /b","startTimeUnixNano":"1700000001000000000",)"
                     R"("durationMs":1000,)"),
            0u)
      << all;
  EXPECT_NE(all.find(R"("traceID":"5b8efff798038103d269b633813fc60c")"), std::string::npos);
  // The attributes a query names come back with its spans.
  EXPECT_NE(SearchTraces(search("{ span.http.status_code = 200 }"))
                .find(R"("attributes":[{"key":"http.status_code","value":{"intValue":"200"}}])"),
            std::string::npos);
  // Tempo's older parameters: tags, durations, a time range, a limit.
  auto ids = [&](const std::string& target) {
    std::string body = Get(target).body();
    std::vector<std::string> out;
    for (size_t at = body.find(R"("traceID":")"); at != std::string::npos;
         at = body.find(R"("traceID":")", at + 1)) {
      size_t from = at + 11;
      out.push_back(body.substr(from, body.find('"', from) - from));
    }
    return out;
  };
  const std::string a = "5b8efff798038103d269b633813fc60c";
  EXPECT_EQ(ids("/api/search?tags=" + PercentEncode("name=SELECT service.name=shop", true)),
            std::vector<std::string>{a});
  EXPECT_EQ(ids("/api/search?tags=" + PercentEncode("name=nope", true)),
            std::vector<std::string>{});
  EXPECT_EQ(ids("/api/search?minDuration=500ms"), std::vector<std::string>{"b"});
  EXPECT_EQ(ids("/api/search?maxDuration=300ms"), std::vector<std::string>{a});
  EXPECT_EQ(ids("/api/search?start=1700000001&end=1700000003"), std::vector<std::string>{"b"});
  EXPECT_EQ(ids("/api/search?limit=1"), std::vector<std::string>{"b"});
  EXPECT_EQ(ids("/api/search?q=" + PercentEncode("{ } >> { kind = client }", true)),
            std::vector<std::string>{a});
  // Refusals, 400 with their reasons.
  res = search("{ .a = }");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(), "parse error at line 1, col 8: syntax error: unexpected }");
  EXPECT_EQ(Get("/api/search?limit=0").body(), "invalid limit: must be a positive number");
  EXPECT_EQ(Get("/api/search?minDuration=x").body(),
            "invalid minDuration: time: invalid duration \"x\"");
  EXPECT_EQ(search("{ 1 = \"a\" }").body(),
            "binary operations must operate on the same type: 1 = `a`");
  EXPECT_EQ(search("{} | rate()").result(), http::Status::bad_request);
  // From a block in the bucket, the same answer.
  ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(), http::Status::no_content);
  EXPECT_EQ(SearchTraces(search("{ status = error }")), trace_a_errors);
  Stop();
  Start();
  EXPECT_EQ(SearchTraces(search("{ status = error }")), trace_a_errors);
}

// The tag names and values Grafana's query builder offers, worked out from kTwoTraces: one
// resource attribute (service.name = shop), one span attribute (http.status_code = 200 on GET
// /cart), spans GET /cart, SELECT (a client span, in error) and GET /b.
TEST_F(TempoApiTest, TagLookupsAnswerAsTempo) {
  Start();
  ASSERT_EQ(Push("/v1/traces", "application/json", std::string(kTwoTraces)).result(),
            http::Status::ok);
  const std::string range = "start=1699999999&end=1700000010";
  // The body without its metrics (which count bytes as stored).
  auto answer = [&](const std::string& target) {
    auto res = Get(target + (target.find('?') == std::string::npos ? "?" : "&") + range);
    EXPECT_EQ(res.result(), http::Status::ok) << target << ": " << res.body();
    const std::string& body = res.body();
    return body.substr(0, body.find(R"("metrics":)"));
  };
  // Tempo's autocomplete list of intrinsics, in alphabetical order.
  const std::string intrinsics =
      R"(["duration","event:name","event:timeSinceStart","instrumentation:name",)"
      R"("instrumentation:version","kind","link:spanID","link:traceID","name",)"
      R"("rootName","rootServiceName","span:duration","span:id","span:kind","span:name",)"
      R"("span:parentID","span:status","span:statusMessage","status","statusMessage",)"
      R"("trace:duration","trace:id","trace:rootName","trace:rootService","traceDuration"])";
  EXPECT_EQ(answer("/api/v2/search/tags"), R"({"scopes":[{"name":"intrinsic","tags":)" +
                                               intrinsics +
                                               R"(},{"name":"resource","tags":["service.name"]},)"
                                               R"({"name":"span","tags":["http.status_code"]}],)");
  EXPECT_EQ(answer("/api/v2/search/tags?scope=span"),
            R"({"scopes":[{"name":"span","tags":["http.status_code"]}],)");
  EXPECT_EQ(answer("/api/search/tags"), R"({"tagNames":["http.status_code","service.name"],)");
  EXPECT_EQ(answer("/api/search/tags?scope=intrinsic"), R"({"tagNames":)" + intrinsics + ",");
  // Only the spans the query's filter matches.
  EXPECT_EQ(answer("/api/v2/search/tags?scope=span&q=" + PercentEncode("{ kind = client }", true)),
            "{");

  auto values = [&](const std::string& tag, const std::string& more = "") {
    return answer("/api/v2/search/tag/" + PercentEncode(tag, false) + "/values" + more);
  };
  EXPECT_EQ(values("resource.service.name"), R"({"tagValues":[{"type":"string","value":"shop"}],)");
  EXPECT_EQ(values("name"), R"({"tagValues":[{"type":"string","value":"GET /b"},)"
                            R"({"type":"string","value":"GET /cart"},)"
                            R"({"type":"string","value":"SELECT"}],)");
  EXPECT_EQ(values("name", "?q=" + PercentEncode("{ kind = client }", true)),
            R"({"tagValues":[{"type":"string","value":"SELECT"}],)");
  EXPECT_EQ(values("span.http.status_code"), R"({"tagValues":[{"type":"int","value":"200"}],)");
  EXPECT_EQ(values(".http.status_code"), R"({"tagValues":[{"type":"int","value":"200"}],)");
  EXPECT_EQ(values("span:status"), R"({"tagValues":[{"type":"keyword","value":"error"},)"
                                   R"({"type":"keyword","value":"ok"},)"
                                   R"({"type":"keyword","value":"unset"}],)");
  EXPECT_EQ(values("trace:id"), "{");  // IDs are never offered
  EXPECT_EQ(values("instrumentation:name"),
            R"({"tagValues":[{"type":"string","value":"db"},{"type":"string","value":"http"}],)");
  EXPECT_EQ(answer("/api/search/tag/service.name/values"), R"({"tagValues":["shop"],)");
  EXPECT_EQ(answer("/api/search/tag/status.code/values"),
            R"({"tagValues":["error","ok","unset"],)");
  EXPECT_EQ(answer("/api/search/tag/name/values?limit=1").size(),
            std::string(R"({"tagValues":["SELECT"],)").size());
  // Without start and end, the last hour: nothing of 2023.
  EXPECT_EQ(Get("/api/search/tags").body(), R"({"metrics":{"totalJobs":1,"completedJobs":1}})");
  // Refusals, 400 with their reasons.
  auto res = Get("/api/v2/search/tags?scope=bogus");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(), "invalid scope: bogus");
  res = Get("/api/v2/search/tag/a%20b/values");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_TRUE(res.body().starts_with(
      "please provide a valid tagName: failed to parse identifier a b: parse error"))
      << res.body();
  EXPECT_EQ(Get("/api/search/tag/name/values?limit=x").body(),
            "invalid limit: strconv.ParseUint: parsing \"x\": invalid syntax");
  // From a block in the bucket, the same answers.
  ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(), http::Status::no_content);
  EXPECT_EQ(answer("/api/search/tags"), R"({"tagNames":["http.status_code","service.name"],)");
  EXPECT_EQ(values("name", "?q=" + PercentEncode("{ kind = client }", true)),
            R"({"tagValues":[{"type":"string","value":"SELECT"}],)");
}

// TraceQL metrics over kTwoTraces, worked out by hand. With step 1s over [1700000000,
// 1700000002], Tempo's intervals end at 1700000000, ...01 and ...02 (s) and each holds the
// spans that start after the one before and by its end: GET /cart (server, starting at
// exactly ...00.0) the first; SELECT (client, error, at ...00.1) and GET /b (no kind, at
// exactly ...01.0) the second; nothing the third.
TEST_F(TempoApiTest, MetricsAnswerAsTempo) {
  Start();
  ASSERT_EQ(Push("/v1/traces", "application/json", std::string(kTwoTraces)).result(),
            http::Status::ok);
  // The body up to its metrics (which count bytes as stored).
  auto answer = [&](const std::string& path, const std::string& q, const std::string& more) {
    auto res = Get(path + "?q=" + PercentEncode(q, true) + more);
    EXPECT_EQ(res.result(), http::Status::ok) << q << ": " << res.body();
    const std::string& body = res.body();
    return body.substr(0, body.find(R"("metrics":)"));
  };
  const std::string range = "&start=1700000000&end=1700000002&step=1s";
  auto query_range = [&](const std::string& q) {
    return answer("/api/metrics/query_range", q, range);
  };
  const std::string name = R"({"key":"__name__","value":{"stringValue":"count_over_time"}})";
  // Zero values are left out, as jsonpb leaves them out.
  EXPECT_EQ(query_range("{} | count_over_time()"),
            R"({"series":[{"labels":[)" + name +
                R"(],"samples":[{"timestampMs":"1700000000000","value":1},)"
                R"({"timestampMs":"1700000001000","value":2},{"timestampMs":"1700000002000"}]}],)");
  auto kind = [](const std::string& k, const std::string& samples) {
    return R"({"labels":[{"key":"kind","value":{"stringValue":")" + k + R"("}}],"samples":[)" +
           samples + "]}";
  };
  EXPECT_EQ(query_range("{} | rate() by (kind)"),
            R"({"series":[)" +
                kind("client",
                     R"({"timestampMs":"1700000000000"},{"timestampMs":"1700000001000","value":1},)"
                     R"({"timestampMs":"1700000002000"})") +
                "," +
                kind("server",
                     R"({"timestampMs":"1700000000000","value":1},{"timestampMs":"1700000001000"},)"
                     R"({"timestampMs":"1700000002000"})") +
                "," +
                kind("unspecified",
                     R"({"timestampMs":"1700000000000"},{"timestampMs":"1700000001000","value":1},)"
                     R"({"timestampMs":"1700000002000"})") +
                "],");
  // Nothing matched: no series, an empty list.
  EXPECT_EQ(query_range("{ status = ok } | count_over_time()"), R"({"series":[],)");
  // Instant: one interval, (start, end].
  auto instant = [&](const std::string& q, const std::string& more) {
    return answer("/api/metrics/query", q, more);
  };
  EXPECT_EQ(instant("{ status = error } | count_over_time()", "&start=1700000000&end=1700000001"),
            R"({"series":[{"labels":[)" + name + R"(],"value":1}],)");
  EXPECT_EQ(instant("{ status = ok } | count_over_time()", "&start=1700000000&end=1700000001"),
            "{");
  // Arithmetic between queries: 1 span of 3 in error.
  EXPECT_EQ(instant("({ status = error } | count_over_time()) / ({} | count_over_time())",
                    "&start=1699999999&end=1700000002"),
            R"j({"series":[{"labels":[{"key":"__name__","value":{"stringValue":)j"
            R"j("(count_over_time / count_over_time)"}}],"value":0.3333333333333333}],)j");
  // Log2 buckets of 250 ms, 100 ms and 1 s: 2^28, 2^27, 2^30 ns; the median is the second,
  // the top of its bucket: 2^28 ns.
  EXPECT_EQ(instant("{} | quantile_over_time(duration, .5)", "&start=1699999999&end=1700000002"),
            R"({"series":[{"labels":[{"key":"p","value":{"doubleValue":0.5}}],)"
            R"("value":0.268435456}],)");
  // compare(): the error span SELECT is the selection, the others the baseline.
  const std::string compared =
      instant("{} | compare({ status = error })", "&start=1699999999&end=1700000002");
  EXPECT_NE(compared.find(R"({"labels":[{"key":"__meta_type","value":{"stringValue":"selection"}},)"
                          R"({"key":"name","value":{"stringValue":"SELECT"}}],"value":1})"),
            std::string::npos)
      << compared;
  EXPECT_NE(
      compared.find(R"({"labels":[{"key":"__meta_type","value":{"stringValue":"baseline_total"}},)"
                    R"({"key":"name","value":{"stringValue":"nil"}}],"value":2})"),
      std::string::npos)
      << compared;
  // Refusals, 400 with Tempo's reasons.
  auto refused = [&](const std::string& path, const std::string& q, const std::string& more) {
    auto res = Get(path + "?q=" + PercentEncode(q, true) + more);
    EXPECT_EQ(res.result(), http::Status::bad_request) << q << more;
    return res.body();
  };
  EXPECT_EQ(refused("/api/metrics/query_range", "{}", range), "not a metrics query");
  EXPECT_EQ(refused("/api/metrics/query_range", "{} | rate()", "&start=5&end=5"),
            "end must be greater than start");
  EXPECT_EQ(refused("/api/metrics/query_range", "{} | rate()", "&step=x"),
            "cannot parse \"x\" to a valid duration");
  EXPECT_EQ(refused("/api/metrics/query_range", "{} | rate()",
                    "&start=1700000000&end=1700000002&step=100us"),
            "step of 100\u00b5s is too small, minimum step for given range is 200\u00b5s");
  EXPECT_EQ(refused("/api/metrics/query", "{} | rate()", "&start=x"),
            "could not parse 'start' parameter: cannot parse \"x\" to a valid timestamp");
  // Times that would overflow when aligned to the step, and steps as large, are refused.
  EXPECT_EQ(
      refused("/api/metrics/query_range", "{} | rate()", "&start=0&end=9100000000&step=9000000000"),
      "could not parse 'end' parameter: a time after the year 2096");
  EXPECT_EQ(Get("/api/metrics/query_range?q=" + PercentEncode("{} | rate()", true) +
                "&since=200y&step=1000000000")
                .result(),
            http::Status::ok);
  // From a block in the bucket, the same answer.
  ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(), http::Status::no_content);
  EXPECT_EQ(query_range("{} | count_over_time()"),
            R"({"series":[{"labels":[)" + name +
                R"(],"samples":[{"timestampMs":"1700000000000","value":1},)"
                R"({"timestampMs":"1700000001000","value":2},{"timestampMs":"1700000002000"}]}],)");
}

// The metrics-generator writes span metrics and service graphs into the tenant's metrics,
// where PromQL finds them: three spans of shop that ended just now (GET /cart, a root server
// span; SELECT, a client span in error; GET /b), and GET /cart was called by no instrumented
// client: once the edge wait is over, by the virtual client `user`.
TEST_F(TempoApiTest, GeneratedMetricsAreQueryable) {
  server::Config c;
  c.generator.collection_interval_ms = 200;
  c.generator.edge_wait_ms = 100;
  Start(c);
  const int64_t now = NowNanos();
  std::string spans = std::string(kTwoTraces);
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, int64_t>>{{"1700000000000000000", now - 300'000'000},
                                                    {"1700000000250000000", now - 50'000'000},
                                                    {"1700000001000000000", now - 200'000'000},
                                                    {"1700000002000000000", now},
                                                    {"1700000000100000000", now - 200'000'000},
                                                    {"1700000000200000000", now - 100'000'000}}) {
    for (size_t at = spans.find(from); at != std::string::npos; at = spans.find(from)) {
      spans.replace(at, from.size(), std::to_string(to));
    }
  }
  ASSERT_EQ(Push("/v1/traces", "application/json", spans).result(), http::Status::ok);
  auto value = [&](const std::string& q) {
    std::string body;
    for (int i = 0; i < 100; ++i) {
      body = Get("/api/v1/query?query=" + PercentEncode(q, true)).body();
      if (body.find(R"("result":[])") == std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const size_t at = body.rfind(R"(,")");
    return at == std::string::npos ? body : body.substr(at + 2, body.find('"', at + 2) - at - 2);
  };
  EXPECT_EQ(value("sum(traces_spanmetrics_calls_total)"), "3");
  EXPECT_EQ(value("traces_spanmetrics_calls_total{service=\"shop\",span_name=\"SELECT\","
                  "span_kind=\"SPAN_KIND_CLIENT\",status_code=\"STATUS_CODE_ERROR\"}"),
            "1");
  EXPECT_EQ(value("traces_spanmetrics_latency_count{span_name=\"GET /b\"}"), "1");
  EXPECT_EQ(value("traces_service_graph_request_total{client=\"user\",server=\"shop\","
                  "connection_type=\"virtual_node\"}"),
            "1");
  // The bucket GET /b's 200 ms fell in carries its trace, 0...0b, as Tempo's exemplar.
  const std::string exemplars =
      Get("/api/v1/query_exemplars?query=" +
          PercentEncode(R"(traces_spanmetrics_latency_bucket{span_name="GET /b"})", true))
          .body();
  EXPECT_NE(exemplars.find(R"("le":"0.256")"), std::string::npos) << exemplars;
  EXPECT_NE(exemplars.find(R"("exemplars":[{"labels":{"traceID":"b"},"value":"0.2","timestamp":)"),
            std::string::npos)
      << exemplars;
}

TEST_F(TempoApiTest, ProtobufInIsProtobufOutAndSurvivesARestart) {
  Start();
  // A request of one trace: Tempo's protobuf answer (tempopb.Trace, field 1 the resource
  // spans, as ExportTraceServiceRequest's) must be these very bytes.
  const std::string one_trace = R"({"resourceSpans":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"pay"}},
                              {"key":"host.cpus","value":{"intValue":"0"}}]},
    "scopeSpans":[{"scope":{"name":"grpc"},"spans":[
      {"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"1011121314151617",
       "traceState":"k=v","name":"Pay","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2",
       "events":[{"timeUnixNano":"1","name":"sent","attributes":[
         {"key":"bytes","value":{"doubleValue":1.5}}]}],
       "links":[{"traceId":"0f0e0d0c0b0a09080706050403020100","spanId":"0102030405060708"}],
       "flags":257}],"schemaUrl":"s"}]}]})";
  auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, one_trace);
  ASSERT_TRUE(pb.ok());
  auto res = Push("/otlp/v1/traces", "application/x-protobuf", *pb, "team");
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(res.body(), "");  // an empty ExportTraceServiceResponse: nothing refused

  const std::string path = "/api/traces/000102030405060708090a0b0c0d0e0f";
  res = Get(path, "application/protobuf", "team");
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), "application/protobuf");
  EXPECT_EQ(res.body(), *pb);
  // The same spans sent again (a retry) are answered once.
  ASSERT_EQ(Push("/v1/traces", "application/x-protobuf", *pb, "team").result(), http::Status::ok);
  EXPECT_EQ(Get(path, "application/protobuf", "team").body(), *pb);

  Stop();
  Start();
  res = Get(path, "application/protobuf", "team");
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res.body(), *pb);
  // POST /flush cuts the head into a block in the bucket; the trace is read from there, also
  // by a server that starts from the bucket alone.
  ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(), http::Status::no_content);
  EXPECT_EQ(Get(path, "application/protobuf", "team").body(), *pb);
  Stop();
  std::filesystem::remove_all(dir_.path() + "/traces");
  Start();
  res = Get(path, "application/protobuf", "team");
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res.body(), *pb);
  // v2 in protobuf: TraceByIDResponse { trace = 1; metrics = 2 }.
  res = Get("/api/v2/traces/000102030405060708090a0b0c0d0e0f", "application/protobuf", "team");
  ASSERT_EQ(res.result(), http::Status::ok);
  std::string want_prefix = "\x0a";
  PutUvarint(want_prefix, pb->size());
  want_prefix += *pb;
  want_prefix += "\x12";
  EXPECT_EQ(res.body().substr(0, want_prefix.size()), want_prefix);
}

// A trace whose spans came in two pushes, each cut into a block of its own, is one trace in
// one block once the compactor inside the server has merged the blocks of its hour; the
// answer is both pushes' resource spans, in order, as before.
TEST_F(TempoApiTest, TheCompactorJoinsATraceCutIntoTwoBlocks) {
  server::Config c;
  c.compactor_interval_ms = 100;
  Start(c);
  auto part = [](std::string_view service, std::string_view span_id) {
    auto pb = proto::OtlpJsonToProtobuf(
        proto::OtlpSignal::kTraces,
        fmt::format(R"({{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name",
          "value":{{"stringValue":"{}"}}}}]}},"scopeSpans":[{{"spans":[
          {{"traceId":"00000000000000000000000000000abc","spanId":"{}","name":"work",
            "startTimeUnixNano":"1700000000000000000",
            "endTimeUnixNano":"1700000001000000000"}}]}}]}}]}})",
                    service, span_id));
    EXPECT_TRUE(pb.ok());
    return pb.ok() ? *pb : std::string();
  };
  const std::string first = part("web", "0000000000000001"),
                    second = part("db", "0000000000000002");
  for (const std::string* pb : {&first, &second}) {
    ASSERT_EQ(Push("/v1/traces", "application/x-protobuf", *pb, "team").result(), http::Status::ok);
    ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(),
              http::Status::no_content);
  }
  // Two level-1 blocks become one of level 2, and the two are marked for deletion.
  const std::string root = dir_.path() + "/bucket/team/traces";
  auto count = [&](std::string_view file, std::string_view holding) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
      std::ifstream in(e.path() / std::string(file));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (in && text.find(holding) != std::string::npos) ++n;
    }
    return n;
  };
  for (int i = 0; i < 200 && count("deletion-mark.json", "") < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(count("deletion-mark.json", ""), 2);
  EXPECT_EQ(count("meta.json", R"("level":2)"), 1);
  const std::string path = "/api/traces/00000000000000000000000000000abc";
  EXPECT_EQ(Get(path, "application/protobuf", "team").body(), first + second);
  // A server that starts from the bucket alone finds it too.
  Stop();
  std::filesystem::remove_all(dir_.path() + "/traces");
  Start();
  EXPECT_EQ(Get(path, "application/protobuf", "team").body(), first + second);
}

TEST_F(TempoApiTest, LimitsAnswerAsOtlpRequires) {
  server::Config c;
  c.limits.defaults.traces.max_bytes_per_trace = 400;
  c.limits.tenants["slow"] = c.limits.defaults;
  c.limits.tenants["slow"].traces.ingestion_rate_limit_bytes = 100;
  Start(c);
  // Spans that would take a trace over its size are refused: OTLP's partial success, which
  // senders must not retry.
  std::string spans;
  for (int i = 0; i < 10; ++i) {
    spans += fmt::format(R"({}{{"traceId":"0000000000000000000000000000000a",)"
                         R"("spanId":"{:016x}","name":"a rather long span name number {}"}})",
                         i ? "," : "", i + 1, i);
  }
  const std::string big = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + spans + "]}]}]}";
  auto res = Push("/v1/traces", "application/json", big);
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find(R"("rejectedSpans":"10")"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("TRACE_TOO_LARGE: max size of trace (400) exceeded while adding"),
            std::string::npos)
      << res.body();
  // Over the tenant's rate: 429, Retry-After and a google.rpc.Status body in the request's
  // encoding (protobuf here: code 8, RESOURCE_EXHAUSTED).
  auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, big);
  ASSERT_TRUE(pb.ok());
  res = Push("/v1/traces", "application/x-protobuf", *pb, "slow");
  EXPECT_EQ(res.result(), http::Status::too_many_requests);
  EXPECT_FALSE(std::string(res[bhttp::field::retry_after]).empty());
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), "application/x-protobuf");
  EXPECT_EQ(res.body().substr(0, 2), std::string("\x08\x08", 2));
  EXPECT_NE(res.body().find("RATE_LIMITED: ingestion rate limit (100 bytes) exceeded"),
            std::string::npos);
  // Malformed bodies: 400 with the reason, as a google.rpc.Status in JSON for a JSON request.
  res = Push("/v1/traces", "application/json", R"({"resourceSpans":[{"scopeSpans":{}}]})");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(), R"({"code":3,"message":"invalid OTLP/JSON request: )"
                        R"(ResourceSpans.scopeSpans: not an array"})");
  res = Push("/v1/traces", "application/x-protobuf", std::string("\x0a\x05\x12\x03\x12\x01", 6));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  std::string m = Do(http::Request(bhttp::verb::get, "/metrics", 11)).body();
  EXPECT_NE(m.find(R"(strata_ingest_rejected_spans_total{reason="trace_too_large",)"
                   R"(tenant="anonymous"} 10)"),
            std::string::npos);
  EXPECT_NE(m.find(R"(strata_ingest_rejected_spans_total{reason="rate_limited",tenant="slow"} 10)"),
            std::string::npos);
}

}  // namespace
}  // namespace strata
