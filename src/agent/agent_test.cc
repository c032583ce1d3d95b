#include "agent/agent.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "agent/config.h"
#include "agent/export/health.h"
#include "base/coding.h"
#include "base/sample.h"
#include "http/client.h"
#include "http/compression.h"
#include "proto/faro.h"
#include "proto/loki.h"
#include "proto/otlp.h"
#include "proto/remote_write.h"
#include "proto/wire.h"
#include "testing/temp_dir.h"

namespace strata::agent {
namespace {
namespace bhttp = boost::beast::http;

// A remote-write endpoint that decodes what it receives and answers with a settable status.
class Backend {
 public:
  Backend() {
    http::ServerOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.threads = 2;
    server_ = std::make_unique<http::Server>(opts);
    server_->Route(
        "/api/v1/push", {bhttp::verb::post}, [this](http::Request& req, const http::Responder& r) {
          unsigned code = status_.load();
          if (code == 204) {
            std::string raw;
            EXPECT_TRUE(proto::SnappyDecompress(req.body(), 1 << 30, raw).ok());
            auto wr = proto::DecodeWriteRequest(raw);
            EXPECT_TRUE(wr.ok());
            auto it = req.find("X-Scope-OrgID");
            std::string tenant = it == req.end() ? "" : std::string(it->value());
            std::lock_guard lk(mu_);
            for (const auto& s : wr->series) {
              auto& values = series_[FormatLabels(
                  std::vector<LabelView>(wr->LabelsOf(s).begin(), wr->LabelsOf(s).end()))];
              for (const auto& smp : wr->SamplesOf(s)) {
                // The senders' sample ids; scraped values and staleness markers (NaN) are none.
                if (smp.v >= std::numeric_limits<int>::min() &&
                    smp.v <= std::numeric_limits<int>::max()) {
                  samples_[tenant].push_back(static_cast<int>(smp.v));
                }
                values.push_back(smp.v);
              }
            }
            ++requests_;
          }
          http::Response res = http::TextResponse(req, static_cast<http::Status>(code),
                                                  code == 204 ? "" : "refused");
          if (code == 429) res.set(bhttp::field::retry_after, "1");
          r.Send(std::move(res));
        });
    for (std::string path :
         {"/otlp/v1/metrics", "/otlp/v1/logs", "/otlp/v1/traces", "/loki/api/v1/push"}) {
      server_->Route(path, {bhttp::verb::post},
                     [this, path](http::Request& req, const http::Responder& r) {
                       std::string raw;
                       if (path.starts_with("/loki")) {
                         EXPECT_TRUE(proto::SnappyDecompress(req.body(), 1 << 30, raw).ok());
                       } else {
                         raw = req.body();
                       }
                       {
                         std::lock_guard lk(mu_);
                         bodies_[path].push_back(raw);
                       }
                       r.Send(http::TextResponse(req, http::Status::ok, ""));
                     });
    }
    server_->Route("/-/ready", {bhttp::verb::get},
                   [this](http::Request& req, const http::Responder& r) {
                     r.Send(http::TextResponse(
                         req, ready_ ? http::Status::ok : http::Status::service_unavailable, ""));
                   });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Backend() { server_->Shutdown(1000); }

  std::string url(const std::string& path = "/api/v1/push") const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  // Bodies received on an OTLP or Loki path (decompressed).
  std::vector<std::string> Bodies(const std::string& path) {
    std::lock_guard lk(mu_);
    return bodies_[path];
  }
  // Every remote-write series received: its labels in text form -> values.
  std::map<std::string, std::vector<double>> Series() {
    std::lock_guard lk(mu_);
    return series_;
  }
  // Requests with more series are refused with 413.
  void SetMaxSeries(size_t n) { max_series_ = n; }
  void SetStatus(unsigned code, bool ready) {
    status_ = code;
    ready_ = ready;
  }
  std::vector<int> Samples(const std::string& tenant) {
    std::lock_guard lk(mu_);
    return samples_[tenant];
  }
  int requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  std::unique_ptr<http::Server> server_;
  std::atomic<unsigned> status_{204};
  std::atomic<bool> ready_{true};
  std::atomic<size_t> max_series_{SIZE_MAX};
  std::mutex mu_;
  std::map<std::string, std::vector<int>> samples_;
  std::map<std::string, std::vector<double>> series_;
  std::map<std::string, std::vector<std::string>> bodies_;
  int requests_ = 0;
};

// One series with samples first..first+n-1 (values = their numbers).
std::string Payload(int first, int n) {
  proto::WriteRequest wr;
  proto::TimeSeries ts;
  ts.labels = {{"__name__", "numbered"}, {"job", "agent-test"}};
  for (int i = first; i < first + n; ++i) ts.samples.push_back({1'700'000'000'000 + i, double(i)});
  wr.series.push_back(ts);
  return proto::SnappyCompress(proto::EncodeWriteRequest(wr));
}

// Generous: sanitizer builds on a loaded machine are several times slower.
bool WaitFor(const std::function<bool()>& cond, int64_t ms = 30'000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class AgentTest : public ::testing::Test {
 protected:
  void StartAgent(const std::string& exporters_yaml) {
    config_path_ = dir_.path() + "/agent.yaml";
    std::ofstream(config_path_) << "server:\n  listen: 127.0.0.1:0\n  grpc_listen: 127.0.0.1:0\n"
                                << extra_yaml_ << "data_dir: " << dir_.path()
                                << "/data\nexporters:\n"
                                << exporters_yaml;
    auto c = LoadAgentConfigFile(config_path_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    agent_ = std::make_unique<Agent>(*c, config_path_);
    ASSERT_TRUE(agent_->Start().ok());
    client_ = std::make_unique<http::Client>("127.0.0.1", std::to_string(agent_->port()));
  }

  Result<http::Response> Push(const std::string& body, const std::string& tenant = "team-a") {
    http::Request req{bhttp::verb::post, "/api/v1/write", 11};
    req.set(bhttp::field::content_encoding, "snappy");
    req.set(bhttp::field::content_type, "application/x-protobuf");
    if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
    req.body() = body;
    return client_->Do(std::move(req));
  }

  std::string Metrics() {
    auto res = client_->Do(http::Request{bhttp::verb::get, "/metrics", 11});
    return res.ok() ? res->body() : "";
  }

  static std::vector<int> Range(int from, int to) {
    std::vector<int> v;
    for (int i = from; i < to; ++i) v.push_back(i);
    return v;
  }

  Result<http::Response> Post(const std::string& path, const std::string& content_type,
                              const std::string& body, const std::string& encoding = "") {
    http::Request req{bhttp::verb::post, path, 11};
    req.set(bhttp::field::content_type, content_type);
    if (!encoding.empty()) req.set(bhttp::field::content_encoding, encoding);
    req.set("X-Scope-OrgID", "team-a");
    req.body() = body;
    return client_->Do(std::move(req));
  }

  std::string extra_yaml_;         // top-level keys added to the agent's configuration
  testing::TempDir dir_{"agent"};  // before the agent: outlives it
  std::string config_path_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<http::Client> client_;
};

TEST(AgentConfigTest, DefaultsAndErrorsNameTheKey) {
  auto c = ParseAgentConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen, ":4318");
  // Every signal goes to a local strata serve, each kind exactly once.
  ASSERT_EQ(c->exporters.size(), 3u);
  EXPECT_EQ(c->exporters[0].name, "default");
  EXPECT_EQ(c->exporters[0].backends[0].url, "http://localhost:9009/api/v1/push");
  EXPECT_EQ(c->exporters[0].backends[0].probe_url, "http://localhost:9009/-/ready");
  EXPECT_EQ(c->exporters[0].queue.full_policy, FullPolicy::kBlock);
  EXPECT_EQ(c->exporters[1].type, ExporterType::kOtlpHttp);
  EXPECT_EQ(c->exporters[1].backends[0].url, "http://localhost:9009/otlp");
  EXPECT_EQ(c->exporters[1].signals, (OtlpSignals{false, true, true}));
  EXPECT_EQ(c->exporters[2].type, ExporterType::kLoki);
  EXPECT_EQ(c->exporters[2].backends[0].url, "http://localhost:9009/loki/api/v1/push");
  EXPECT_TRUE(c->faro.enabled);
  EXPECT_FALSE(c->faro.rate_limiting);
  EXPECT_FALSE(c->faro.sourcemaps.download);
  for (auto [yaml, fault] : std::initializer_list<std::pair<const char*, const char*>>{
           {"receivers:\n  faro:\n    rate_limiting: {strategy: per_user}\n",
            "\"per_user\" is not per_app or global"},
           {"receivers:\n  faro:\n    extra_log_labels: {app-name: \"\"}\n",
            "\"app-name\" is not a valid label name"},
           {"receivers:\n  faro:\n    app_keys: {\"a/b\": t}\n", "without '/'"},
           {"receivers:\n  faro:\n    sourcemaps: {locations: [{path: /x}]}\n",
            "path and minified_path_prefix are required"},
           {"receivers:\n  faro:\n    log_format: xml\n", "\"xml\" is not logfmt or json"},
       }) {
    auto bad_faro = ParseAgentConfig(yaml);
    ASSERT_FALSE(bad_faro.ok()) << yaml;
    EXPECT_NE(bad_faro.status().message().find(fault), std::string::npos)
        << bad_faro.status().message();
  }

  auto bad = ParseAgentConfig("exporters:\n- name: a\n  url: http://x:1/w\n  queue: {polcy: x}\n");
  EXPECT_NE(bad.status().message().find("exporters[0].queue.polcy"), std::string::npos)
      << bad.status().message();
  bad = ParseAgentConfig("exporters:\n- name: a\n  url: http://x:1/w\n  signals: [logs]\n");
  EXPECT_NE(bad.status().message().find("otlp_http exporters only"), std::string::npos);
  bad = ParseAgentConfig(
      "exporters:\n- name: a\n  type: otlp_http\n  url: http://x:1\n  signals: [spans]\n");
  EXPECT_NE(bad.status().message().find("\"spans\" is not metrics, logs or traces"),
            std::string::npos);
  bad = ParseAgentConfig("exporters:\n- name: a\n  url: ftp://x/w\n");
  EXPECT_NE(bad.status().message().find("exporters[0].url"), std::string::npos);
  bad = ParseAgentConfig(
      "exporters:\n- name: a\n  url: http://x:1/w\n- name: a\n  url: http://y:1/w\n");
  EXPECT_NE(bad.status().message().find("used twice"), std::string::npos);
  auto ok = ParseAgentConfig(
      "exporters:\n- name: a\n  url: http://x:1/w\n  failover:\n  - url: http://y:2/w\n"
      "    probe_url: none\n  queue: {max_disk_bytes: 64MiB, full_policy: drop_oldest}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->exporters[0].backends.size(), 2u);
  EXPECT_EQ(ok->exporters[0].backends[1].probe_url, "none");
  EXPECT_EQ(ok->exporters[0].queue.max_disk_bytes, 64u << 20);
}

TEST(BackendHealthTest, Hysteresis) {
  BackendHealth h(HealthOptions{.unhealthy_after = 3, .healthy_after = 2});
  EXPECT_TRUE(h.up());
  EXPECT_FALSE(h.Report(false));
  EXPECT_FALSE(h.Report(false));
  EXPECT_FALSE(h.Report(true));  // a success resets the failure streak
  h.Report(false);
  h.Report(false);
  EXPECT_TRUE(h.Report(false));
  EXPECT_FALSE(h.up());
  EXPECT_FALSE(h.Report(true));
  EXPECT_FALSE(h.Report(false));
  EXPECT_FALSE(h.Report(true));
  EXPECT_TRUE(h.Report(true));
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.transitions(), 2u);
}

TEST_F(AgentTest, DeliversInOrderAcrossAnOutageAndARestart) {
  Backend backend;
  StartAgent("- name: main\n  url: " + backend.url() +
             "\n  min_backoff: 10ms\n  max_backoff: 100ms\n  health: {probe_interval: 50ms}\n");
  for (int i = 0; i < 10; ++i) {
    auto res = Push(Payload(i * 10, 10));
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->result_int(), 204u);
  }
  ASSERT_TRUE(WaitFor([&] { return backend.Samples("team-a").size() == 100; }));

  // Backend down (503, probe failing): the agent keeps accepting; nothing arrives.
  backend.SetStatus(503, false);
  for (int i = 10; i < 30; ++i) ASSERT_EQ(Push(Payload(i * 10, 10))->result_int(), 204u);
  EXPECT_TRUE(WaitFor([&] {
    return Metrics().find("strata_agent_backend_up{exporter=\"main\",backend=\"" + backend.url() +
                          "\"} 0") != std::string::npos;
  }));
  EXPECT_EQ(backend.Samples("team-a").size(), 100u);
  EXPECT_NE(Metrics().find("strata_agent_queue_pending_items{exporter=\"main\"} 200"),
            std::string::npos)
      << Metrics();

  // The agent restarts during the outage; its queue survives.
  agent_.reset();
  client_.reset();
  StartAgent("- name: main\n  url: " + backend.url() +
             "\n  min_backoff: 10ms\n  max_backoff: 100ms\n  health: {probe_interval: 50ms}\n");
  for (int i = 30; i < 40; ++i) ASSERT_EQ(Push(Payload(i * 10, 10))->result_int(), 204u);
  backend.SetStatus(204, true);
  ASSERT_TRUE(WaitFor([&] { return backend.Samples("team-a").size() >= 400; }));
  EXPECT_EQ(backend.Samples("team-a"), Range(0, 400));  // in order, no loss, no duplicate
  EXPECT_TRUE(WaitFor([&] {
    return Metrics().find("strata_agent_queue_pending_items{exporter=\"main\"} 0") !=
           std::string::npos;
  }));
}

TEST_F(AgentTest, FailsOverAndRejectsWithoutRetrying) {
  Backend primary, secondary;
  StartAgent("- name: main\n  url: " + primary.url() +
             "\n  failover:\n  - url: " + secondary.url() +
             "\n  min_backoff: 10ms\n  max_backoff: 50ms\n"
             "  health: {probe_interval: 50ms, unhealthy_after: 2}\n");
  primary.SetStatus(500, false);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Push(Payload(i * 10, 10))->result_int(), 204u);
  ASSERT_TRUE(WaitFor([&] { return secondary.Samples("team-a").size() == 50; }));
  EXPECT_EQ(secondary.Samples("team-a"), Range(0, 50));
  EXPECT_TRUE(primary.Samples("team-a").empty());

  // The primary recovers: traffic goes back to it.
  primary.SetStatus(204, true);
  ASSERT_TRUE(WaitFor([&] {
    return Metrics().find("strata_agent_backend_health_changes_total{exporter=\"main\",backend=\"" +
                          primary.url() + "\"} 2") != std::string::npos;
  }));
  ASSERT_EQ(Push(Payload(50, 10))->result_int(), 204u);
  ASSERT_TRUE(WaitFor([&] { return primary.Samples("team-a").size() == 10; }));

  // A 400 is final: counted as rejected, never retried, and the queue moves on.
  primary.SetStatus(400, true);
  ASSERT_EQ(Push(Payload(60, 10))->result_int(), 204u);
  ASSERT_TRUE(WaitFor([&] {
    return Metrics().find(
               "strata_agent_dropped_items_total{exporter=\"main\",reason=\"rejected\"} "
               "10") != std::string::npos;
  }));
  primary.SetStatus(204, true);
  ASSERT_EQ(Push(Payload(70, 10))->result_int(), 204u);
  ASSERT_TRUE(WaitFor([&] { return primary.Samples("team-a").size() == 20; }));
}

TEST_F(AgentTest, BacklogDrainsAtTheConfiguredRate) {
  Backend backend;
  backend.SetStatus(503, false);
  StartAgent("- name: main\n  url: " + backend.url() +
             "\n  min_backoff: 10ms\n  max_backoff: 50ms\n  max_batch_items: 1000\n"
             "  max_send_rate: 2000\n  health: {probe_interval: 50ms}\n");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Push(Payload(i * 1000, 1000))->result_int(), 204u);
  backend.SetStatus(204, true);
  // 10,000 queued samples at 2,000/s (bursts up to 2,000): not all there after one second.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_LT(backend.Samples("team-a").size(), 10'000u);
  ASSERT_TRUE(WaitFor([&] { return backend.Samples("team-a").size() == 10'000; }, 30'000));
  EXPECT_EQ(backend.Samples("team-a"), Range(0, 10'000));
}

TEST_F(AgentTest, FullQueueTurnsIntoBackPressure) {
  Backend backend;
  backend.SetStatus(503, false);
  StartAgent("- name: main\n  url: " + backend.url() +
             "\n  queue: {max_disk_bytes: 2MiB, segment_size: 1MiB}\n");
  std::string big = Payload(0, 20'000);
  unsigned code = 204;
  int accepted = 0;
  for (int i = 0; i < 100 && code == 204; ++i) {
    auto res = Push(big);
    ASSERT_TRUE(res.ok());
    code = res->result_int();
    if (code == 204) ++accepted;
    if (code != 204) {
      EXPECT_EQ(code, 503u);
      EXPECT_EQ(std::string((*res)[bhttp::field::retry_after]), "5");
      EXPECT_NE(res->body().find("is full"), std::string::npos) << res->body();
    }
  }
  EXPECT_EQ(code, 503u);
  EXPECT_GT(accepted, 0);
  EXPECT_NE(Metrics().find("strata_agent_dropped_items_total{exporter=\"main\",reason="
                           "\"queue_full\"} 0"),
            std::string::npos);
}

TEST_F(AgentTest, RejectsMalformedRequestsAndReloads) {
  Backend backend;
  StartAgent("- name: main\n  url: " + backend.url() + "\n");
  EXPECT_EQ(Push("not snappy at all")->result_int(), 400u);
  EXPECT_EQ(Push(proto::SnappyCompress("\xff\xff garbage"))->result_int(), 400u);
  EXPECT_EQ(Push(Payload(0, 1), "bad/tenant")->result_int(), 400u);
  http::Request v3{bhttp::verb::post, "/api/v1/write", 11};
  v3.set(bhttp::field::content_type, "application/x-protobuf;proto=io.prometheus.write.v3.Request");
  EXPECT_EQ(client_->Do(std::move(v3))->result_int(), 415u);

  // Reload to a second exporter on another backend: both receive what follows, nothing queued
  // for the first is lost.
  Backend second;
  backend.SetStatus(503, false);
  ASSERT_EQ(Push(Payload(0, 10))->result_int(), 204u);
  std::ofstream(config_path_, std::ios::app)
      << "  min_backoff: 10ms\n  health: {probe_interval: 50ms}\n- name: copy\n  url: "
      << second.url() << "\n";
  auto res = client_->Do(http::Request{bhttp::verb::post, "/-/reload", 11});
  ASSERT_EQ(res->result_int(), 200u) << res->body();
  ASSERT_EQ(Push(Payload(10, 10))->result_int(), 204u);
  ASSERT_TRUE(WaitFor([&] { return second.Samples("team-a").size() == 10; }));
  backend.SetStatus(204, true);
  ASSERT_TRUE(WaitFor([&] { return backend.Samples("team-a").size() == 20; }));
  EXPECT_EQ(backend.Samples("team-a"), Range(0, 20));
}

// Remote write 2.0 (io.prometheus.write.v2.Request) built field by field from its types.proto:
// symbols "", __name__, up, job, x, trace_id, t1; one series up{job="x"} (labels_refs 1 2 3 4)
// with samples 0..n-1 at 1000 ms apart, an exemplar {trace_id="t1"} and, when given, one
// native histogram sample (field 3, the Histogram message's bytes).
http::Request V2Write(int n, const std::string& histogram = {}) {
  std::string req;
  for (const char* sym : {"", "__name__", "up", "job", "x", "trace_id", "t1"}) {
    proto::PutBytesField(req, 4, sym);
  }
  std::string ts, refs;
  for (uint32_t r : {1, 2, 3, 4}) PutUvarint(refs, r);
  proto::PutBytesField(ts, 1, refs);
  for (int i = 0; i < n; ++i) {
    std::string m;
    proto::PutDoubleField(m, 1, i);
    proto::PutVarintField(m, 2, uint64_t{1000} * static_cast<uint64_t>(i + 1));
    proto::PutBytesField(ts, 2, m);
  }
  if (!histogram.empty()) proto::PutBytesField(ts, 3, histogram);
  std::string e, ex_refs;
  PutUvarint(ex_refs, 5);
  PutUvarint(ex_refs, 6);
  proto::PutBytesField(e, 1, ex_refs);
  proto::PutDoubleField(e, 2, 2);
  proto::PutVarintField(e, 3, 1000);
  proto::PutBytesField(ts, 4, e);
  proto::PutBytesField(req, 5, ts);
  http::Request r(bhttp::verb::post, "/api/v1/write", 11);
  r.set(bhttp::field::content_type, "application/x-protobuf;proto=io.prometheus.write.v2.Request");
  r.set(bhttp::field::content_encoding, "snappy");
  r.body() = proto::SnappyCompress(req);
  return r;
}

TEST_F(AgentTest, RemoteWrite20IsQueuedAsRemoteWrite10) {
  Backend backend;
  StartAgent("- name: main\n  url: " + backend.url() + "\n");
  auto res = client_->Do(V2Write(3));
  ASSERT_EQ(res->result_int(), 204u) << res->body();
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Samples-Written"]), "3");
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Histograms-Written"]), "0");
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Exemplars-Written"]), "1");
  ASSERT_TRUE(WaitFor([&] { return !backend.Series().empty(); }));
  EXPECT_EQ(
      backend.Series(),
      (std::map<std::string, std::vector<double>>{{"{__name__=\"up\", job=\"x\"}", {0, 1, 2}}}));
  // An invalid native histogram (count 1, no buckets, a sum) refuses the request whole.
  res = client_->Do(V2Write(2, "\x08\x01\x19" + std::string(8, '\0')));
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_NE(res->body().find("is invalid: 0 observations found in buckets, but the Count field "
                             "is 1"),
            std::string::npos)
      << res->body();
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Samples-Written"]), "0");
  // A valid one (count_int 1, one positive span {0, 1}, packed deltas [1]) goes along.
  res = client_->Do(V2Write(2, std::string("\x08\x01\x5a\x04\x08\x00\x10\x01\x62\x01\x02", 11)));
  EXPECT_EQ(res->result_int(), 204u) << res->body();
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Samples-Written"]), "2");
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Histograms-Written"]), "1");
  // A malformed 2.0 body: 400, nothing written.
  http::Request bad = V2Write(1);
  bad.body() = proto::SnappyCompress("\x2a\x05\x0a\x02\x01\x09");  // refs past the table
  res = client_->Do(std::move(bad));
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_EQ(std::string((*res)["X-Prometheus-Remote-Write-Samples-Written"]), "0");
}

constexpr std::string_view kOtlpMetricsJson = R"({"resourceMetrics":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
  "scopeMetrics":[{"metrics":[
    {"name":"http.requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
     "dataPoints":[{"timeUnixNano":"1700000000000000000","asInt":"7"}]}},
    {"name":"old.delta","sum":{"aggregationTemporality":1,"isMonotonic":true,
     "dataPoints":[{"timeUnixNano":"1700000000000000000","asInt":"1"}]}}]}]}]})";

constexpr std::string_view kOtlpLogsJson = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
  {"timeUnixNano":"1700000000000000000","body":{"stringValue":"one"}},
  {"timeUnixNano":"1700000000000000001","body":{"stringValue":"two"}}]}]}]})";

constexpr std::string_view kOtlpTracesJson = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /"}]}]}]})";

uint64_t OtlpItems(proto::OtlpSignal s, const std::vector<std::string>& bodies) {
  uint64_t n = 0;
  for (const auto& b : bodies) {
    auto c = proto::ScanOtlp(s, b);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) n += c->items;
  }
  return n;
}

class AgentSignalsTest : public AgentTest {
 protected:
  void StartWithEveryExporter(Backend& b) {
    StartAgent("- name: prom\n  url: " + b.url() +
               "\n- name: otel\n  type: otlp_http\n  url: " + b.url("/otlp") +
               "\n- name: logs\n  type: loki\n  url: " + b.url("/loki/api/v1/push") + "\n");
  }
};

TEST_F(AgentSignalsTest, OtlpHttpInEveryEncodingReachesOtlpAndRemoteWriteBackends) {
  Backend backend;
  StartWithEveryExporter(backend);
  using proto::OtlpSignal;
  // Metrics as JSON: 200 with a partial success naming the point remote write cannot carry.
  auto res = Post("/v1/metrics", "application/json", std::string(kOtlpMetricsJson));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(std::string((*res)[bhttp::field::content_type]), "application/json");
  EXPECT_NE(res->body().find(R"("rejectedDataPoints":"1")"), std::string::npos) << res->body();
  // Logs as gzip protobuf, traces as protobuf.
  auto logs = proto::OtlpJsonToProtobuf(OtlpSignal::kLogs, kOtlpLogsJson);
  auto logs_res = Post("/v1/logs", "application/x-protobuf", http::Gzip(*logs), "gzip");
  ASSERT_TRUE(logs_res.ok());
  EXPECT_EQ(logs_res->result_int(), 200u) << logs_res->body();
  EXPECT_EQ(std::string((*logs_res)[bhttp::field::content_type]), "application/x-protobuf");
  auto traces = proto::OtlpJsonToProtobuf(OtlpSignal::kTraces, kOtlpTracesJson);
  EXPECT_EQ(Post("/v1/traces", "application/x-protobuf", *traces)->result_int(), 200u);

  // The OTLP backend gets all of it; the remote-write backend the translated counter.
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/otlp/v1/traces").size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/otlp/v1/logs").size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/otlp/v1/metrics").size() == 1; }));
  EXPECT_EQ(OtlpItems(OtlpSignal::kMetrics, backend.Bodies("/otlp/v1/metrics")), 2u);
  EXPECT_EQ(OtlpItems(OtlpSignal::kLogs, backend.Bodies("/otlp/v1/logs")), 2u);
  EXPECT_EQ(backend.Bodies("/otlp/v1/logs")[0], *logs);
  EXPECT_EQ(OtlpItems(OtlpSignal::kTraces, backend.Bodies("/otlp/v1/traces")), 1u);
  ASSERT_TRUE(WaitFor([&] { return !backend.Series().empty(); }));
  auto series = backend.Series();
  ASSERT_EQ(series.count(R"({__name__="http_requests_total", job="api"})"), 1u)
      << series.begin()->first;
  EXPECT_EQ(series[R"({__name__="http_requests_total", job="api"})"], std::vector<double>{7});

  // Errors: OTLP's google.rpc.Status in the request's encoding.
  auto bad_json = Post("/v1/traces", "application/json", R"({"resourceSpans":[{"scopeSpans":7}]})");
  EXPECT_EQ(bad_json->result_int(), 400u);
  EXPECT_NE(bad_json->body().find(R"("code":3)"), std::string::npos) << bad_json->body();
  EXPECT_NE(bad_json->body().find("ResourceSpans.scopeSpans: not an array"), std::string::npos);
  EXPECT_EQ(Post("/v1/logs", "application/x-protobuf", "\x0a\x09truncated")->result_int(), 400u);
  EXPECT_EQ(Post("/v1/logs", "text/plain", "x")->result_int(), 415u);
  EXPECT_EQ(Post("/v1/logs", "application/x-protobuf", *logs, "br")->result_int(), 415u);
  EXPECT_EQ(Post("/v1/logs", "application/x-protobuf", "not gzip", "gzip")->result_int(), 400u);
}

TEST_F(AgentSignalsTest, LokiPushInJsonAndProtobuf) {
  Backend backend;
  StartWithEveryExporter(backend);
  auto pb = proto::LokiJsonToProtobuf(
      R"({"streams":[{"stream":{"job":"a"},"values":[["1700000000000000000","x"]]}]})");
  ASSERT_TRUE(pb.ok());
  auto res = Post("/loki/api/v1/push", "application/x-protobuf", proto::SnappyCompress(*pb));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->result_int(), 204u) << res->body();
  auto json_res = Post(
      "/loki/api/v1/push", "application/json",
      http::Gzip(R"({"streams":[{"stream":{"job":"b"},"values":[["1","y"],["2","z"]]}]})"), "gzip");
  EXPECT_EQ(json_res->result_int(), 204u) << json_res->body();
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/loki/api/v1/push").size() >= 1; }));
  ASSERT_TRUE(WaitFor([&] {
    uint64_t n = 0;
    for (const auto& b : backend.Bodies("/loki/api/v1/push")) n += proto::ScanLokiPush(b)->entries;
    return n == 3;
  }));
  auto no_values =
      Post("/loki/api/v1/push", "application/json", R"({"streams":[{"stream":{"a":"b"}}]})");
  EXPECT_EQ(no_values->result_int(), 400u);
  EXPECT_NE(no_values->body().find("values"), std::string::npos) << no_values->body();
  EXPECT_EQ(Post("/loki/api/v1/push", "application/x-protobuf", "garbage")->result_int(), 400u);
}

TEST_F(AgentSignalsTest, OtlpGrpcExport) {
  Backend backend;
  StartWithEveryExporter(backend);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(agent_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  auto call = [&](const std::string& method, const std::string& body, const std::string& tenant) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!tenant.empty()) ctx.AddMetadata("x-scope-orgid", tenant);
    grpc::Slice slice(body);
    grpc::ByteBuffer req(&slice, 1), resp;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                   [&](const grpc::Status& st) { done.set_value(st); });
    return done.get_future().get();
  };
  auto traces = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, kOtlpTracesJson);
  grpc::Status st =
      call("/opentelemetry.proto.collector.trace.v1.TraceService/Export", *traces, "team-a");
  EXPECT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/otlp/v1/traces").size() == 1; }));
  EXPECT_EQ(backend.Bodies("/otlp/v1/traces")[0], *traces);

  st = call("/opentelemetry.proto.collector.logs.v1.LogsService/Export", "\x0a\x09trunc", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  st = call("/opentelemetry.proto.collector.logs.v1.LogsService/Export", "", "bad/tenant");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  st = call("/some.Other/Method", "", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(AgentSignalsTest, FaroPayloadsBecomeLokiLinesAndOtlpTraces) {
  Backend backend;
  extra_yaml_ =
      "receivers:\n  faro:\n    cors_allowed_origins: [\"https://*.shop.example\"]\n"
      "    api_key: s3cret\n    app_keys: {k1: team-b}\n    max_payload_size: 4KiB\n"
      "    rate_limiting: {enabled: true, rate: 0.01, burst_size: 2}\n";
  StartWithEveryExporter(backend);
  auto faro = [&](const std::string& path, const std::string& body,
                  std::map<std::string, std::string> headers = {},
                  bhttp::verb method = bhttp::verb::post) {
    http::Request req{method, path, 11};
    req.set(bhttp::field::content_type, "application/json");
    if (!headers.count("x-api-key")) headers["x-api-key"] = "s3cret";
    for (const auto& [k, v] : headers) {
      if (!v.empty()) req.set(k, v);
    }
    req.body() = body;
    auto res = client_->Do(std::move(req));
    EXPECT_TRUE(res.ok());
    return *res;
  };
  const std::string payload =
      std::string(R"({"meta": {"app": {"name": "shop", "environment": "prod"},
      "session": {"id": "s1"}, "browser": {"name": "Chrome"}},
    "logs": [{"message": "checkout", "level": "info", "timestamp": "2026-12-05T01:02:03.5Z"}],
    "measurements": [{"type": "web-vitals", "values": {"lcp": 812.5},
                      "timestamp": "2026-12-05T01:02:03Z"}],
    "traces": )") +
      std::string(kOtlpTracesJson) + "}";
  const std::string origin = "https://www.shop.example";

  auto res =
      faro("/collect", http::Gzip(payload), {{"Content-Encoding", "gzip"}, {"Origin", origin}});
  EXPECT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(res.body(), "ok");
  EXPECT_EQ(std::string(res[bhttp::field::access_control_allow_origin]), origin);
  EXPECT_EQ(std::string(res[bhttp::field::access_control_expose_headers]), "Retry-After");

  // Logs reach the Loki exporter as lines with Alloy's keys, labelled by app and kind; the
  // traces reach the OTLP exporter as the protobuf of the same OTLP/JSON.
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/loki/api/v1/push").size() == 1; }));
  const std::string body = backend.Bodies("/loki/api/v1/push")[0];  // the push's views point here
  auto push = proto::DecodeLokiPush(body);
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  ASSERT_EQ(push->streams.size(), 2u);
  EXPECT_EQ(proto::FormatLokiLabels(push->streams[0].labels), R"({app_name="shop", kind="log"})");
  EXPECT_EQ(push->streams[0].entries[0].line,
            R"(timestamp="2026-12-05 01:02:03.5 +0000 UTC" kind=log message=checkout level=info )"
            R"(app_name=shop app_environment=prod session_id=s1 browser_name=Chrome )"
            R"(browser_mobile=false)");
  EXPECT_EQ(proto::FormatLokiLabels(push->streams[1].labels),
            R"({app_name="shop", kind="measurement"})");
  EXPECT_EQ(push->streams[1].entries[0].line,
            R"(timestamp="2026-12-05 01:02:03 +0000 UTC" kind=measurement type=web-vitals )"
            R"(lcp=812.500000 value_lcp=812.5 app_name=shop app_environment=prod session_id=s1 )"
            R"(browser_name=Chrome browser_mobile=false)");
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/otlp/v1/traces").size() == 1; }));
  EXPECT_EQ(backend.Bodies("/otlp/v1/traces")[0],
            *proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, kOtlpTracesJson));

  // CORS preflights: the SDK's headers and the trace-context allow-list pass; others, and
  // other origins, get no CORS headers.
  auto pre = faro("/collect", "",
                  {{"Origin", origin},
                   {"Access-Control-Request-Method", "POST"},
                   {"Access-Control-Request-Headers", "content-type,traceparent,x-api-key"}},
                  bhttp::verb::options);
  EXPECT_EQ(pre.result_int(), 204u);
  EXPECT_EQ(std::string(pre[bhttp::field::access_control_allow_origin]), origin);
  EXPECT_EQ(std::string(pre[bhttp::field::access_control_allow_headers]),
            "content-type,traceparent,x-api-key");
  pre = faro("/collect", "",
             {{"Origin", origin},
              {"Access-Control-Request-Method", "POST"},
              {"Access-Control-Request-Headers", "content-type,x-datadog-trace-id"}},
             bhttp::verb::options);
  EXPECT_EQ(pre.result_int(), 204u);
  EXPECT_EQ(pre.count(bhttp::field::access_control_allow_origin), 0u);
  pre = faro("/collect", "",
             {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}},
             bhttp::verb::options);
  EXPECT_EQ(pre.count(bhttp::field::access_control_allow_origin), 0u);

  // Refusals, each with its reason.
  EXPECT_EQ(faro("/collect", "{}", {{"x-api-key", "wrong"}}).result_int(), 401u);
  EXPECT_EQ(faro("/collect/k2", "{}").result_int(), 401u);
  res = faro("/collect", std::string(5000, ' ') + "{}");
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_NE(res.body().find("receivers.faro.max_payload_size"), std::string::npos);
  res = faro("/collect", R"({"logs": [{"timestamp": 5}]})");
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_NE(res.body().find("logs[0].timestamp must be an RFC 3339 time"), std::string::npos)
      << res.body();
  res = faro("/collect", R"({"traces": {"resourceSpans": [{"scopeSpans": 7}]}})");
  EXPECT_EQ(res.result_int(), 400u);

  // Per app: "shop:prod" used its burst of 2 above; it gets 429 and Retry-After, exposed to
  // the page. Another app, through its app key, still passes.
  const std::string shop = R"({"meta": {"app": {"name": "shop", "environment": "prod"}}})";
  res = faro("/collect", shop, {{"Origin", origin}});
  EXPECT_EQ(res.result_int(), 202u);
  EXPECT_EQ(res.body(), "ok");  // nothing to queue: answered at once, as Alloy does
  res = faro("/collect", shop, {{"Origin", origin}});
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_GE(std::stoi(std::string(res[bhttp::field::retry_after])), 1);
  EXPECT_EQ(std::string(res[bhttp::field::access_control_expose_headers]), "Retry-After");
  res = faro("/collect/k1", R"({"meta": {"app": {"name": "blog"}}, "events": [{"name": "e"}]})");
  EXPECT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_NE(
      Metrics().find(R"(strata_agent_received_items_total{receiver="faro",tenant="team-b"} 1)"),
      std::string::npos)
      << Metrics();
}

TEST_F(AgentSignalsTest, FaroExceptionFramesGoThroughSourceMapsOnDisk) {
  Backend backend;
  // The map of proto/sourcemap_test.cc, worked out by hand: generated 1:4 is src/app.ts 1:4 in
  // "render", 2:6 is 2:10 in "price".
  const std::string maps = dir_.path() + "/maps/v1.2";
  std::filesystem::create_directories(maps + "/js");
  std::ofstream(maps + "/js/main.js.map")
      << R"({"version":3,"sources":["src/app.ts"],"names":["render","price"],)"
      << R"("mappings":"AAAA,IAAIA;AACA,MAAMC"})";
  extra_yaml_ =
      "receivers:\n  faro:\n    sourcemaps:\n      locations:\n      - path: " + dir_.path() +
      "/maps/{{ .Release }}\n        minified_path_prefix: " + "https://shop.example/static/\n";
  StartWithEveryExporter(backend);
  const std::string payload = R"({"meta": {"app": {"name": "shop", "release": "v1.2"}},
    "exceptions": [{"type": "TypeError", "value": "x", "timestamp": "2026-12-05T01:02:03Z",
      "stacktrace": {"frames": [
        {"function": "a", "module": "m", "filename": "https://shop.example/static/js/main.js?v=9",
         "lineno": 1, "colno": 5},
        {"function": "b", "filename": "https://shop.example/static/js/main.js", "lineno": 2, "colno": 6},
        {"function": "c", "filename": "https://shop.example/static/js/other.js", "lineno": 1, "colno": 1},
        {"function": "d", "filename": "https://shop.example/static/js/main.js", "lineno": 9, "colno": 1}]}}]})";
  auto res = Post("/collect", "application/json", payload);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->result_int(), 202u) << res->body();
  ASSERT_TRUE(WaitFor([&] { return backend.Bodies("/loki/api/v1/push").size() == 1; }));
  const std::string body = backend.Bodies("/loki/api/v1/push")[0];  // the push's views point here
  auto push = proto::DecodeLokiPush(body);
  ASSERT_TRUE(push.ok());
  const std::string line(push->streams[0].entries[0].line);
  // Mapped frames lose their module; frames without a map, or past its lines, stay as sent.
  EXPECT_NE(line.find(R"(stacktrace="TypeError: x\n  at render )"
                      R"((https://shop.example/static/js/src/app.ts:1:4)\n  at price )"
                      R"((https://shop.example/static/js/src/app.ts:2:10)\n  at c )"
                      R"((https://shop.example/static/js/other.js:1:1)\n  at d )"
                      R"x((https://shop.example/static/js/main.js:9:1)")x"),
            std::string::npos)
      << line;
  // Cached per file as the frame names it: main.js and main.js?v=9 are read once each.
  EXPECT_NE(
      Metrics().find(R"(strata_agent_faro_sourcemap_loads_total{result="ok",where="location"} 2)"),
      std::string::npos)
      << Metrics();
}

TEST_F(AgentTest, PerTenantRateLimits) {
  Backend backend;
  extra_yaml_ =
      "limits:\n  samples_per_second: 100\n  tenants:\n    big: {samples_per_second: 100000}\n";
  StartAgent("- name: main\n  url: " + backend.url() + "\n");
  EXPECT_EQ(Push(Payload(0, 100))->result_int(), 204u);  // the burst
  auto res = Push(Payload(100, 100));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->result_int(), 429u);
  EXPECT_EQ(std::string((*res)[bhttp::field::retry_after]), "1");
  EXPECT_NE(res->body().find("samples rate limit"), std::string::npos) << res->body();
  // Another tenant has its own bucket and limit.
  EXPECT_EQ(Push(Payload(0, 1000), "big")->result_int(), 204u);
  EXPECT_NE(Metrics().find("strata_agent_rate_limited_total{limit=\"samples\",tenant=\"team-a\"} "
                           "100"),
            std::string::npos)
      << Metrics();
}

// A /metrics endpoint serving settable exposition text (500 when empty).
class Exporter {
 public:
  Exporter() {
    http::ServerOptions opts;
    opts.listen = "127.0.0.1:0";
    server_ = std::make_unique<http::Server>(opts);
    server_->Route(
        "/metrics", {bhttp::verb::get}, [this](http::Request& req, const http::Responder& r) {
          std::lock_guard lk(mu_);
          r.Send(http::TextResponse(
              req, text_.empty() ? http::Status::internal_server_error : http::Status::ok, text_));
        });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Exporter() { server_->Shutdown(1000); }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  void Set(std::string text) {
    std::lock_guard lk(mu_);
    text_ = std::move(text);
  }

 private:
  std::unique_ptr<http::Server> server_;
  std::mutex mu_;
  std::string text_;
};

TEST_F(AgentTest, ScrapesStaticAndFileTargetsWithStalenessMarkers) {
  Backend backend;
  Exporter a, b;
  a.Set(
      "# TYPE requests_total counter\nrequests_total{path=\"/x\",job=\"inner\"} 5\n"
      "temperature 21.5\n");
  b.Set("other_metric 1\n");
  std::string sd_file = dir_.path() + "/targets.json";
  std::ofstream(sd_file) << R"([{"targets":[")" << b.address() << R"("],"labels":{"dc":"eu"}}])";
  extra_yaml_ =
      "scrape_configs:\n- job_name: app\n  scrape_interval: 200ms\n"
      "  static_configs:\n  - targets: ['" +
      a.address() +
      "']\n"
      "  file_sd_configs:\n  - files: ['" +
      dir_.path() +
      "/*.json']\n"
      "  metric_relabel_configs:\n  - source_labels: [__name__]\n"
      "    regex: temperature\n    target_label: unit\n    replacement: celsius\n";
  StartAgent("- name: main\n  url: " + backend.url() + "\n  min_backoff: 10ms\n");
  const std::string inst_a = "instance=\"" + a.address() + "\"";
  const std::string inst_b = "instance=\"" + b.address() + "\"";
  auto series = [&](const std::string& text) -> std::vector<double> {
    auto all = backend.Series();
    auto it = all.find(text);
    return it == all.end() ? std::vector<double>{} : it->second;
  };
  // Target labels win over scraped ones (job -> exported_job); metric relabelling applies.
  const std::string req = "{__name__=\"requests_total\", exported_job=\"inner\", " + inst_a +
                          ", job=\"app\", path=\"/x\"}";
  ASSERT_TRUE(WaitFor([&] { return !series(req).empty(); })) << [&] {
    std::string keys;
    for (const auto& [k, v] : backend.Series()) keys += k + "\n";
    return keys + Metrics();
  }();
  EXPECT_EQ(series(req)[0], 5);
  ASSERT_TRUE(WaitFor([&] {
    return !series("{__name__=\"temperature\", " + inst_a + ", job=\"app\", unit=\"celsius\"}")
                .empty();
  }));
  ASSERT_TRUE(WaitFor([&] {
    return !series("{__name__=\"other_metric\", dc=\"eu\", " + inst_b + ", job=\"app\"}").empty();
  }));
  const std::string up_a = "{__name__=\"up\", " + inst_a + ", job=\"app\"}";
  ASSERT_FALSE(series(up_a).empty());
  EXPECT_EQ(series(up_a).back(), 1);

  // A series that disappears from the exposition ends with a staleness marker.
  a.Set("temperature 22\n");
  ASSERT_TRUE(WaitFor([&] { return !series(req).empty() && IsStaleNaN(series(req).back()); }));
  // A failing target: up = 0 and its series end.
  a.Set("");
  ASSERT_TRUE(WaitFor([&] { return !series(up_a).empty() && series(up_a).back() == 0; }));
  // A target removed from its file ends all its series, up included.
  std::ofstream(sd_file, std::ios::trunc) << "[]";
  const std::string up_b = "{__name__=\"up\", dc=\"eu\", " + inst_b + ", job=\"app\"}";
  ASSERT_TRUE(WaitFor([&] { return !series(up_b).empty() && IsStaleNaN(series(up_b).back()); }));
  EXPECT_TRUE(IsStaleNaN(
      series("{__name__=\"other_metric\", dc=\"eu\", " + inst_b + ", job=\"app\"}").back()));
  EXPECT_NE(Metrics().find("strata_agent_scrapes_total{job=\"app\",result=\"failed\"}"),
            std::string::npos);
}

TEST_F(AgentTest, LanesKeepEverySeriesInOrderAndSplitWhatIsTooLarge) {
  Backend backend;
  backend.SetStatus(503, false);
  StartAgent("- name: main\n  url: " + backend.url() +
             "\n  concurrency: 4\n  min_backoff: 10ms\n  max_backoff: 50ms\n"
             "  health: {probe_interval: 50ms}\n");
  // 40 series x 50 requests of 5 samples each, queued during an outage, then sent in lanes;
  // the backend refuses requests of more than 3 series, so lanes halve theirs.
  for (int r = 0; r < 50; ++r) {
    proto::WriteRequest wr;
    for (int s = 0; s < 40; ++s) {
      proto::TimeSeries ts;
      ts.labels = {{"__name__", "laned"}, {"s", std::to_string(s)}};
      for (int64_t k = 0; k < 5; ++k) {
        ts.samples.push_back(
            {1'700'000'000'000 + int64_t{r} * 5 + k, static_cast<double>(int64_t{r} * 5 + k)});
      }
      wr.series.push_back(ts);
    }
    ASSERT_EQ(Push(proto::SnappyCompress(proto::EncodeWriteRequest(wr)))->result_int(), 204u);
  }
  backend.SetMaxSeries(3);
  backend.SetStatus(204, true);
  ASSERT_TRUE(
      WaitFor([&] { return backend.Samples("team-a").size() == size_t{40} * 250; }, 30'000));
  auto series = backend.Series();
  ASSERT_EQ(series.size(), 40u);
  std::vector<double> want(250);
  std::iota(want.begin(), want.end(), 0.0);
  for (const auto& [labels, values] : series) EXPECT_EQ(values, want) << labels;
  EXPECT_NE(
      Metrics().find("strata_agent_dropped_items_total{exporter=\"main\",reason=\"rejected\"} 0"),
      std::string::npos);
}

}  // namespace
}  // namespace strata::agent
