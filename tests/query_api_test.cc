// The Prometheus query API end to end against an in-process server: exact JSON, error types
// and codes, form POSTs, gzip, tenants, limits.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "base/encoding.h"
#include "base/units.h"
#include "server/server.h"
#include "test_util.h"

namespace strata {
namespace {
namespace bhttp = boost::beast::http;
using testing::PushRequest;

class QueryApiTest : public ::testing::Test {
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
    // Two series, 10 samples 15 s apart, for two tenants.
    proto::WriteRequest wr;
    wr.series.push_back({{{"__name__", "req_total"}, {"code", "200"}, {"job", "api"}}, {}});
    wr.series.push_back({{{"__name__", "req_total"}, {"code", "500"}, {"job", "api"}}, {}});
    for (int i = 0; i < 10; ++i) {
      wr.series[0].samples.push_back({t0_ + int64_t{i} * 15000, 100.0 * i});
      wr.series[1].samples.push_back({t0_ + int64_t{i} * 15000, 1.0 * i});
    }
    ASSERT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
    wr.series.resize(1);
    wr.series[0].labels[0].value = "other_total";
    ASSERT_EQ(Do(PushRequest(wr, "team-b")).result(), http::Status::no_content);
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
  http::Response Get(const std::string& target, const std::string& tenant = "") {
    http::Request req(bhttp::verb::get, target, 11);
    if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
    return Do(std::move(req));
  }
  std::string T(int64_t ms) { return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000); }

  testing::TempDir dir_{"query-api"};
  std::unique_ptr<server::StrataServer> srv_;
  std::unique_ptr<http::Client> client_;
  // A whole second, so timestamps print without fractions.
  const int64_t t0_ = (NowMillis() / 1000 - 600) * 1000;
};

TEST_F(QueryApiTest, InstantAndRangeQueriesAnswerPrometheusJson) {
  Start();
  int64_t t = t0_ + int64_t{9} * 15000;
  auto res =
      Get("/api/v1/query?query=req_total%7Bcode%3D%22500%22%7D&time=" + std::to_string(t / 1000));
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(
      res.body(),
      R"j({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"req_total","code":"500","job":"api"},"value":[)j" +
          std::to_string(t / 1000) + R"j(,"9"]}]}})j");

  res = Get("/api/v1/query_range?query=sum(rate(req_total[1m]))&start=" +
            std::to_string(t / 1000 - 60) + "&end=" + std::to_string(t / 1000) + "&step=30");
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find(R"j("resultType":"matrix","result":[{"metric":{},"values":[[)j"),
            std::string::npos)
      << res.body();
  EXPECT_NE(res.body().find(R"j(,"6.7333333333333325"])j"), std::string::npos) << res.body();

  res = Get("/api/v1/query?query=scalar(vector(1.5))&time=100.25");
  EXPECT_EQ(res.body(),
            R"j({"status":"success","data":{"resultType":"scalar","result":[100.250,"1.5"]}})j");
  res = Get("/api/v1/query?query=%22hi%22&time=1");
  EXPECT_EQ(res.body(),
            R"j({"status":"success","data":{"resultType":"string","result":[1,"hi"]}})j");
  res = Get("/api/v1/query?query=1%2F0&time=1");
  EXPECT_NE(res.body().find(R"j("+Inf")j"), std::string::npos);
}

TEST_F(QueryApiTest, FormPostAndAnnotations) {
  Start();
  http::Request req(bhttp::verb::post, "/api/v1/query", 11);
  req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
  req.body() = "query=rate(req_total%5B1m%5D)+%2B+rate(req_count%5B1m%5D)&time=" +
               std::to_string((t0_ + 60000) / 1000);
  req.prepare_payload();
  auto res = Do(std::move(req));
  EXPECT_EQ(res.result(), http::Status::ok) << res.body();
  req = http::Request(bhttp::verb::post, "/api/v1/query", 11);
  req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
  req.body() = "query=rate(req%5B1m%5D)j";
  req.prepare_payload();
  Do(std::move(req));
  // A rate over a metric whose name does not look like a counter carries an info annotation.
  proto::WriteRequest wr;
  wr.series.push_back({{{"__name__", "temperature"}}, {{t0_, 1}, {t0_ + 15000, 2}}});
  ASSERT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  res = Get("/api/v1/query?query=rate(temperature%5B1m%5D)&time=" +
            std::to_string((t0_ + 30000) / 1000));
  EXPECT_NE(
      res.body().find(
          R"j("infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temperature\" (1:6)"])j"),
      std::string::npos)
      << res.body();
}

TEST_F(QueryApiTest, ErrorsCarryPrometheusTypesAndCodes) {
  Start();
  auto res = Get("/api/v1/query?query=sum(");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(
      res.body(),
      R"j({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"})j");
  res = Get("/api/v1/query?query=up&time=yesterday");
  EXPECT_EQ(
      res.body(),
      R"j({"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp"})j");
  res = Get("/api/v1/query_range?query=up&start=0&end=100000&step=1");
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("exceeded maximum resolution of 11,000 points"), std::string::npos);
  res = Get("/api/v1/query_range?query=up&start=10&end=0&step=1");
  EXPECT_NE(res.body().find("end timestamp must not be before start time"), std::string::npos);
  res = Get("/api/v1/query_range?query=up&start=0&end=10&step=0");
  EXPECT_NE(res.body().find("zero or negative query resolution step"), std::string::npos);
  res = Get("/api/v1/query?query=req_total%20%2B%20on()%20req_total&time=" +
            std::to_string((t0_ + 60000) / 1000));
  EXPECT_EQ(res.result(), http::Status::unprocessable_entity);
  EXPECT_NE(res.body().find(R"j("errorType":"execution")j"), std::string::npos) << res.body();
  res = Get("/api/v1/series");
  EXPECT_EQ(
      res.body(),
      R"j({"status":"error","errorType":"bad_data","error":"no match[] parameter provided"})j");
  res = Get("/api/v1/query?query=up", "../etc");
  EXPECT_EQ(res.result(), http::Status::bad_request);
}

TEST_F(QueryApiTest, TooManySamplesIsAnExecutionError) {
  server::Config c;
  c.limits.defaults.query.max_samples = 5;
  Start(c);
  auto res = Get("/api/v1/query?query=sum_over_time(req_total%5B10m%5D)&time=" +
                 std::to_string((t0_ + 150000) / 1000));
  EXPECT_EQ(res.result(), http::Status::unprocessable_entity);
  EXPECT_NE(res.body().find("query processing would load too many samples into memory"),
            std::string::npos)
      << res.body();
}

TEST_F(QueryApiTest, TenantsSeeOnlyTheirData) {
  Start();
  std::string t = std::to_string((t0_ + 150000) / 1000);
  EXPECT_NE(Get("/api/v1/query?query=count(%7B__name__%3D~%22.%2B%22%7D)&time=" + t)
                .body()
                .find(R"j(,"2"])j"),
            std::string::npos);
  auto b =
      Get("/api/v1/query?query=count(%7B__name__%3D~%22.%2B%22%7D)&time=" + t, "team-b").body();
  EXPECT_NE(b.find(R"j(,"1"])j"), std::string::npos) << b;
  EXPECT_EQ(Get("/api/v1/label/__name__/values", "team-b").body(),
            R"j({"status":"success","data":["other_total"]})j");
  EXPECT_EQ(Get("/api/v1/label/__name__/values", "nobody").body(),
            R"j({"status":"success","data":[]})j");
}

TEST_F(QueryApiTest, SeriesLabelsAndValues) {
  Start();
  EXPECT_EQ(Get("/api/v1/labels").body(),
            R"j({"status":"success","data":["__name__","code","job"]})j");
  EXPECT_EQ(Get("/api/v1/label/code/values").body(),
            R"j({"status":"success","data":["200","500"]})j");
  EXPECT_EQ(Get("/api/v1/label/code/values?match[]=req_total%7Bcode%3D%22500%22%7D").body(),
            R"j({"status":"success","data":["500"]})j");
  EXPECT_EQ(
      Get("/api/v1/series?match[]=req_total&limit=1").body(),
      R"j({"status":"success","data":[{"__name__":"req_total","code":"200","job":"api"}],"warnings":["results truncated due to limit"]})j");
  EXPECT_EQ(Get("/api/v1/format_query?query=sum(x)by(a)").body(),
            R"j({"status":"success","data":"sum by (a) (x)"})j");
  auto st = Get("/api/v1/status/tsdb").body();
  EXPECT_NE(st.find(R"j("seriesCountByMetricName":[{"name":"req_total","value":2}])j"),
            std::string::npos)
      << st;
}

// Exemplars sent with remote write come back from /api/v1/query_exemplars in Prometheus's
// shape (its documented example: labels as objects, the value a string, the time in
// seconds), for the series any selector of the query matches, within [start, end].
TEST_F(QueryApiTest, ExemplarsAsPrometheusAnswers) {
  Start();
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=req_total").body(),
            R"j({"status":"success","data":[]})j");
  proto::WriteRequest wr;
  wr.series.push_back({{{"__name__", "req_total"}, {"code", "200"}, {"job", "api"}},
                       {{t0_ + 150'000, 1000}},
                       {{{{"trace_id", "EpTxMJ40fUus7aGY"}}, 6, t0_ + 150'479},
                        {{{"trace_id", "older"}}, 7, t0_ + 1'000}}});
  wr.series.push_back({{{"__name__", "req_total"}, {"code", "500"}, {"job", "api"}},
                       {{t0_ + 150'000, 10}},
                       {{{{"span_id", "01"}, {"trace_id", "x"}}, 0.5, t0_ + 150'000}}});
  ASSERT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  const std::string series_200 =
      R"j({"seriesLabels":{"__name__":"req_total","code":"200","job":"api"},"exemplars":[{"labels":{"trace_id":"EpTxMJ40fUus7aGY"},"value":"6","timestamp":)j" +
      T(t0_ + 150'479) + "}]}";
  const std::string series_500 =
      R"j({"seriesLabels":{"__name__":"req_total","code":"500","job":"api"},"exemplars":[{"labels":{"span_id":"01","trace_id":"x"},"value":"0.5","timestamp":)j" +
      std::to_string((t0_ + 150'000) / 1000) + "}]}";  // a whole second: no fraction
  // The older exemplar came after a newer one of its series: refused, the write taken.
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=req_total").body(),
            R"j({"status":"success","data":[)j" + series_200 + "," + series_500 + "]}");
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=" +
                PercentEncode(R"(rate(req_total{code="500"}[5m]) / 2)", true) +
                "&start=" + T(t0_ + 150'000) + "&end=" + T(t0_ + 150'000))
                .body(),
            R"j({"status":"success","data":[)j" + series_500 + "]}");
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=req_total&start=" + T(t0_ + 150'001) +
                "&end=" + T(t0_ + 150'478))
                .body(),
            R"j({"status":"success","data":[]})j");
  // Another tenant has none; a query without a selector has no answer (204), as Prometheus's.
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=req_total", "team-b").body(),
            R"j({"status":"success","data":[]})j");
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=1").result(), http::Status::no_content);
  auto bad = Get("/api/v1/query_exemplars?query=req_total&start=10&end=5");
  EXPECT_EQ(bad.result(), http::Status::bad_request);
  EXPECT_EQ(
      bad.body(),
      R"j({"status":"error","errorType":"bad_data","error":"end timestamp must not be before start timestamp"})j");
}

// stats=all: Prometheus's timings and samples, and what the frontend did; adaptive=true over
// the tenant's budget widens the step and says so in infos.
TEST_F(QueryApiTest, StatsAndAdaptiveResolution) {
  server::Config c;
  c.limits.defaults.query.max_points = 20;  // 2 series x 10 steps
  Start(c);
  std::string range = "/api/v1/query_range?query=req_total&start=" + std::to_string(t0_ / 1000) +
                      "&end=" + std::to_string((t0_ + 135000) / 1000) + "&step=5";
  auto res = Get(range + "&stats=all");
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  for (
      const char* part :
      {R"j("stats":{"timings":{"evalTotalTime":)j", R"j("execQueueTime":)j",
       R"j("samples":{"totalQueryableSamples":)j", R"j("peakSamples":)j",
       R"j("frontend":{"splits":1,"cachedSplits":0,"partialSplits":0,"subqueries":1,"step":5})j"}) {
    EXPECT_NE(res.body().find(part), std::string::npos) << part << " in " << res.body();
  }
  // Samples read as Prometheus counts them: each step selects one point of each of the two
  // series; 28 steps.
  std::string t0 = std::to_string(t0_ / 1000);
  EXPECT_NE(res.body().find(R"j("totalQueryableSamples":56,"totalQueryableSamplesPerStep":[[)j" +
                            t0 + ",2],[" + std::to_string(t0_ / 1000 + 5) + ",2],"),
            std::string::npos)
      << res.body();
  // A range function reads the points in each window: (t - 60 s, t] holds 4 samples of each
  // series at each of the 3 steps. stats=1 leaves out the per-step list.
  std::string t = std::to_string(t0_ / 1000 + 135);
  auto windows = Get("/api/v1/query_range?query=sum(rate(req_total[1m]))&start=" +
                     std::to_string(t0_ / 1000 + 75) + "&end=" + t + "&step=30&stats=1")
                     .body();
  EXPECT_NE(windows.find(R"j("totalQueryableSamples":24,"peakSamples":)j"), std::string::npos)
      << windows;
  // An instant query's range result: the points in the window, at its one step.
  auto matrix = Get("/api/v1/query?query=req_total[1m]&time=" + t + "&stats=all").body();
  EXPECT_NE(
      matrix.find(R"j("totalQueryableSamples":8,"totalQueryableSamplesPerStep":[[)j" + t + ",8]]"),
      std::string::npos)
      << matrix;
  EXPECT_EQ(res.body().find("infos"), std::string::npos) << "plain API calls are not adapted";
  auto adapted = Get(range + "&adaptive=true").body();
  // 28 steps x 2 series = 56 points over 20: 3x wider.
  EXPECT_NE(adapted.find(R"j("infos":["Strata: step widened from 5s to 15s)j"), std::string::npos)
      << adapted;
  // Timestamps on the wider grid: start, start + 15 s, ...
  EXPECT_NE(adapted.find("[" + std::to_string(t0_ / 1000 + 15) + ","), std::string::npos);
  EXPECT_EQ(adapted.find("[" + std::to_string(t0_ / 1000 + 5) + ","), std::string::npos);
  auto bad = Get(range + "&adaptive=maybe");
  EXPECT_EQ(bad.result(), http::Status::bad_request);
  auto metrics = Get("/metrics").body();
  EXPECT_NE(metrics.find(R"(strata_query_frontend_splits_total{result="miss",tenant="anonymous"})"),
            std::string::npos);
  EXPECT_NE(metrics.find("strata_query_queue_length"), std::string::npos);
}

// A tenant's own limits: over them, a 4xx naming the limit; other tenants unaffected.
TEST_F(QueryApiTest, TenantQueryLimits) {
  server::Config c;
  limits::TenantLimits small;
  small.query.max_series = 1;
  small.query.max_query_length_ms = 60'000;
  c.limits.tenants["team-b"] = small;
  c.limits.tenants["anonymous"] = small;
  Start(c);
  std::string range = "/api/v1/query_range?query=req_total&start=" + std::to_string(t0_ / 1000) +
                      "&end=" + std::to_string((t0_ + 135000) / 1000) + "&step=15";
  auto longer = Get(range);
  EXPECT_EQ(longer.result(), http::Status::bad_request);
  EXPECT_NE(longer.body().find("query.max_query_length"), std::string::npos) << longer.body();
  auto many = Get("/api/v1/query?query=req_total&time=" + std::to_string((t0_ + 135000) / 1000));
  EXPECT_EQ(many.result(), http::Status::unprocessable_entity);
  EXPECT_NE(many.body().find("query.max_series"), std::string::npos) << many.body();
  EXPECT_EQ(Get(range, "team-c").result(), http::Status::ok);
}

// Beyond frontend.max_outstanding_per_tenant queued or running requests: 429.
TEST_F(QueryApiTest, TooManyOutstandingRequestsIs429) {
  server::Config c;
  c.query.scheduler.workers = 1;
  c.query.scheduler.max_outstanding_per_tenant = 1;
  Start(c);
  // A slow query holds the only slot while a second one asks.
  http::Status slow_status{};
  auto began = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration slow_took{};
  std::thread slow([&] {
    http::Client other("127.0.0.1", std::to_string(srv_->port()));
    auto r = other.Do(http::Request(
        bhttp::verb::get,
        "/api/v1/query?query=sum_over_time(quantile_over_time(0.5%2C%20vector(1)%5B10m%3A1s%5D)"
        "%5B3d%3A1s%5D)",
        11));
    slow_took = std::chrono::steady_clock::now() - began;
    if (r.ok()) slow_status = r->result();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto res = Get("/api/v1/query?query=up");
  auto asked = std::chrono::steady_clock::now() - began;
  slow.join();
  EXPECT_EQ(slow_status, http::Status::ok);
  if (asked < slow_took) {  // else the machine was too slow to overlap them: nothing to check
    EXPECT_EQ(res.result(), static_cast<http::Status>(429)) << res.body();
    EXPECT_NE(res.body().find("frontend.max_outstanding_per_tenant"), std::string::npos)
        << res.body();
  }
}

TEST_F(QueryApiTest, GzipWhenAsked) {
  Start();
  http::Request req(bhttp::verb::get, "/api/v1/labels", 11);
  req.set(bhttp::field::accept_encoding, "gzip, deflate");
  auto res = Do(std::move(req));
  EXPECT_EQ(res[bhttp::field::content_encoding], "gzip");
  EXPECT_EQ(testing::ZlibGunzip(res.body()),
            R"j({"status":"success","data":["__name__","code","job"]})j");
}

// Old samples are cut into a block, uploaded to the (filesystem) bucket and dropped from the
// head, and the API answers exactly as before; a restart reads them back from the bucket.
TEST_F(QueryApiTest, OldDataMovesToBlocksAndAnswersTheSame) {
  Start();
  const int64_t hour = 3'600'000;
  int64_t end = (NowMillis() / 60000) * 60000;
  proto::WriteRequest wr;
  wr.series.push_back({{{"__name__", "history"}, {"job", "batch"}}, {}});
  for (int64_t t = end - 7 * hour; t <= end; t += 60000) {
    wr.series[0].samples.push_back({t, static_cast<double>(t / 60000 % 97)});
  }
  ASSERT_EQ(Do(PushRequest(wr)).result(), http::Status::no_content);
  std::string q = "/api/v1/query_range?query=sum_over_time(history[10m])&start=" +
                  std::to_string((end - 7 * hour) / 1000) + "&end=" + std::to_string(end / 1000) +
                  "&step=300";
  std::string before = Get(q).body();
  ASSERT_NE(before.find("\"values\":[["), std::string::npos) << before;

  // The maintenance loop cuts within ~10 s.
  std::string bucket = dir_.path() + "/bucket/anonymous";
  auto count_blocks = [&] {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(bucket, ec)) {
      n += std::filesystem::exists(e.path() / "meta.json") ? 1 : 0;
    }
    return n;
  };
  for (int i = 0; i < 300 && count_blocks() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(count_blocks(), 2);
  EXPECT_EQ(Get(q).body(), before);
  std::string metrics = Get("/metrics").body();
  EXPECT_NE(metrics.find("strata_objstore_requests_total{component=\"ingest\",operation=\"put\","
                         "outcome=\"ok\",signal=\"metrics\",tenant=\"anonymous\"}"),
            std::string::npos);

  // Raw only, explicitly: the same answer (no downsampled blocks exist yet); a bad value is
  // a 400 naming the parameter.
  EXPECT_EQ(Get(q + "&max_source_resolution=0s").body(), before);
  auto bad = Get(q + "&max_source_resolution=weekly");
  EXPECT_EQ(bad.result(), http::Status::bad_request);
  EXPECT_NE(bad.body().find("max_source_resolution"), std::string::npos) << bad.body();

  // A restart: the head no longer has the old samples, the blocks do.
  client_.reset();
  srv_->Shutdown();
  server::Config c;
  c.listen = "127.0.0.1:0";
  c.grpc_listen = "";
  c.data_dir = dir_.path();
  srv_ = std::make_unique<server::StrataServer>(c);
  ASSERT_TRUE(srv_->Start().ok());
  ASSERT_TRUE(srv_->WaitReady().ok());
  client_ = std::make_unique<http::Client>("127.0.0.1", std::to_string(srv_->port()));
  EXPECT_EQ(Get(q).body(), before);
  // Samples older than the cut are refused now: they would never be seen.
  proto::WriteRequest old;
  old.series.push_back({{{"__name__", "history"}, {"job", "batch"}}, {{end - 7 * hour + 1, 1}}});
  EXPECT_EQ(Do(PushRequest(old)).result(), http::Status::bad_request);
}

}  // namespace
}  // namespace strata
