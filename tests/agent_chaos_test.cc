// The agent loses nothing it acknowledged: senders push numbered samples (remote write), log
// lines (OTLP/HTTP and Loki push) and spans (OTLP/HTTP) through `strata agent`; samples go to a
// `strata serve` backend, logs and spans to a recording OTLP/Loki endpoint in this process
// (no Loki or Tempo is installable here). The backends are down for a long outage, the agent
// is SIGKILLed at random moments (during segment rotations, appends and acknowledgements: its
// segments are small), its disk budget is hit and refuses with 503. At the end every item a
// sender got a 2xx for must be at its backend.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "base/units.h"
#include "http/server.h"
#include "proto/remote_write.h"
#include "recording_backend.h"
#include "test_util.h"

namespace strata {
namespace {
using testing::Process;

constexpr int kSenders = 2;
constexpr int kSeriesPerSender = 4;
constexpr int kSamplesPerSeries = 250;  // per request

int64_t EnvSeconds(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoll(v, nullptr, 10) : def;
}

std::unique_ptr<Process> StartBackend(const std::string& dir, int port) {
  return std::make_unique<Process>(
      std::vector<std::string>{STRATA_BINARY, "serve", "--data-dir", dir + "/backend", "--listen",
                               "127.0.0.1:" + std::to_string(port), "--grpc-listen", "",
                               "--log.level", "warn"},
      dir + "/backend.log");
}

std::unique_ptr<Process> StartAgent(const std::string& dir, int port) {
  return std::make_unique<Process>(
      std::vector<std::string>{STRATA_BINARY, "agent", "--config", dir + "/agent.yaml", "--listen",
                               "127.0.0.1:" + std::to_string(port)},
      dir + "/agent.log");
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

// One request of `n` numbered items of a log or span signal, from `first`.
http::Request SignalRequest(const std::string& prefix, int64_t first, int n) {
  std::string items;
  const int64_t t = NowMillis() * 1'000'000;
  for (int k = 0; k < n; ++k) {
    if (k > 0) items += ",";
    if (prefix == "log-") {
      items += fmt::format(R"({{"timeUnixNano":"{}","body":{{"stringValue":"log-{}"}}}})", t + k,
                           first + k);
    } else if (prefix == "span-") {
      items += fmt::format(
          R"({{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"{:016x}","name":"span-{}"}})",
          first + k + 1, first + k);
    } else {
      items += fmt::format(R"(["{}","loki-{}"])", t + k, first + k);
    }
  }
  std::string path, body;
  if (prefix == "log-") {
    path = "/v1/logs";
    body = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)" + items + "]}]}]}";
  } else if (prefix == "span-") {
    path = "/v1/traces";
    body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + items + "]}]}]}";
  } else {
    path = "/loki/api/v1/push";
    body = R"({"streams":[{"stream":{"job":"chaos"},"values":[)" + items + "]}]}";
  }
  http::Request req(boost::beast::http::verb::post, path, 11);
  req.set(boost::beast::http::field::content_type, "application/json");
  req.body() = body;
  return req;
}

TEST(AgentChaosTest, EveryAcknowledgedItemReachesTheBackend) {
  const int64_t outage_s = EnvSeconds("STRATA_CHAOS_OUTAGE_SECONDS", 60);
  testing::TempDir tmp("agent-chaos");
  const std::string& dir = tmp.path();
  int backend_port = testing::FreePort();
  int agent_port = testing::FreePort();
  int signals_port = testing::FreePort();
  RecordingBackend signals(signals_port);
  std::ofstream(dir + "/agent.yaml")
      << "data_dir: " << dir << "/agent\n"
      << "server: {grpc_listen: \"\"}\n"
      << "exporters:\n"
      << "- name: backend\n"
      << "  url: http://127.0.0.1:" << backend_port << "/api/v1/push\n"
      << "  min_backoff: 50ms\n  max_backoff: 1s\n"
      << "  health: {probe_interval: 500ms}\n"
      << "  queue: {max_disk_bytes: 2MiB, segment_size: 256KiB}\n"
      << "- name: otel\n  type: otlp_http\n"
      << "  url: http://127.0.0.1:" << signals_port << "\n  probe_url: none\n"
      << "  min_backoff: 50ms\n  max_backoff: 1s\n"
      << "  queue: {max_disk_bytes: 4MiB, segment_size: 256KiB}\n"
      << "- name: loki\n  type: loki\n"
      << "  url: http://127.0.0.1:" << signals_port << "/loki/api/v1/push\n  probe_url: none\n"
      << "  min_backoff: 50ms\n  max_backoff: 1s\n"
      << "  queue: {max_disk_bytes: 4MiB, segment_size: 256KiB}\n";
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

  // Logs and spans: one sender per signal, numbered items, a batch retried until acknowledged.
  std::map<std::string, int64_t> signal_acked;  // prefix -> items acknowledged (0..n-1)
  for (std::string prefix : {"log-", "span-", "loki-"}) {
    signal_acked[prefix] = 0;
    senders.emplace_back([&, prefix] {
      constexpr int kBatch = 50;
      int64_t next = 0;
      std::unique_ptr<http::Client> client;
      bool pending = false;
      while (!stop || pending) {
        if (!client) {
          client = std::make_unique<http::Client>("127.0.0.1", std::to_string(agent_port), 5000);
        }
        pending = true;
        auto res = client->Do(SignalRequest(prefix, next, kBatch));
        unsigned code = res.ok() ? res->result_int() : 0;
        if (code == 200 || code == 204) {
          pending = false;
          next += kBatch;
          std::lock_guard lk(mu);
          signal_acked[prefix] = next;
          ++acks;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        ASSERT_TRUE(!res.ok() || code == 503) << prefix << " " << code << " " << res->body();
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
  signals.SetDown(true);
  auto outage_end = std::chrono::steady_clock::now() + std::chrono::seconds(outage_s);
  while (std::chrono::steady_clock::now() < outage_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 4000));
    restart_agent();
    ++kills;
  }
  EXPECT_GT(refused_full.load(), 0u) << "the disk budget was never reached";
  // Recovery: the backlog drains while the agent is killed a few more times.
  backend = StartBackend(dir, backend_port);
  signals.SetDown(false);
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
    // Summed over the exporters' queues.
    drained = testing::MetricValue(testing::HttpGet(agent_port, "/metrics"),
                                   "strata_agent_queue_pending_items") == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(drained) << testing::HttpGet(agent_port, "/metrics");

  // Every stored sample was acknowledged (senders stop only after their last 2xx) and samples
  // of one timestamp are stored once, so "all acknowledged are there" is a count per series.
  uint64_t checked = 0;
  for (const auto& [key, last] : acked) {
    std::string q =
        fmt::format("count_over_time(chaos{{c=\"{}\",s=\"{}\"}}[1d])", key.first, key.second);
    std::string body =
        testing::HttpGet(backend_port, "/api/v1/query?query=" + QueryEscape(q) +
                                           "&time=" + std::to_string(NowMillis() / 1000 + 60));
    EXPECT_EQ(SingleValue(body), static_cast<double>(last + 1))
        << "sender " << key.first << " series " << key.second << ": " << last + 1
        << " samples acknowledged";
    checked += static_cast<uint64_t>(last + 1);
  }
  uint64_t signal_items = 0;
  for (const auto& [prefix, n] : signal_acked) {
    std::set<int64_t> seen = signals.Seen(prefix);
    int64_t missing = 0;
    for (int64_t i = 0; i < n; ++i) missing += seen.count(i) ? 0 : 1;
    EXPECT_EQ(missing, 0) << prefix << ": " << n << " acknowledged";
    EXPECT_GT(n, 0) << prefix;
    signal_items += static_cast<uint64_t>(n);
  }
  std::string backend_metrics = testing::HttpGet(backend_port, "/metrics");
  double duplicates =
      testing::MetricValue(backend_metrics, "strata_ingest_samples_duplicate_total");
  std::string agent_metrics = testing::HttpGet(agent_port, "/metrics");
  std::cout << "agent chaos test: outage " << outage_s << "s, " << kills << " agent kills, "
            << acks.load() << " acknowledged requests, " << failures.load()
            << " refused or failed attempts (" << refused_full.load() << " queue full), " << checked
            << " samples verified, " << duplicates
            << " duplicates delivered to the backend after it came back, "
            << testing::MetricValue(backend_metrics, "strata_ingest_rejected_samples_total")
            << " redelivered samples it refused as out of order, items the agent counted as "
               "rejected: "
            << testing::MetricValue(agent_metrics, "strata_agent_dropped_items_total") << "; "
            << signal_items << " log lines and spans verified, " << signals.duplicates()
            << " of them delivered more than once\n";
  EXPECT_GT(kills, 3);
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace strata
