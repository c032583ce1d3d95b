// Tail sampling across two `strata agent`s that are SIGKILLed while they work. Traces with
// known errors and latencies are sent with their spans split over both agents (each agent
// forwards the spans of traces the other owns), some spans arriving after the decision. At
// the end, at the recording backend: every error and slow trace is there whole, the
// probabilistic share of the rest is within tolerance, no trace is split (a trace is there
// with every span a sender got a 2xx for, or not at all), and nothing acknowledged is lost.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "base/units.h"
#include "recording_backend.h"
#include "test_util.h"

namespace strata {
namespace {
using testing::Process;

constexpr int kTraces = 240;
constexpr int kDecisionWaitS = 5;
constexpr int kPercentage = 20;

enum class Kind { kError, kSlow, kPlain };
Kind KindOf(int k) { return k % 8 == 0 ? Kind::kError : k % 8 == 1 ? Kind::kSlow : Kind::kPlain; }

std::string TraceId(int k) {
  return fmt::format("{:016x}{:016x}", 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(k + 1),
                     0xc2b2ae3d27d4eb4full * static_cast<uint64_t>(k + 7));
}

// Span i of trace k is "span-<k*10+i>/" (the slash ends the number the backend reads). Span 0 is
// the root; trace kinds: an error on span 1, a slow root (1.5 s), or 10 ms spans. All spans of a
// trace share its start time.
std::string SpanJson(int k, int i, int64_t start_ns) {
  const int64_t end_ns =
      start_ns + (i == 0 && KindOf(k) == Kind::kSlow ? 1'500'000'000 : 10'000'000);
  return fmt::format(
      R"({{"traceId":"{}","spanId":"{:016x}",{}"name":"span-{}/","startTimeUnixNano":"{}","endTimeUnixNano":"{}"{}}})",
      TraceId(k), k * 10 + i + 1,
      i == 0 ? "" : fmt::format(R"("parentSpanId":"{:016x}",)", k * 10 + 1), k * 10 + i, start_ns,
      end_ns, i == 1 && KindOf(k) == Kind::kError ? R"(,"status":{"code":2})" : "");
}

struct Send {
  int64_t at_ms;
  int agent;  // 0 or 1
  int trace;
  std::vector<int> spans;
  int64_t start_ns;
};

http::Request TracesRequest(const Send& s) {
  std::string items;
  for (int i : s.spans) items += (items.empty() ? "" : ",") + SpanJson(s.trace, i, s.start_ns);
  http::Request req(boost::beast::http::verb::post, "/v1/traces", 11);
  req.set(boost::beast::http::field::content_type, "application/json");
  req.body() =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"spans":[)" +
      items + "]}]}]}";
  return req;
}

TEST(TailSamplingTest, TwoAgentsKeepErrorAndSlowTracesWholeThroughSigkills) {
  testing::TempDir tmp("tail-sampling");
  const std::string& dir = tmp.path();
  const int backend_port = testing::FreePort();
  const int ports[2] = {testing::FreePort(), testing::FreePort()};
  RecordingBackend backend(backend_port);
  const std::string peers =
      fmt::format("[\"http://127.0.0.1:{}\", \"http://127.0.0.1:{}\"]", ports[0], ports[1]);
  for (int a = 0; a < 2; ++a) {
    std::ofstream(fmt::format("{}/agent{}.yaml", dir, a))
        << "data_dir: " << dir << "/agent" << a << "\n"
        << "server: {grpc_listen: \"\"}\n"
        << "receivers: {faro: {enabled: false}}\n"
        << "exporters:\n"
        << "- name: traces\n  type: otlp_http\n"
        << "  url: http://127.0.0.1:" << backend_port << "\n  probe_url: none\n"
        << "  min_backoff: 50ms\n  max_backoff: 1s\n"
        << "tail_sampling:\n"
        << "  decision_wait: " << kDecisionWaitS << "s\n"
        << "  policies: [\n"
        << "    {name: errors, type: status_code, status_code: {status_codes: [ERROR]}},\n"
        << "    {name: slow, type: latency, latency: {threshold_ms: 1000}},\n"
        << "    {name: share, type: probabilistic, probabilistic: {sampling_percentage: "
        << kPercentage << "}}]\n"
        << "  peers: " << peers << "\n"
        << "  self: http://127.0.0.1:" << ports[a] << "\n";
  }
  std::unique_ptr<Process> agents[2];
  std::mutex agents_mu;
  auto start = [&](int a) {
    agents[a] = std::make_unique<Process>(
        std::vector<std::string>{STRATA_BINARY, "agent", "--config",
                                 fmt::format("{}/agent{}.yaml", dir, a), "--listen",
                                 fmt::format("127.0.0.1:{}", ports[a])},
        fmt::format("{}/agent{}.log", dir, a));
  };
  start(0);
  start(1);
  ASSERT_TRUE(testing::WaitForHttp(ports[0], "/-/ready"));
  ASSERT_TRUE(testing::WaitForHttp(ports[1], "/-/ready"));

  // The schedule: spans 0 and 1 to one agent, span 2 to the other up to a second later, and
  // for every third trace a late span 3 after its decision.
  std::mt19937 rng(20261205);
  std::vector<Send> sends;
  const int64_t t0 = NowMillis() + 200;
  const int64_t start_ns = NowMillis() * 1'000'000;
  for (int64_t k = 0; k < kTraces; ++k) {
    const int64_t at = t0 + k * 25;
    const int64_t trace_start = start_ns + k * 1'000'000;
    const int first = static_cast<int>(rng() % 2);
    const int trace = static_cast<int>(k);
    sends.push_back({at, first, trace, {0, 1}, trace_start});
    sends.push_back({at + static_cast<int64_t>(rng() % 1000), 1 - first, trace, {2}, trace_start});
    if (k % 3 == 0) {
      const int64_t late = at + int64_t{kDecisionWaitS + 2} * 1000 + rng() % 1000;
      sends.push_back({late, static_cast<int>(rng() % 2), trace, {3}, trace_start});
    }
  }
  std::sort(sends.begin(), sends.end(),
            [](const Send& a, const Send& b) { return a.at_ms < b.at_ms; });

  std::mutex mu;
  std::map<int, std::set<int>> acked;  // trace -> spans acknowledged
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> retries{0};
  constexpr int kSenders = 4;
  std::vector<std::thread> senders;
  senders.reserve(kSenders);
  for (int w = 0; w < kSenders; ++w) {
    senders.emplace_back([&] {
      for (size_t i; (i = next++) < sends.size();) {
        const Send& s = sends[i];
        const int64_t wait = s.at_ms - NowMillis();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        for (;;) {  // until acknowledged, as an OTLP exporter retries
          http::Client c("127.0.0.1", std::to_string(ports[s.agent]), 5'000);
          auto res = c.Do(TracesRequest(s));
          if (res.ok() && res->result_int() == 200) break;
          ASSERT_TRUE(!res.ok() || res->result_int() == 503)
              << res->result_int() << " " << res->body();
          ++retries;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        std::lock_guard lk(mu);
        acked[s.trace].insert(s.spans.begin(), s.spans.end());
      }
    });
  }
  // SIGKILLs while spans arrive, are forwarded, wait and are decided.
  std::atomic<bool> sent{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    for (int round = 0; !sent; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 1500));
      const int a = round % 2;
      ++kills;
      std::lock_guard lk(agents_mu);
      agents[a]->Kill(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      start(a);
    }
  });
  for (auto& t : senders) t.join();
  sent = true;
  killer.join();
  ASSERT_TRUE(testing::WaitForHttp(ports[0], "/-/ready"));
  ASSERT_TRUE(testing::WaitForHttp(ports[1], "/-/ready"));

  // Settled: nothing buffered or queued at either agent, for a while.
  int quiet = 0;
  for (int i = 0; i < 240 && quiet < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    double busy = 0;
    for (int port : ports) {
      std::string m = testing::HttpGet(port, "/metrics");
      busy += m.empty() ? 1
                        : testing::MetricValue(m, "strata_agent_tail_sampling_traces_buffered") +
                              testing::MetricValue(m, "strata_agent_queue_pending_items");
    }
    quiet = busy == 0 ? quiet + 1 : 0;
  }
  ASSERT_EQ(quiet, 3) << "the agents did not settle";

  std::set<int64_t> seen = backend.Seen("span-");
  int plain = 0, plain_kept = 0;
  for (int k = 0; k < kTraces; ++k) {
    std::set<int> got;
    for (int i = 0; i < 4; ++i) {
      if (seen.count(k * 10 + i)) got.insert(i);
    }
    const std::set<int>& want = acked[k];
    // Whole or absent: every acknowledged span when any is there (a span whose 2xx was lost
    // to a SIGKILL may be there too).
    if (!got.empty()) {
      EXPECT_TRUE(std::includes(got.begin(), got.end(), want.begin(), want.end()))
          << "trace " << k << " is split: " << got.size() << " of " << want.size() << " spans";
    }
    if (KindOf(k) != Kind::kPlain) {
      EXPECT_FALSE(got.empty()) << "trace " << k << " (error or slow) was not kept";
    } else {
      ++plain;
      plain_kept += got.empty() ? 0 : 1;
    }
  }
  // 180 plain traces at 20%: 36 expected, a binomial standard deviation of 5.4.
  EXPECT_NEAR(plain_kept, plain * kPercentage / 100.0, 22) << plain_kept << " of " << plain;
  std::cout << "traces " << kTraces << ", plain kept " << plain_kept << "/" << plain
            << ", SIGKILLs " << kills << ", retried sends " << retries << ", duplicates "
            << backend.duplicates() << "\n";
}

}  // namespace
}  // namespace strata
