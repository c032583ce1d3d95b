// The agent loses nothing it acknowledged: senders push numbered samples through `strata
// agent` to a `strata serve` backend; the backend is stopped for a long outage, the agent is
// SIGKILLed at random moments (during segment rotations, appends and acknowledgements: its
// segments are small), its disk budget is hit and refuses with 503. At the end every sample a
// sender got a 2xx for must be stored in the backend.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>

#include "base/units.h"
#include "test_util.h"

namespace strata {
namespace {
using testing::Process;

constexpr int kSenders = 2;
constexpr int kSeriesPerSender = 4;
constexpr int kSamplesPerSeries = 250;  // per request

int64_t EnvSeconds(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : def;
}

std::unique_ptr<Process> StartBackend(const std::string& dir, int port) {
  return std::make_unique<Process>(
      std::vector<std::string>{STRATA_BINARY, "serve", "--data-dir", dir + "/backend", "--listen",
                               "127.0.0.1:" + std::to_string(port), "--log.level", "warn"},
      dir + "/backend.log");
}

std::unique_ptr<Process> StartAgent(const std::string& dir, int port) {
  return std::make_unique<Process>(
      std::vector<std::string>{STRATA_BINARY, "agent", "--config", dir + "/agent.yaml", "--listen",
                               "127.0.0.1:" + std::to_string(port)},
      dir + "/agent.log");
}

// A metric's value in an exposition text, summed over its label sets; -1 if absent.
double MetricValue(const std::string& text, const std::string& name) {
  double sum = -1;
  size_t pos = 0;
  while ((pos = text.find("\n" + name, pos)) != std::string::npos) {
    size_t eol = text.find('\n', pos + 1);
    std::string line = text.substr(pos + 1, eol - pos - 1);
    char next = line[name.size()];
    if (next == '{' || next == ' ')
      sum = std::max(sum, 0.0) + std::stod(line.substr(line.rfind(' ')));
    pos = eol;
  }
  return sum;
}

// Percent-encodes a PromQL expression for a query string.
std::string QueryEscape(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '_' || ch == '(' || ch == ')') {
      out.push_back(static_cast<char>(ch));
    } else {
      out += fmt::format("%{:02X}", ch);
    }
  }
  return out;
}

// The value of a one-element instant vector answer ({"value":[t,"v"]}); NaN if there is none.
double SingleValue(const std::string& body) {
  size_t v = body.find("\"value\":[");
  if (v == std::string::npos) return std::nan("");
  size_t start = body.find(",\"", v);
  size_t end = body.find('"', start + 2);
  return std::stod(body.substr(start + 2, end - start - 2));
}

std::string Get(int port, const std::string& target) {
  http::Client c("127.0.0.1", std::to_string(port), 10'000);
  auto res = c.Do(http::Request(boost::beast::http::verb::get, target, 11));
  return res.ok() && res->result_int() == 200 ? res->body() : "";
}

TEST(AgentChaosTest, EveryAcknowledgedSampleReachesTheBackend) {
  const int64_t outage_s = EnvSeconds("STRATA_CHAOS_OUTAGE_SECONDS", 120);
  testing::TempDir tmp;
  const std::string& dir = tmp.path();
  int backend_port = testing::FreePort();
  int agent_port = testing::FreePort();
  std::ofstream(dir + "/agent.yaml")
      << "data_dir: " << dir << "/agent\n"
      << "server: {grpc_listen: \"\"}\n"
      << "exporters:\n"
      << "- name: backend\n"
      << "  url: http://127.0.0.1:" << backend_port << "/api/v1/push\n"
      << "  min_backoff: 50ms\n  max_backoff: 1s\n"
      << "  health: {probe_interval: 500ms}\n"
      << "  queue: {max_disk_bytes: 2MiB, segment_size: 256KiB}\n";
  auto backend = StartBackend(dir, backend_port);
  auto agent = StartAgent(dir, agent_port);
  ASSERT_TRUE(testing::WaitForHttp(backend_port, "/-/ready"));
  ASSERT_TRUE(testing::WaitForHttp(agent_port, "/-/ready"));

  const int64_t base = NowMillis() - int64_t{20} * 60'000;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::pair<int, int>, int64_t> acked;  // highest acknowledged sequence number
  std::atomic<uint64_t> acks{0}, refused_full{0}, failures{0};
  std::vector<std::thread> senders;
  senders.reserve(kSenders);
  for (int c = 0; c < kSenders; ++c) {
    senders.emplace_back([&, c] {
      int64_t next = 0;
      std::unique_ptr<http::Client> client;
      bool pending = false;  // a request not yet acknowledged is retried before stopping
      while (!stop || pending) {
        if (!client) {
          client = std::make_unique<http::Client>("127.0.0.1", std::to_string(agent_port), 5000);
        }
        proto::WriteRequest wr;
        for (int s = 0; s < kSeriesPerSender; ++s) {
          proto::TimeSeries ts;
          ts.labels = {{"__name__", "chaos"}, {"c", std::to_string(c)}, {"s", std::to_string(s)}};
          for (int k = 0; k < kSamplesPerSeries; ++k) {
            ts.samples.push_back({base + next + k, static_cast<double>(next + k)});
          }
          wr.series.push_back(std::move(ts));
        }
        pending = true;
        auto res = client->Do(testing::PushRequest(wr));
        if (res.ok() && res->result_int() == 204) {
          pending = false;
          next += kSamplesPerSeries;
          std::lock_guard lk(mu);
          for (int s = 0; s < kSeriesPerSender; ++s) acked[{c, s}] = next - 1;
          ++acks;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        // Not acknowledged: the same batch is retried, as a remote-write sender does.
        ASSERT_TRUE(!res.ok() || res->result_int() == 503)
            << res->result_int() << " " << res->body();
        if (res.ok() && res->body().find("is full") != std::string::npos) ++refused_full;
        ++failures;
        client.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }

  std::mt19937 rng(std::random_device{}());
  auto restart_agent = [&] {
    agent->Kill(SIGKILL);
    agent = StartAgent(dir, agent_port);
    ASSERT_TRUE(testing::WaitForHttp(agent_port, "/-/ready")) << "agent did not restart";
  };
  std::this_thread::sleep_for(std::chrono::seconds(5));
  int kills = 0;
  // Outage: the backend is gone; the agent is killed now and then while it queues.
  backend->Kill(SIGKILL);
  auto outage_end = std::chrono::steady_clock::now() + std::chrono::seconds(outage_s);
  while (std::chrono::steady_clock::now() < outage_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2000 + rng() % 8000));
    restart_agent();
    ++kills;
  }
  EXPECT_GT(refused_full.load(), 0u) << "the disk budget was never reached";
  // Recovery: the backlog drains while the agent is killed a few more times.
  backend = StartBackend(dir, backend_port);
  ASSERT_TRUE(testing::WaitForHttp(backend_port, "/-/ready"));
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1500));
    restart_agent();
    ++kills;
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  for (auto& t : senders) t.join();

  // Wait for the queue to drain.
  bool drained = false;
  for (int i = 0; i < 600 && !drained; ++i) {
    drained = MetricValue(Get(agent_port, "/metrics"), "strata_agent_queue_pending_items") == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(drained) << Get(agent_port, "/metrics");

  // Every stored sample was acknowledged (senders stop only after their last 2xx) and samples
  // of one timestamp are stored once, so "all acknowledged are there" is a count per series.
  uint64_t checked = 0;
  for (const auto& [key, last] : acked) {
    std::string q =
        fmt::format("count_over_time(chaos{{c=\"{}\",s=\"{}\"}}[1d])", key.first, key.second);
    std::string body = Get(backend_port, "/api/v1/query?query=" + QueryEscape(q) +
                                             "&time=" + std::to_string(NowMillis() / 1000 + 60));
    EXPECT_EQ(SingleValue(body), static_cast<double>(last + 1))
        << "sender " << key.first << " series " << key.second << ": " << last + 1
        << " samples acknowledged";
    checked += static_cast<uint64_t>(last + 1);
  }
  std::string backend_metrics = Get(backend_port, "/metrics");
  double duplicates = MetricValue(backend_metrics, "strata_ingest_samples_duplicate_total");
  std::string agent_metrics = Get(agent_port, "/metrics");
  std::cout << "agent chaos test: outage " << outage_s << "s, " << kills << " agent kills, "
            << acks.load() << " acknowledged requests, " << failures.load()
            << " refused or failed attempts (" << refused_full.load() << " queue full), " << checked
            << " samples verified, " << duplicates
            << " duplicates delivered to the backend after it came back, "
            << MetricValue(backend_metrics, "strata_ingest_rejected_samples_total")
            << " redelivered samples it refused as out of order, items the agent counted as "
               "rejected: "
            << MetricValue(agent_metrics, "strata_agent_dropped_items_total") << "\n";
  EXPECT_GT(kills, 3);
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace strata
