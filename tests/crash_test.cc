// Crash safety: clients push numbered samples, log entries and spans concurrently while the
// server is SIGKILLed at random moments and restarted; every sample, entry and span that was
// acknowledged must be there afterwards, entries and spans byte for byte.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "base/encoding.h"
#include "base/json.h"
#include "base/units.h"
#include "logs/db.h"
#include "proto/loki.h"
#include "proto/otlp.h"
#include "proto/remote_write.h"
#include "proto/wire.h"
#include "test_util.h"
#include "traces/db.h"
#include "tsdb/db.h"

namespace strata {
namespace {
using testing::Process;

constexpr int kClients = 6;
constexpr int kSeriesPerClient = 4;
constexpr int kSamplesPerRequest = 5;
constexpr int kKills = 8;
constexpr int kLogClients = 3;
constexpr int kEntriesPerRequest = 20;
constexpr int kTraceClients = 2;
constexpr int kSpansPerRequest = 10;
constexpr int kSpansPerTrace = 50;  // a trace's spans arrive over several requests

// Span `seq` of a trace client: its trace (16 bytes, hex) and span ID (8 bytes, hex), and
// its name, which must come back unchanged.
std::string TraceIdOf(int client, int64_t seq) {
  return fmt::format("{:016x}{:016x}", client + 1, seq / kSpansPerTrace + 1);
}
std::string SpanIdOf(int client, int64_t seq) {
  return fmt::format("{:08x}{:08x}", client + 1, seq + 1);
}
std::string SpanName(int client, int64_t seq) {
  return fmt::format("client {} span {} \u00e9", client, seq);
}

// The span IDs and names of a stored trace (a serialized TracesData).
std::map<std::string, std::string> SpansOf(std::string_view traces_data) {
  std::map<std::string, std::string> out;
  auto each = [](std::string_view msg, uint32_t field, const auto& fn) {
    proto::WireReader r(msg);
    while (r.NextField()) {
      std::string_view v;
      if (r.field() == field && r.wire_type() == 2 && r.ReadBytes(&v)) {
        fn(v);
      } else if (!r.Skip()) {
        break;
      }
    }
  };
  each(traces_data, 1, [&](std::string_view rs) {
    each(rs, 2, [&](std::string_view ss) {
      each(ss, 2, [&](std::string_view span) {
        std::string id, name;
        each(span, 2, [&](std::string_view v) { id = HexEncode(v); });
        each(span, 5, [&](std::string_view v) { name = std::string(v); });
        out[id] = name;
      });
    });
  });
  return out;
}

// The line of entry `seq` of a log client: bytes that JSON and protobuf must carry unchanged.
std::string LogLine(int client, int64_t seq) {
  return fmt::format("client {} entry {} \u00e9\t\"quoted\" {}", client, seq,
                     std::string(seq % 50, '.'));
}

std::unique_ptr<Process> StartServer(const std::string& dir, int port) {
  auto p = std::make_unique<Process>(
      std::vector<std::string>{STRATA_BINARY, "serve", "--data-dir", dir, "--listen",
                               "127.0.0.1:" + std::to_string(port), "--grpc-listen", "",
                               "--log.level", "warn"},
      dir + "/../server.log");
  return p;
}

TEST(CrashTest, EveryAcknowledgedSampleSurvivesSigkill) {
  testing::TempDir tmp("crash");
  std::string dir = tmp.path() + "/data";
  int port = testing::FreePort();
  auto server = StartServer(dir, port);
  ASSERT_TRUE(testing::WaitForHttp(port, "/-/ready")) << "server did not become ready";

  const int64_t base = NowMillis() - 600'000;
  std::atomic<bool> stop{false};
  std::mutex mu;
  // acked[client][series] = highest sequence number acknowledged (all lower ones were too).
  std::map<std::pair<int, int>, int64_t> acked;
  std::atomic<uint64_t> acks{0}, failures{0};
  std::vector<std::thread> clients;
  clients.reserve(kClients + kLogClients + kTraceClients);
  // A sender: pushes make() until stopped; on success (`ok_code` with an empty body: nothing
  // refused) calls acked() (under mu) and moves on, on anything else retries the same batch
  // on a new connection, as remote-write, Loki and OTLP senders do.
  auto sender = [&](const std::function<http::Request()>& make, const std::function<void()>& on_ack,
                    unsigned ok_code = 204) {
    std::unique_ptr<http::Client> client;
    while (!stop) {
      if (!client) client = std::make_unique<http::Client>("127.0.0.1", std::to_string(port), 2000);
      auto res = client->Do(make());
      if (res.ok() && res->result_int() == ok_code && res->body().empty()) {
        std::lock_guard lk(mu);
        on_ack();
        acks++;
      } else {
        ASSERT_TRUE(!res.ok() || res->result_int() >= 500)
            << res->result_int() << " " << res->body();
        failures++;
        client.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  };
  // Log clients: entry seq of client c at base_ns + seq, line LogLine(c, seq).
  const int64_t base_ns = base * 1'000'000;
  std::map<int, int64_t> log_acked;  // client -> highest entry acknowledged (all lower were too)
  for (int c = 0; c < kLogClients; ++c) {
    clients.emplace_back([&, c] {
      int64_t next = 0;
      auto make = [&] {
        std::string values;
        for (int k = 0; k < kEntriesPerRequest; ++k) {
          values += fmt::format(R"({}["{}",)", k ? "," : "", base_ns + next + k);
          AppendJsonString(values, LogLine(c, next + k));
          values += fmt::format(R"(,{{"seq":"{}"}}])", next + k);
        }
        auto pb = proto::LokiJsonToProtobuf(fmt::format(
            R"({{"streams":[{{"stream":{{"job":"crash","client":"{}"}},"values":[{}]}}]}})", c,
            values));
        EXPECT_TRUE(pb.ok()) << pb.status().ToString();
        http::Request req(boost::beast::http::verb::post, "/loki/api/v1/push", 11);
        req.set(boost::beast::http::field::content_type, "application/x-protobuf");
        req.body() = proto::SnappyCompress(pb.ok() ? *pb : std::string());
        return req;
      };
      sender(make, [&] {
        next += kEntriesPerRequest;
        log_acked[c] = next - 1;
      });
    });
  }
  // Trace clients: span seq of client c is in trace TraceIdOf(c, seq), OTLP protobuf.
  std::map<int, int64_t> span_acked;  // client -> highest span acknowledged (all lower were too)
  for (int c = 0; c < kTraceClients; ++c) {
    clients.emplace_back([&, c] {
      int64_t next = 0;
      auto make = [&] {
        std::string spans;
        for (int k = 0; k < kSpansPerRequest; ++k) {
          const int64_t seq = next + k;
          spans += fmt::format(R"({}{{"traceId":"{}","spanId":"{}","name":)", k ? "," : "",
                               TraceIdOf(c, seq), SpanIdOf(c, seq));
          AppendJsonString(spans, SpanName(c, seq));
          spans += fmt::format(R"(,"startTimeUnixNano":"{}","endTimeUnixNano":"{}"}})",
                               base_ns + seq, base_ns + seq + 1000);
        }
        auto pb = proto::OtlpJsonToProtobuf(
            proto::OtlpSignal::kTraces,
            fmt::format(R"({{"resourceSpans":[{{"resource":{{"attributes":[{{"key":)"
                        R"("service.name","value":{{"stringValue":"crash"}}}}]}},)"
                        R"("scopeSpans":[{{"spans":[{}]}}]}}]}})",
                        spans));
        EXPECT_TRUE(pb.ok()) << pb.status().ToString();
        http::Request req(boost::beast::http::verb::post, "/v1/traces", 11);
        req.set(boost::beast::http::field::content_type, "application/x-protobuf");
        req.body() = pb.ok() ? *pb : std::string();
        return req;
      };
      sender(
          make,
          [&] {
            next += kSpansPerRequest;
            span_acked[c] = next - 1;
          },
          200);
    });
  }
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::vector<int64_t> next(kSeriesPerClient, 0);
      auto make = [&] {
        proto::WriteRequest wr;
        for (int s = 0; s < kSeriesPerClient; ++s) {
          proto::TimeSeries ts;
          ts.labels = {
              {"__name__", "crash_test"}, {"client", std::to_string(c)}, {"s", std::to_string(s)}};
          for (int k = 0; k < kSamplesPerRequest; ++k) {
            int64_t seq = next[s] + k;
            ts.samples.push_back({base + seq * 10, static_cast<double>(seq)});
          }
          wr.series.push_back(std::move(ts));
        }
        return testing::PushRequest(wr);
      };
      sender(make, [&] {
        for (int s = 0; s < kSeriesPerClient; ++s) {
          next[s] += kSamplesPerRequest;
          acked[{c, s}] = next[s] - 1;
        }
      });
    });
  }

  std::mt19937 rng(std::random_device{}());
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
    server->Kill(SIGKILL);
    server = StartServer(dir, port);
    ASSERT_TRUE(testing::WaitForHttp(port, "/-/ready")) << "no restart after kill " << k;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& t : clients) t.join();
  server->Kill(SIGKILL);

  tsdb::Head head;
  ASSERT_TRUE(tsdb::Db::ReadInto(dir + "/tenants/anonymous", head, nullptr).ok());
  uint64_t checked = 0;
  for (const auto& [key, last] : acked) {
    std::string c = std::to_string(key.first), s = std::to_string(key.second);
    std::vector<LabelView> l = {{"__name__", "crash_test"}, {"client", c}, {"s", s}};
    const tsdb::MemSeries* ms = head.Find(HashLabels(l), l);
    ASSERT_NE(ms, nullptr) << "series lost: client " << key.first << " s " << key.second;
    std::set<int64_t> have;
    head.WithSeriesLocked(*ms, [&](const tsdb::MemSeries& m) {
      m.ForEachSample(INT64_MIN, INT64_MAX, [&](int64_t t, double v) {
        int64_t seq = (t - base) / 10;
        EXPECT_EQ(static_cast<double>(seq), v);
        have.insert(seq);
      });
    });
    for (int64_t seq = 0; seq <= last; ++seq) {
      ASSERT_TRUE(have.count(seq)) << "acknowledged sample " << seq << " of client " << key.first
                                   << " series " << key.second << " is missing";
      ++checked;
    }
  }
  // Every acknowledged log entry, with its line and structured metadata as sent.
  auto logs = logs::Db::Open(dir + "/logs/tenants/anonymous", {}, "anonymous");
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  uint64_t entries_checked = 0;
  for (const auto& [c, last] : log_acked) {
    std::vector<LabelView> l = {{"client", std::to_string(c)}, {"job", "crash"}};
    const logs::Stream* st = (*logs)->head().Find(HashLabels(l), l);
    ASSERT_NE(st, nullptr) << "stream of log client " << c << " lost";
    std::vector<logs::Entry> have;
    (*logs)->head().Entries(*st, INT64_MIN, INT64_MAX, 0, have);
    std::map<int64_t, const logs::Entry*> by_seq;
    for (const auto& e : have) {
      // A batch retried after a crash finds its entries stored: none is there twice.
      ASSERT_TRUE(by_seq.emplace(e.ts_ns - base_ns, &e).second)
          << "entry " << e.ts_ns - base_ns << " of log client " << c << " is stored twice";
    }
    for (int64_t seq = 0; seq <= last; ++seq) {
      auto it = by_seq.find(seq);
      ASSERT_NE(it, by_seq.end()) << "acknowledged entry " << seq << " of log client " << c
                                  << " is missing";
      EXPECT_EQ(it->second->line, LogLine(c, seq));
      EXPECT_EQ(it->second->metadata, (Labels{{"seq", std::to_string(seq)}}));
      ++entries_checked;
    }
  }
  // Every acknowledged span, in its trace, with its name as sent.
  auto traces = traces::Db::Open(dir + "/traces/tenants/anonymous", {}, "anonymous");
  ASSERT_TRUE(traces.ok()) << traces.status().ToString();
  uint64_t spans_checked = 0;
  for (const auto& [c, last] : span_acked) {
    std::map<std::string, std::map<std::string, std::string>> by_trace;
    for (int64_t seq = 0; seq <= last; ++seq) {
      const std::string trace_hex = TraceIdOf(c, seq);
      auto it = by_trace.find(trace_hex);
      if (it == by_trace.end()) {
        std::string id;
        ASSERT_TRUE(HexDecode(trace_hex, &id));
        traces::FoundTrace found;
        ASSERT_TRUE((*traces)->head().Read(id, &found))
            << "trace " << trace_hex << " of trace client " << c << " is missing";
        it = by_trace.emplace(trace_hex, SpansOf(found.traces_data)).first;
      }
      auto span = it->second.find(SpanIdOf(c, seq));
      ASSERT_NE(span, it->second.end())
          << "acknowledged span " << seq << " of trace client " << c << " is missing";
      EXPECT_EQ(span->second, SpanName(c, seq));
      ++spans_checked;
    }
  }
  EXPECT_GT(acks.load(), 0u);
  EXPECT_GT(checked, 0u);
  EXPECT_GT(entries_checked, 0u);
  EXPECT_GT(spans_checked, 0u);
  std::cout << "crash test: " << kKills << " kills, " << acks.load() << " acknowledged requests, "
            << failures.load() << " failed attempts, " << checked << " samples, " << entries_checked
            << " log entries and " << spans_checked << " spans verified\n";
}

}  // namespace
}  // namespace strata
