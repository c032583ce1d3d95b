// The push APIs (remote write, OTLP metrics, Loki push) end to end, against an in-process server:
// status codes, messages and counters a sender sees.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/coding.h"
#include "base/units.h"
#include "http/compression.h"
#include "proto/loki.h"
#include "proto/remote_write.h"
#include "proto/wire.h"
#include "server/server.h"
#include "test_util.h"
#include "tsdb/db.h"

namespace strata {
namespace {
namespace bhttp = boost::beast::http;
using testing::LokiJson;
using testing::LokiPush;
using testing::PushRequest;

proto::WriteRequest OneSample(const std::string& name, int64_t t, double v, Labels extra = {}) {
  Labels l = {{"__name__", name}};
  l.insert(l.end(), extra.begin(), extra.end());
  proto::WriteRequest wr;
  wr.series.push_back({l, {{t, v}}});
  return wr;
}

class PushApiTest : public ::testing::Test {
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
  void TearDown() override {
    client_.reset();
    if (srv_) srv_->Shutdown();
  }
  http::Response Do(http::Request req) {
    auto res = client_->Do(std::move(req));
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : http::Response();
  }
  std::string Metrics() { return Do(http::Request(bhttp::verb::get, "/metrics", 11)).body(); }

  testing::TempDir dir_{"push-api"};
  std::unique_ptr<server::StrataServer> srv_;
  std::unique_ptr<http::Client> client_;
  const int64_t now_ = NowMillis();
};

TEST_F(PushApiTest, AcceptsOnBothPathsAndRetriesAreIdempotent) {
  Start();
  auto wr = OneSample("up", now_, 1, {{"job", "node"}});
  EXPECT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  EXPECT_EQ(Do(PushRequest(wr, "", "/api/v1/write")).result(), http::Status::no_content);
  EXPECT_NE(Metrics().find("strata_ingest_samples_duplicate_total{tenant=\"anonymous\"} 1"),
            std::string::npos);
}

TEST_F(PushApiTest, PartlyInvalidRequestKeepsValidSamplesAndExplains) {
  Start();
  proto::WriteRequest wr;
  wr.series.push_back({{{"__name__", "good"}}, {{now_, 1}, {now_ + 1000, 2}}});
  wr.series.push_back({{{"__name__", "bad-name"}}, {{now_, 1}}});
  wr.series.push_back({{{"__name__", "future"}}, {{now_ + 3'600'000, 1}}});
  auto res = Do(PushRequest(wr));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("rejected 2 of 4 samples"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("invalid_metric_name=1"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("too_far_in_future=1"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find(R"(series {__name__="bad-name"})"), std::string::npos) << res.body();
  // Out of order and conflicting duplicate.
  EXPECT_EQ(Do(PushRequest(OneSample("good", now_ - 1000, 5))).result(), http::Status::bad_request);
  auto dup = Do(PushRequest(OneSample("good", now_ + 1000, 7)));
  EXPECT_NE(dup.body().find("duplicate_timestamp=1"), std::string::npos) << dup.body();
  std::string m = Metrics();
  EXPECT_NE(
      m.find(R"(strata_ingest_rejected_samples_total{reason="out_of_order",tenant="anonymous"} 1)"),
      std::string::npos);
  EXPECT_NE(m.find(R"(strata_ingest_samples_stored_total{tenant="anonymous"} 2)"),
            std::string::npos);
}

TEST_F(PushApiTest, MalformedBodies) {
  Start();
  http::Request req = PushRequest(OneSample("x", now_, 1));
  req.body() = "definitely not snappy";
  auto res = Do(req);
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("snappy"), std::string::npos);
  req.body() = proto::SnappyCompress("\x0a\x05garbage");
  res = Do(req);
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("protobuf"), std::string::npos);
  // The same bytes as remote write 2.0: malformed too, with its written counts (none).
  req.set(bhttp::field::content_type,
          "application/x-protobuf;proto=io.prometheus.write.v2.Request");
  res = Do(req);
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("malformed remote write 2.0 protobuf"), std::string::npos);
  EXPECT_EQ(std::string(res["X-Prometheus-Remote-Write-Samples-Written"]), "0");
}

http::Request OtlpRequest(const std::string& content_type, std::string body) {
  http::Request req(bhttp::verb::post, "/otlp/v1/metrics", 11);
  req.set(bhttp::field::content_type, content_type);
  req.body() = std::move(body);
  return req;
}

// A remote write 2.0 request (io.prometheus.write.v2.Request) built field by field from its
// types.proto: series v2_metric{job="x"} with `samples` (value, ms), an exemplar
// {trace_id="t1"} 2 at the first sample's time, and metadata (GAUGE, help, unit). `refs` are the
// series' labels_refs.
http::Request V2Push(const std::vector<Sample>& samples,
                     const std::vector<uint32_t>& refs = {1, 2, 3, 4},
                     const std::string& content_type =
                         "application/x-protobuf;proto=io.prometheus.write.v2.Request") {
  std::string req;
  for (const char* sym :
       {"", "__name__", "v2_metric", "job", "x", "trace_id", "t1", "Help.", "seconds"}) {
    proto::PutBytesField(req, 4, sym);
  }
  std::string ts, packed;
  for (uint32_t r : refs) PutUvarint(packed, r);
  proto::PutBytesField(ts, 1, packed);
  for (const Sample& smp : samples) {
    std::string m;
    proto::PutDoubleField(m, 1, smp.v);
    proto::PutVarintField(m, 2, static_cast<uint64_t>(smp.t));
    proto::PutBytesField(ts, 2, m);
  }
  std::string e, ex_refs;
  PutUvarint(ex_refs, 5);
  PutUvarint(ex_refs, 6);
  proto::PutBytesField(e, 1, ex_refs);
  proto::PutDoubleField(e, 2, 2);
  proto::PutVarintField(e, 3, static_cast<uint64_t>(samples.empty() ? 0 : samples[0].t));
  proto::PutBytesField(ts, 4, e);
  std::string md;
  proto::PutVarintField(md, 1, 2);
  proto::PutVarintField(md, 3, 7);
  proto::PutVarintField(md, 4, 8);
  proto::PutBytesField(ts, 5, md);
  proto::PutBytesField(req, 5, ts);
  http::Request r(bhttp::verb::post, "/api/v1/write", 11);
  r.set(bhttp::field::content_type, content_type);
  r.set(bhttp::field::content_encoding, "snappy");
  r.set("X-Prometheus-Remote-Write-Version", "2.0.0");
  r.body() = proto::SnappyCompress(req);
  return r;
}

// Remote write 2.0 beside 1.0 on the same endpoint, told apart by Content-Type, with the
// written counts in the answer's headers whatever the outcome (the 2.0 spec).
TEST_F(PushApiTest, RemoteWrite2WithWrittenCounts) {
  Start();
  auto written = [](const http::Response& r) {
    return fmt::format("{}/{}/{}", std::string(r["X-Prometheus-Remote-Write-Samples-Written"]),
                       std::string(r["X-Prometheus-Remote-Write-Histograms-Written"]),
                       std::string(r["X-Prometheus-Remote-Write-Exemplars-Written"]));
  };
  auto res = Do(V2Push({{now_, 1}}));
  EXPECT_EQ(res.result(), http::Status::no_content) << res.body();
  EXPECT_EQ(written(res), "1/0/1");
  auto get = [&](const std::string& target) {
    return Do(http::Request(bhttp::verb::get, target, 11)).body();
  };
  EXPECT_NE(get("/api/v1/query?query=v2_metric&time=" + std::to_string(now_ / 1000 + 1))
                .find(R"("metric":{"__name__":"v2_metric","job":"x"})"),
            std::string::npos);
  EXPECT_NE(get("/api/v1/query_exemplars?query=v2_metric")
                .find(R"("exemplars":[{"labels":{"trace_id":"t1"},"value":"2",)"),
            std::string::npos);
  EXPECT_NE(get("/api/v1/metadata?metric=v2_metric")
                .find(R"({"v2_metric":[{"type":"gauge","help":"Help.","unit":"seconds"}]})"),
            std::string::npos);
  // An older sample: refused (400), one newer written; the counts say which.
  res = Do(V2Push({{now_ - 60'000, 3}, {now_ + 1000, 4}}));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(written(res), "1/0/0");  // the exemplar is older than the series' newest
  // Labels outside the symbols table: nothing written.
  res = Do(V2Push({{now_ + 2000, 5}}, {1, 2, 3, 40}));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("outside of the symbols table (size 9)"), std::string::npos);
  EXPECT_EQ(written(res), "0/0/0");
  // Another message than 1.0's or 2.0's: 415. 1.0 still answers without the headers.
  EXPECT_EQ(Do(V2Push({{now_, 1}}, {1, 2, 3, 4}, "application/x-protobuf;proto=io.example.Write"))
                .result(),
            http::Status::unsupported_media_type);
  res = Do(PushRequest(OneSample("v1_metric", now_, 1)));
  EXPECT_EQ(res.result(), http::Status::no_content);
  EXPECT_EQ(res.count("X-Prometheus-Remote-Write-Samples-Written"), 0u);
}

// Remote write 1.0 native histograms, each built field by field from prompb/types.proto
// (prometheus.Histogram); the expected JSON is worked out by hand from the bucket rules.
std::string HistogramRequest(int64_t t) {
  auto series = [](const std::string& name, const std::string& histogram) {
    std::string label, ts;
    proto::PutBytesField(label, 1, "__name__");
    proto::PutBytesField(label, 2, name);
    proto::PutBytesField(ts, 1, label);
    proto::PutBytesField(ts, 4, histogram);
    return ts;
  };
  auto span = [](uint64_t zigzag_offset, uint64_t length) {
    std::string s;
    proto::PutVarintField(s, 1, zigzag_offset);
    proto::PutVarintField(s, 2, length);
    return s;
  };
  // Integer, schema 1 (bounds 2^(k/2)): count 5 = zero bucket 1 + positive [1, 1] at
  // indexes 0 and 1 + negative 2 at index 1.
  std::string ih;
  proto::PutVarintField(ih, 1, 5);
  proto::PutDoubleField(ih, 3, 7.5);
  proto::PutVarintField(ih, 4, 2);  // sint32 1
  proto::PutDoubleField(ih, 5, 0.001);
  proto::PutVarintField(ih, 6, 1);
  proto::PutBytesField(ih, 8, span(2, 1));                   // offset 1
  proto::PutBytesField(ih, 9, std::string("\x04", 1));       // packed sint64 [2]
  proto::PutBytesField(ih, 11, span(0, 2));                  // offset 0
  proto::PutBytesField(ih, 12, std::string("\x02\x00", 2));  // packed sint64 [1, 0]
  proto::PutVarintField(ih, 15, static_cast<uint64_t>(t));
  // Float, custom buckets (schema -53) with bounds 0.5 and 1: counts 1, 0.5, 2.
  std::string fh;
  proto::PutDoubleField(fh, 2, 3.5);
  proto::PutDoubleField(fh, 3, 2);
  proto::PutVarintField(fh, 4, 105);  // sint32 -53
  proto::PutBytesField(fh, 11, span(0, 3));
  for (double c : {1.0, 0.5, 2.0}) proto::PutDoubleField(fh, 13, c);  // unpacked
  proto::PutVarintField(fh, 15, static_cast<uint64_t>(t));
  std::string bounds;
  PutDouble(bounds, 0.5);
  PutDouble(bounds, 1);
  proto::PutBytesField(fh, 16, bounds);
  // Invalid: count 3 but one observation in the buckets.
  std::string bad;
  proto::PutVarintField(bad, 1, 3);
  proto::PutBytesField(bad, 11, span(0, 1));
  proto::PutBytesField(bad, 12, std::string("\x02", 1));
  proto::PutVarintField(bad, 15, static_cast<uint64_t>(t));
  std::string req;
  proto::PutBytesField(req, 1, series("rpc_seconds", ih));
  proto::PutBytesField(req, 1, series("size_bytes", fh));
  proto::PutBytesField(req, 1, series("broken", bad));
  return req;
}

TEST_F(PushApiTest, NativeHistogramsAreStoredAndQueriedAndSurviveRestart) {
  Start();
  http::Request req(bhttp::verb::post, "/api/v1/push", 11);
  req.set(bhttp::field::content_type, "application/x-protobuf");
  req.set(bhttp::field::content_encoding, "snappy");
  req.body() = proto::SnappyCompress(HistogramRequest(now_));
  auto res = Do(req);
  EXPECT_EQ(res.result(), http::Status::bad_request);  // the invalid one
  EXPECT_NE(res.body().find("native histogram at " + std::to_string(now_) +
                            " is invalid: 1 observations found in buckets, but the Count field "
                            "is 3"),
            std::string::npos)
      << res.body();
  EXPECT_NE(Metrics().find("reason=\"invalid_native_histogram\""), std::string::npos);
  auto query = [&](const std::string& q) {
    return Do(http::Request(bhttp::verb::get,
                            "/api/v1/query?query=" + q + "&time=" + std::to_string(now_ / 1000 + 1),
                            11))
        .body();
  };
  const std::string rpc =
      R"("histogram":[)" + fmt::format("{}", now_ / 1000 + 1) +
      R"(,{"count":"5","sum":"7.5","buckets":[[1,"-1.414213562373095","-1","2"],)"
      R"([3,"-0.001","0.001","1"],[0,"0.7071067811865475","1","1"],[0,"1","1.414213562373095",)"
      R"("1"]]}])";
  const std::string size =
      R"({"count":"3.5","sum":"2","buckets":[[3,"-Inf","0.5","1"],[0,"0.5","1","0.5"],)"
      R"([0,"1","+Inf","2"]]})";
  for (int run = 0; run < 2; ++run) {
    SCOPED_TRACE(run == 0 ? "as written" : "after a restart (WAL replay)");
    EXPECT_NE(query("rpc_seconds").find(rpc), std::string::npos) << query("rpc_seconds");
    EXPECT_NE(query("size_bytes").find(size), std::string::npos) << query("size_bytes");
    EXPECT_NE(query("histogram_count(rpc_seconds)").find(R"("value":[)"), std::string::npos);
    EXPECT_NE(query("histogram_count(rpc_seconds)").find(R"(,"5"])"), std::string::npos);
    EXPECT_EQ(query("broken").find("histogram"), std::string::npos);
    srv_->Shutdown();
    client_.reset();
    srv_.reset();
    Start();
  }
}

TEST_F(PushApiTest, OtlpMetricsEndpoint) {
  Start();
  const std::string ns = std::to_string(now_) + "000000";
  // A cumulative counter is stored; a delta one has no Prometheus form and is refused, as a
  // partial success naming it.
  auto res = Do(OtlpRequest("application/json", R"({"resourceMetrics":[{
      "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeMetrics":[{"metrics":[
        {"name":"jobs.done","sum":{"aggregationTemporality":2,"isMonotonic":true,
         "dataPoints":[{"timeUnixNano":")" + ns + R"(","asInt":"3","exemplars":[
           {"timeUnixNano":")" + ns + R"(","asInt":"1",
            "traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"}]}]}},
        {"name":"jobs.delta","sum":{"aggregationTemporality":1,"isMonotonic":true,
         "dataPoints":[{"timeUnixNano":")" + ns + R"(","asInt":"1"}]}}]}]}]})"));
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), "application/json");
  EXPECT_NE(res.body().find(R"("rejectedDataPoints":"1")"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("jobs.delta"), std::string::npos) << res.body();
  std::string m = Metrics();
  EXPECT_NE(m.find(R"(strata_ingest_rejected_samples_total{reason="unsupported_otlp",)"
                   R"(tenant="anonymous"} 1)"),
            std::string::npos);
  EXPECT_NE(m.find(R"(strata_ingest_samples_stored_total{tenant="anonymous"} 1)"),
            std::string::npos);
  // The counter's exemplar, as Prometheus's OTLP receiver keeps it.
  EXPECT_NE(Do(http::Request(bhttp::verb::get, "/api/v1/query_exemplars?query=jobs_done_total", 11))
                .body()
                .find(R"("exemplars":[{"labels":{"span_id":"b7ad6b7169203331",)"
                      R"("trace_id":"0af7651916cd43dd8448eb211c80319c"},"value":"1",)"),
            std::string::npos);
  // Malformed and unsupported bodies are refused with the reason.
  res = Do(OtlpRequest("application/json", R"({"resourceMetrics":[{"scopeMetrics":{}}]})"));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("ResourceMetrics.scopeMetrics: not an array"), std::string::npos);
  res = Do(OtlpRequest("application/x-protobuf", "\x0a\x07trunc"));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(Do(OtlpRequest("text/plain", "x")).result(), http::Status::unsupported_media_type);
  http::Request gz = OtlpRequest("application/x-protobuf", "not gzip");
  gz.set(bhttp::field::content_encoding, "gzip");
  EXPECT_EQ(Do(gz).result(), http::Status::bad_request);
}

TEST_F(PushApiTest, BodyLimits) {
  server::Config c;
  c.max_request_body_bytes = 1000;
  c.push.max_decompressed_body_bytes = 5000;
  Start(c);
  proto::WriteRequest wr;
  for (int i = 0; i < 200; ++i) {
    wr.series.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{now_, 1}}});
  }
  auto res = Do(PushRequest(wr));
  EXPECT_EQ(res.result(), http::Status::payload_too_large) << res.body();
  // Compressible enough to pass the body limit, too large once decompressed.
  proto::WriteRequest big = OneSample("m", now_, 1, {{"v", std::string(2000, 'a')}});
  big.series.push_back(big.series[0]);
  big.series.push_back(big.series[0]);
  res = Do(PushRequest(big));
  EXPECT_EQ(res.result(), http::Status::payload_too_large) << res.body();
}

TEST_F(PushApiTest, TenantsAreIsolatedAndRequiredWhenConfigured) {
  server::Config c;
  c.push.tenants.require = true;
  Start(c);
  auto res = Do(PushRequest(OneSample("x", now_, 1)));
  EXPECT_EQ(res.result(), http::Status::unauthorized);
  EXPECT_NE(res.body().find("X-Scope-OrgID"), std::string::npos);
  // OTLP/HTTP answers in the request's encoding: a google.rpc.Status, 16 UNAUTHENTICATED.
  res = Do(OtlpRequest("application/json", R"({"resourceMetrics":[]})"));
  EXPECT_EQ(res.result(), http::Status::unauthorized);
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), "application/json");
  EXPECT_NE(res.body().find(R"("code":16,"message":")"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("X-Scope-OrgID"), std::string::npos);
  res = Do(OtlpRequest("application/x-protobuf", ""));
  EXPECT_EQ(res.result(), http::Status::unauthorized);
  EXPECT_EQ(std::string(res[bhttp::field::content_type]), "application/x-protobuf");
  EXPECT_EQ(res.body().substr(0, 2), std::string("\x08\x10"));  // code (field 1) = 16
  EXPECT_EQ(Do(PushRequest(OneSample("x", now_, 1), "team-a")).result(), http::Status::no_content);
  // The same series in another tenant is independent: an older sample is not out of order.
  EXPECT_EQ(Do(PushRequest(OneSample("x", now_ - 5000, 2), "team-b")).result(),
            http::Status::no_content);
  EXPECT_EQ(Do(PushRequest(OneSample("x", now_, 1), "../../etc")).result(),
            http::Status::bad_request);
}

TEST_F(PushApiTest, PerTenantOutOfOrderWindow) {
  server::Config c;
  limits::TenantLimits late = c.limits.defaults;
  late.ingest.out_of_order_window_ms = 60'000;
  c.limits.tenants["late"] = late;
  Start(c);
  for (const std::string tenant : {"late", "strict"}) {
    EXPECT_EQ(Do(PushRequest(OneSample("m", now_, 1), tenant)).result(), http::Status::no_content);
  }
  EXPECT_EQ(Do(PushRequest(OneSample("m", now_ - 30'000, 2), "late")).result(),
            http::Status::no_content);
  auto strict = Do(PushRequest(OneSample("m", now_ - 30'000, 2), "strict"));
  EXPECT_NE(strict.body().find("out_of_order=1"), std::string::npos) << strict.body();
  auto too_old = Do(PushRequest(OneSample("m", now_ - 120'000, 2), "late"));
  EXPECT_NE(too_old.body().find("too_old=1"), std::string::npos) << too_old.body();
}

TEST_F(PushApiTest, RateLimitAnswers429WithRetryAfter) {
  server::Config c;
  // Refills 1 sample/s: the second request stays over the limit even on a slow machine.
  c.limits.defaults.ingest.ingestion_rate = 1;
  c.limits.defaults.ingest.ingestion_burst = 20;
  Start(c);
  proto::WriteRequest wr;
  for (int i = 0; i < 15; ++i)
    wr.series.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{now_, 1}}});
  EXPECT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  auto res = Do(PushRequest(wr));
  EXPECT_EQ(res.result(), http::Status::too_many_requests);
  EXPECT_FALSE(res[bhttp::field::retry_after].empty());
  EXPECT_NE(Metrics().find(R"(reason="rate_limited",tenant="anonymous"} 15)"), std::string::npos);
}

// Without ingestion_burst, the bucket holds one second of the rate: a request of that many
// samples fits, one more never does.
TEST_F(PushApiTest, BurstDefaultsToOneSecondOfTheRate) {
  server::Config c;
  EXPECT_EQ(c.limits.defaults.ingest.ingestion_rate, 0);  // unlimited unless set
  c.limits.defaults.ingest.ingestion_rate = 10;
  Start(c);
  proto::WriteRequest wr;
  for (int i = 0; i < 10; ++i)
    wr.series.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{now_, 1}}});
  EXPECT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  wr.series.push_back({{{"__name__", "m"}, {"i", "10"}}, {{now_, 1}}});
  auto res = Do(PushRequest(wr));
  EXPECT_EQ(res.result(), http::Status::too_many_requests);
  EXPECT_NE(res.body().find("(burst 10)"), std::string::npos) << res.body();
}

TEST_F(PushApiTest, SeriesLimitsAndLabelRules) {
  server::Config c;
  c.limits.defaults.ingest.max_active_series = 3;
  c.limits.defaults.ingest.max_series_per_metric = 2;
  c.limits.defaults.ingest.reject_labels = {"user_id"};
  c.limits.defaults.ingest.drop_labels = {"pod_uid"};
  Start(c);
  for (int i = 0; i < 3; ++i) {
    auto res = Do(PushRequest(OneSample("a", now_, 1, {{"i", std::to_string(i)}})));
    EXPECT_EQ(res.result(), i < 2 ? http::Status::no_content : http::Status::bad_request)
        << res.body();
    if (i == 2) {
      EXPECT_NE(res.body().find("max_series_per_metric"), std::string::npos);
    }
  }
  EXPECT_EQ(Do(PushRequest(OneSample("b", now_, 1))).result(), http::Status::no_content);
  auto over = Do(PushRequest(OneSample("c", now_, 1)));
  EXPECT_NE(over.body().find("max_active_series"), std::string::npos) << over.body();
  auto uid = Do(PushRequest(OneSample("b", now_, 1, {{"user_id", "42"}})));
  EXPECT_NE(uid.body().find("rejected_label"), std::string::npos) << uid.body();
  // pod_uid is dropped, so this is the existing series b: a duplicate, accepted.
  EXPECT_EQ(Do(PushRequest(OneSample("b", now_, 1, {{"pod_uid", "x"}}))).result(),
            http::Status::no_content);
}

TEST_F(PushApiTest, SeriesKeepTheirOwnLabelsWhenOthersInTheRequestAreNormalized) {
  server::Config c;
  c.limits.defaults.ingest.drop_labels = {"pod_uid"};
  Start(c);
  proto::WriteRequest wr;
  wr.series.push_back({{{"__name__", "m"}, {"a", "1"}}, {{now_, 1}}});
  wr.series.push_back({{{"__name__", "m"}, {"a", "2"}, {"e", ""}, {"pod_uid", "x"}}, {{now_, 2}}});
  wr.series.push_back({{{"__name__", "m"}, {"a", "3"}}, {{now_, 3}}});
  wr.series.push_back({{{"__name__", "m"}, {"a", "4"}, {"pod_uid", "y"}}, {{now_, 4}}});
  ASSERT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  srv_->Shutdown();
  client_.reset();
  srv_.reset();
  tsdb::Head head;
  ASSERT_TRUE(tsdb::Db::ReadInto(dir_.path() + "/tenants/anonymous", head, nullptr).ok());
  EXPECT_EQ(head.num_series(), 4u);
  for (const char* a : {"1", "2", "3", "4"}) {
    std::vector<LabelView> want = {{"__name__", "m"}, {"a", a}};
    EXPECT_NE(head.Find(HashLabels(want), want), nullptr) << "a=" << a;
  }
}

TEST_F(PushApiTest, SeriesFromTheWalAreValidatedAgainstTodaysLimits) {
  // Stored under yesterday's limits, the series is in the head again after the restart:
  // today's rules still apply to its samples, the first time and every time after.
  Start();
  EXPECT_EQ(Do(PushRequest(OneSample("m", now_, 1, {{"user_id", "7"}}))).result(),
            http::Status::no_content);
  EXPECT_EQ(Do(PushRequest(OneSample("ok", now_, 1))).result(), http::Status::no_content);
  srv_->Shutdown();
  client_.reset();
  srv_.reset();
  server::Config c;
  c.limits.defaults.ingest.reject_labels = {"user_id"};
  c.limits.defaults.ingest.max_label_value_length = 1;
  Start(c);
  for (int i = 0; i < 2; ++i) {
    auto res = Do(PushRequest(OneSample("m", now_ + 1 + i, 2, {{"user_id", "7"}})));
    EXPECT_EQ(res.result(), http::Status::bad_request) << "try " << i;
    EXPECT_NE(res.body().find("rejected_label"), std::string::npos) << res.body();
    auto long_value = Do(PushRequest(OneSample("ok", now_ + 1 + i, 2)));
    EXPECT_EQ(long_value.result(), http::Status::bad_request) << "try " << i;
    EXPECT_NE(long_value.body().find("the limit is 1"), std::string::npos) << long_value.body();
  }
}

TEST_F(PushApiTest, MetadataIsStoredAndSurvivesRestart) {
  Start();
  proto::WriteRequest wr = OneSample("http_requests_total", now_, 1);
  wr.metadata.push_back(
      {proto::MetricType::kCounter, "http_requests_total", "Requests served.", ""});
  EXPECT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  srv_->Shutdown();
  client_.reset();
  srv_.reset();
  tsdb::Head head;
  std::map<std::string, tsdb::MetricMetadata> md;
  ASSERT_TRUE(tsdb::Db::ReadInto(dir_.path() + "/tenants/anonymous", head, &md).ok());
  ASSERT_EQ(md.count("http_requests_total"), 1u);
  EXPECT_EQ(md["http_requests_total"].help, "Requests served.");
  EXPECT_EQ(md["http_requests_total"].type, static_cast<uint8_t>(proto::MetricType::kCounter));
  EXPECT_EQ(head.num_series(), 1u);
}

// Both encodings are taken and answered 204 once durable; after a restart the same pushes
// find every entry stored, byte for byte (a retry is recognised only when timestamp, line and
// structured metadata are all equal), so nothing is stored twice.
TEST_F(PushApiTest, LokiPushIsDurableAndRetriesAreIdempotent) {
  Start();
  const int64_t ns = now_ * 1'000'000;
  const std::string a = LokiJson("api", ns, 20), b = LokiJson("db", ns, 7);
  EXPECT_EQ(Do(LokiPush(a, false)).result(), http::Status::no_content);
  EXPECT_EQ(Do(LokiPush(b, true)).result(), http::Status::no_content);
  EXPECT_NE(Metrics().find(R"(strata_ingest_log_entries_stored_total{tenant="anonymous"} 27)"
                           "\n"),
            std::string::npos);
  srv_->Shutdown();
  client_.reset();
  Start();
  EXPECT_EQ(Do(LokiPush(a, true)).result(), http::Status::no_content);
  EXPECT_EQ(Do(LokiPush(b, false)).result(), http::Status::no_content);
  std::string m = Metrics();
  EXPECT_NE(m.find(R"(strata_ingest_log_entries_duplicate_total{tenant="anonymous"} 27)"
                   "\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(strata_ingest_log_entries_stored_total{tenant="anonymous"} 0)"
                   "\n"),
            std::string::npos);
  // One byte of a line changed is a new entry.
  std::string changed = b;
  changed.replace(changed.find("line 3"), 6, "line 4");
  EXPECT_EQ(Do(LokiPush(changed, false)).result(), http::Status::no_content);
  EXPECT_NE(Metrics().find(R"(strata_ingest_log_entries_stored_total{tenant="anonymous"} 1)"
                           "\n"),
            std::string::npos);
}

// Valid entries of a partly invalid push are stored; the 400 names each refusal in Loki's
// words and counts them by Loki's reasons.
TEST_F(PushApiTest, LokiPushPartlyInvalidKeepsValidEntries) {
  server::Config c;
  c.limits.defaults.logs.max_line_size = 100;
  c.limits.defaults.logs.max_label_names_per_series = 3;
  Start(c);
  const int64_t ns = now_ * 1'000'000;
  const int64_t day = int64_t{86'400} * 1'000'000'000;
  std::string json = fmt::format(
      R"({{"streams":[
        {{"stream":{{"app":"ok"}},"values":[["{}","fine"],["{}","{}"],["{}","ancient"],
                                           ["{}","future"]]}},
        {{"stream":{{"a":"1","b":"2","c":"3","d":"4"}},"values":[["{}","wide"]]}}]}})",
      ns, ns + 1, std::string(101, 'x'), ns - 8 * day, ns + day, ns);
  auto res = Do(LokiPush(json, false));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  const std::string& body = res.body();
  EXPECT_NE(body.find("rejected 4 of 5 entries"), std::string::npos) << body;
  EXPECT_NE(body.find("max entry size '100' bytes exceeded for stream '{app=\"ok\"}' while adding "
                      "an entry with length '101' bytes"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("entry for stream '{app=\"ok\"}' has timestamp too old: " +
                      FormatRfc3339(ns - 8 * day)),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("has timestamp too new: " + FormatRfc3339(ns + day)), std::string::npos)
      << body;
  EXPECT_NE(body.find("has 4 label names; limit 3"), std::string::npos) << body;
  std::string m = Metrics();
  EXPECT_NE(m.find(R"(strata_ingest_log_entries_stored_total{tenant="anonymous"} 1)"
                   "\n"),
            std::string::npos);
  EXPECT_NE(
      m.find(
          R"(strata_ingest_rejected_log_entries_total{reason="greater_than_max_sample_age",tenant="anonymous"} 1)"
          "\n"),
      std::string::npos);
}

// Lines over max_line_size are cut (at a character boundary) when truncation is on; an entry
// too far behind its stream's newest is refused in Loki's words.
TEST_F(PushApiTest, LokiPushTruncatesAndRefusesEntriesTooFarBehind) {
  server::Config c;
  c.limits.defaults.logs.max_line_size = 5;
  c.limits.defaults.logs.max_line_size_truncate = true;
  Start(c);
  const int64_t ns = now_ * 1'000'000;
  auto push = [&](int64_t ts, const std::string& line) {
    return Do(
        LokiPush(fmt::format(R"({{"streams":[{{"stream":{{"app":"t"}},"values":[["{}","{}"]]}}]}})",
                             ts, line),
                 false));
  };
  // "abcd" + "é" (2 bytes, at bytes 4-5): cut to "abcd", as an identical retry shows.
  EXPECT_EQ(push(ns, "abcd\u00e9f").result(), http::Status::no_content);
  EXPECT_EQ(push(ns, "abcd").result(), http::Status::no_content);
  EXPECT_NE(Metrics().find(R"(strata_ingest_log_entries_duplicate_total{tenant="anonymous"} 1)"
                           "\n"),
            std::string::npos);
  auto behind = push(ns - int64_t{2} * 3600 * 1'000'000'000, "late");
  EXPECT_EQ(behind.result(), http::Status::bad_request);
  EXPECT_NE(behind.body().find("entry too far behind, entry timestamp is: " +
                               FormatRfc3339(ns - int64_t{2} * 3600 * 1'000'000'000) +
                               ", oldest acceptable timestamp is: " +
                               FormatRfc3339(ns - int64_t{3600} * 1'000'000'000)),
            std::string::npos)
      << behind.body();
}

// Label names and values over their lengths, and structured metadata over its size or count,
// are refused in Loki's words, the valid entry kept; a burst above the rate is taken once.
TEST_F(PushApiTest, LokiPushRefusesLabelsAndMetadataOverTheirLimits) {
  server::Config c;
  c.limits.defaults.logs.max_label_name_length = 10;
  c.limits.defaults.logs.max_label_value_length = 10;
  c.limits.defaults.logs.max_structured_metadata_size = 20;
  c.limits.defaults.logs.max_structured_metadata_entries_count = 2;
  Start(c);
  const int64_t ns = now_ * 1'000'000;
  std::string json = fmt::format(
      R"({{"streams":[
        {{"stream":{{"a_long_label":"x"}},"values":[["{0}","name"]]}},
        {{"stream":{{"app":"a_long_value"}},"values":[["{0}","value"]]}},
        {{"stream":{{"app":"ok"}},"values":[["{0}","big",{{"k":"0123456789012345678901"}}],
                                           ["{1}","many",{{"a":"1","b":"2","c":"3"}}],
                                           ["{2}","fine",{{"a":"1","b":"2"}}]]}}]}})",
      ns, ns + 1, ns + 2);
  auto res = Do(LokiPush(json, false));
  EXPECT_EQ(res.result(), http::Status::bad_request);
  const std::string& body = res.body();
  EXPECT_NE(body.find("rejected 4 of 5 entries"), std::string::npos) << body;
  EXPECT_NE(body.find("stream '{a_long_label=\"x\"}' has label name too long: 'a_long_label'"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("stream '{app=\"a_long_value\"}' has label value too long: 'a_long_value'"),
            std::string::npos)
      << body;
  // 1 + 22 bytes of name and value.
  EXPECT_NE(body.find("stream '{app=\"ok\"}' has structured metadata too large: '23' bytes, "
                      "limit: '20' bytes"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("stream '{app=\"ok\"}' has too many structured metadata labels: '3', "
                      "limit: '2'"),
            std::string::npos)
      << body;
  EXPECT_NE(Metrics().find(R"(strata_ingest_log_entries_stored_total{tenant="anonymous"} 1)"
                           "\n"),
            std::string::npos);
}

TEST_F(PushApiTest, LokiPushBurstAboveTheRateIsTakenOnce) {
  server::Config c;
  c.limits.defaults.logs.ingestion_rate_mb = 1.0 / 1024;        // 1 KiB/s
  c.limits.defaults.logs.ingestion_burst_size_mb = 8.0 / 1024;  // 8 KiB at once
  Start(c);
  const int64_t ns = now_ * 1'000'000;
  // 5 KiB of lines: over the rate, within the burst; the same again right after is not.
  auto push = [&](int64_t ts) {
    std::string values;
    for (int i = 0; i < 5; ++i) {
      values += fmt::format(R"({}["{}","{}"])", i ? "," : "", ts + i, std::string(1024, 'a' + i));
    }
    return Do(LokiPush(
        fmt::format(R"({{"streams":[{{"stream":{{"app":"b"}},"values":[{}]}}]}})", values), false));
  };
  EXPECT_EQ(push(ns).result(), http::Status::no_content);
  auto again = push(ns + 10);
  EXPECT_EQ(again.result(), http::Status::too_many_requests);
  EXPECT_NE(again.body().find("ingestion rate limit exceeded for user anonymous (limit: 1024 "
                              "bytes/sec) while attempting to ingest '5' lines totaling '5120' "
                              "bytes"),
            std::string::npos)
      << again.body();
}

TEST_F(PushApiTest, LokiPushLimitsAndMalformedBodies) {
  server::Config c;
  c.limits.defaults.logs.ingestion_rate_mb = 1.0 / 1024;  // 1 KiB/s
  c.limits.defaults.logs.max_global_streams_per_user = 1;
  Start(c);
  const int64_t ns = now_ * 1'000'000;
  EXPECT_EQ(Do(LokiPush(LokiJson("one", ns, 1), false)).result(), http::Status::no_content);
  // A second stream is over the tenant's stream limit: 429 naming it.
  auto streams = Do(LokiPush(LokiJson("two", ns, 1), false));
  EXPECT_EQ(streams.result(), http::Status::too_many_requests);
  EXPECT_NE(streams.body().find("maximum active stream limit exceeded"), std::string::npos)
      << streams.body();
  // Over the byte rate: 429 with Retry-After, nothing stored.
  auto rate = Do(LokiPush(LokiJson("one", ns + 100, 100), false));
  EXPECT_EQ(rate.result(), http::Status::too_many_requests);
  EXPECT_FALSE(rate[bhttp::field::retry_after].empty());
  EXPECT_NE(rate.body().find("ingestion rate limit exceeded for user anonymous (limit: 1024 "
                             "bytes/sec) while attempting to ingest '100' lines"),
            std::string::npos)
      << rate.body();
  // No streams; a body that is not snappy; an unknown encoding.
  EXPECT_EQ(Do(LokiPush(R"({"streams":[]})", true)).result(), http::Status::unprocessable_entity);
  http::Request bad = LokiPush(LokiJson("one", ns, 1), false);
  bad.body() = "not snappy";
  EXPECT_EQ(Do(bad).result(), http::Status::bad_request);
  bad.set(bhttp::field::content_encoding, "br");
  EXPECT_EQ(Do(bad).result(), http::Status::unsupported_media_type);
}

TEST_F(PushApiTest, HealthReadyBuildinfo) {
  Start();
  EXPECT_EQ(Do(http::Request(bhttp::verb::get, "/-/healthy", 11)).result(), http::Status::ok);
  EXPECT_EQ(Do(http::Request(bhttp::verb::get, "/-/ready", 11)).result(), http::Status::ok);
  auto bi = Do(http::Request(bhttp::verb::get, "/api/v1/status/buildinfo", 11));
  EXPECT_NE(bi.body().find(R"("status":"success")"), std::string::npos);
  EXPECT_NE(bi.body().find(R"("version":")"), std::string::npos);
}

// "/" is a status page naming the tenants that wrote; other unknown paths stay 404.
TEST_F(PushApiTest, RootStatusPage) {
  Start();
  ASSERT_EQ(Do(PushRequest(OneSample("m", now_, 1), "team-a")).result(), http::Status::no_content);
  auto page = Do(http::Request(bhttp::verb::get, "/", 11));
  EXPECT_EQ(page.result(), http::Status::ok);
  EXPECT_EQ(page[bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_NE(page.body().find("<li>team-a (1 series in the head)</li>"), std::string::npos)
      << page.body();
  EXPECT_NE(page.body().find("Ready."), std::string::npos);
  EXPECT_NE(page.body().find(R"(href="/metrics")"), std::string::npos);
  EXPECT_EQ(Do(http::Request(bhttp::verb::get, "/nope", 11)).result(), http::Status::not_found);
  auto config = Do(http::Request(bhttp::verb::get, "/api/v1/status/config", 11));
  EXPECT_EQ(config.body(), R"({"status":"success","data":{"yaml":""}})");
}

}  // namespace
}  // namespace strata
