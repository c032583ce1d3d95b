#include "agent/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "agent/config.h"
#include "agent/export/health.h"
#include "http/client.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace {
namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;

// A remote-write endpoint that decodes what it receives and answers with a settable status.
class Backend {
 public:
  Backend() {
    http::ServerOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.threads = 2;
    server_ = std::make_unique<http::Server>(opts);
    server_->Route("/api/v1/push", {bhttp::verb::post},
                   [this](http::Request& req, const http::Responder& r) {
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
                         for (const auto& smp : wr->SamplesOf(s)) {
                           samples_[tenant].push_back(static_cast<int>(smp.v));
                         }
                       }
                       ++requests_;
                     }
                     http::Response res = http::TextResponse(req, static_cast<http::Status>(code),
                                                             code == 204 ? "" : "refused");
                     if (code == 429) res.set(bhttp::field::retry_after, "1");
                     r.Send(std::move(res));
                   });
    server_->Route("/-/ready", {bhttp::verb::get},
                   [this](http::Request& req, const http::Responder& r) {
                     r.Send(http::TextResponse(
                         req, ready_ ? http::Status::ok : http::Status::service_unavailable, ""));
                   });
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Backend() { server_->Shutdown(1000); }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/push";
  }
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
  std::mutex mu_;
  std::map<std::string, std::vector<int>> samples_;
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

bool WaitFor(const std::function<bool()>& cond, int64_t ms = 10'000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "strata-agent-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override {
    agent_.reset();
    fs::remove_all(dir_);
  }

  void StartAgent(const std::string& exporters_yaml) {
    config_path_ = dir_ + "/agent.yaml";
    std::ofstream(config_path_) << "server:\n  listen: 127.0.0.1:0\ndata_dir: " << dir_
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

  std::string dir_;
  std::string config_path_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<http::Client> client_;
};

TEST(AgentConfigTest, DefaultsAndErrorsNameTheKey) {
  auto c = ParseAgentConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen, ":4318");
  ASSERT_EQ(c->exporters.size(), 1u);
  EXPECT_EQ(c->exporters[0].backends[0].url, "http://localhost:9009/api/v1/push");
  EXPECT_EQ(c->exporters[0].backends[0].probe_url, "http://localhost:9009/-/ready");
  EXPECT_EQ(c->exporters[0].queue.full_policy, FullPolicy::kBlock);

  auto bad = ParseAgentConfig("exporters:\n- name: a\n  url: http://x:1/w\n  queue: {polcy: x}\n");
  EXPECT_NE(bad.status().message().find("exporters[0].queue.polcy"), std::string::npos)
      << bad.status().message();
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
  http::Request v2{bhttp::verb::post, "/api/v1/write", 11};
  v2.set(bhttp::field::content_type, "application/x-protobuf;proto=io.prometheus.write.v2.Request");
  EXPECT_EQ(client_->Do(std::move(v2))->result_int(), 415u);

  // Reload to a second exporter on another backend: both receive what follows, nothing queued
  // for the first is lost.
  Backend second;
  backend.SetStatus(503, false);
  ASSERT_EQ(Push(Payload(0, 10))->result_int(), 204u);
  std::ofstream(config_path_, std::ios::app)
      << "  min_backoff: 10ms\n- name: copy\n  url: " << second.url() << "\n";
  auto res = client_->Do(http::Request{bhttp::verb::post, "/-/reload", 11});
  ASSERT_EQ(res->result_int(), 200u) << res->body();
  ASSERT_EQ(Push(Payload(10, 10))->result_int(), 204u);
  ASSERT_TRUE(WaitFor([&] { return second.Samples("team-a").size() == 10; }));
  backend.SetStatus(204, true);
  ASSERT_TRUE(WaitFor([&] { return backend.Samples("team-a").size() == 20; }));
  EXPECT_EQ(backend.Samples("team-a"), Range(0, 20));
}

}  // namespace
}  // namespace strata::agent
