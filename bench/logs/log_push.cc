// Log ingest load: pushes the benchmark corpus (bench/logs/corpus.py's TSV: ts_ns, system,
// level, line) to a Loki push endpoint as a Loki client does: snappy-compressed protobuf
// PushRequests of about --batch-kib of lines, one stream per request, each stream's entries
// in time order (a stream belongs to one connection). --rate caps the lines per second over
// all connections; --duration stops early. Prints one line of key=value results.
//
// Usage: log_push --url http://127.0.0.1:3100/loki/api/v1/push --corpus corpus.tsv
//                 [--concurrency 4] [--batch-kib 1024] [--rate 0] [--duration 0] [--tenant T]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "bench/tool_main.h"
#include "http/client.h"
#include "proto/remote_write.h"
#include "proto/wire.h"

namespace strata {
namespace {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

struct Stream {
  std::string labels;  // Loki's text form
  std::vector<int64_t> ts;
  std::vector<std::string> lines;
};

// Appends entries [from, to) of `s` to a serialized PushRequest as one StreamAdapter.
std::string EncodePush(const Stream& s, size_t from, size_t to) {
  std::string entries;
  for (size_t i = from; i < to; ++i) {
    std::string ts, entry;
    proto::PutVarintField(ts, 1, static_cast<uint64_t>(s.ts[i] / 1'000'000'000));
    proto::PutVarintField(ts, 2, static_cast<uint64_t>(s.ts[i] % 1'000'000'000));
    proto::PutBytesField(entry, 1, ts);
    proto::PutBytesField(entry, 2, s.lines[i]);
    proto::PutBytesField(entries, 2, entry);
  }
  std::string stream, req;
  proto::PutBytesField(stream, 1, s.labels);
  stream += entries;
  proto::PutBytesField(req, 1, stream);
  return req;
}

int Run(int argc, char** argv) {
  CLI::App app{"Loki push load from the log benchmark corpus"};
  std::string url_s, corpus, tenant;
  int concurrency = 4;
  uint64_t batch_kib = 1024, rate = 0;
  double duration_s = 0;
  app.add_option("--url", url_s, "the push endpoint")->required();
  app.add_option("--corpus", corpus, "corpus.py's TSV")->required();
  app.add_option("--concurrency", concurrency, "connections");
  app.add_option("--batch-kib", batch_kib, "line bytes per request");
  app.add_option("--rate", rate, "lines per second over all connections; 0: as fast as taken");
  app.add_option("--duration", duration_s, "stop after this many seconds; 0: send everything");
  app.add_option("--tenant", tenant, "X-Scope-OrgID");
  CLI11_PARSE(app, argc, argv);
  auto url = http::ParseUrl(url_s);
  if (!url.ok() || concurrency < 1) {
    fmt::print(stderr, "bad --url or --concurrency\n");
    return 2;
  }

  std::map<std::string, Stream> by_labels;
  std::ifstream in(corpus);
  std::string row;
  uint64_t total_lines = 0;
  while (std::getline(in, row)) {
    size_t a = row.find('\t'), b = row.find('\t', a + 1), c = row.find('\t', b + 1);
    if (c == std::string::npos) {
      fmt::print(stderr, "malformed corpus row {}\n", total_lines + 1);
      return 1;
    }
    std::string labels = fmt::format(R"({{job="loghub", level="{}", system="{}"}})",
                                     row.substr(b + 1, c - b - 1), row.substr(a + 1, b - a - 1));
    Stream& s = by_labels[labels];
    s.labels = labels;
    s.ts.push_back(std::stoll(row.substr(0, a)));
    s.lines.push_back(row.substr(c + 1));
    ++total_lines;
  }
  std::vector<Stream> streams;
  streams.reserve(by_labels.size());
  for (auto& [_, s] : by_labels) streams.push_back(std::move(s));

  std::atomic<uint64_t> sent{0}, acked{0}, errors{0}, bytes{0};
  Mutex mu;
  std::vector<double> latencies_ms;
  const auto begin = Clock::now();
  const auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(duration_s));
  auto expired = [&] { return duration_s > 0 && Clock::now() >= deadline; };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(concurrency));
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      http::Client client(url->host, url->port);
      std::vector<size_t> mine, pos;
      for (size_t i = static_cast<size_t>(w); i < streams.size(); i += concurrency) {
        mine.push_back(i);
        pos.push_back(0);
      }
      std::vector<double> lat;
      for (bool more = true; more && !expired();) {
        more = false;
        for (size_t k = 0; k < mine.size() && !expired(); ++k) {
          const Stream& s = streams[mine[k]];
          size_t from = pos[k], to = from, line_bytes = 0;
          while (to < s.lines.size() && line_bytes < (batch_kib << 10))
            line_bytes += s.lines[to++].size();
          if (to == from) continue;
          more = true;
          pos[k] = to;
          if (rate > 0) {
            // Wait until these lines fit under the rate since the start.
            uint64_t after = sent.fetch_add(to - from) + (to - from);
            auto due = begin + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(double(after) / double(rate)));
            std::this_thread::sleep_until(due);
          } else {
            sent.fetch_add(to - from);
          }
          http::Request req(bhttp::verb::post, url->target, 11);
          req.set(bhttp::field::content_type, "application/x-protobuf");
          req.set(bhttp::field::user_agent, "strata-log-push");
          if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
          req.body() = proto::SnappyCompress(EncodePush(s, from, to));
          bytes.fetch_add(line_bytes);
          auto t0 = Clock::now();
          auto res = client.Do(std::move(req));
          lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          if (res.ok() && res->result_int() / 100 == 2) {
            acked.fetch_add(to - from);
          } else {
            if (errors.fetch_add(1) < 3) {
              fmt::print(stderr, "push failed: {}\n",
                         res.ok() ? fmt::format("{} {}", res->result_int(), res->body())
                                  : res.status().ToString());
            }
          }
        }
      }
      MutexLock lk(mu);
      latencies_ms.insert(latencies_ms.end(), lat.begin(), lat.end());
    });
  }
  for (auto& t : workers) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - begin).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double q) {
    return latencies_ms.empty() ? 0.0 : latencies_ms[size_t(q * double(latencies_ms.size() - 1))];
  };
  fmt::print(
      "lines_total={} lines_acked={} line_bytes={} errors={} seconds={:.2f} lines_per_sec={:.0f} "
      "requests={} p50_ms={:.2f} p99_ms={:.2f}\n",
      total_lines, acked.load(), bytes.load(), errors.load(), secs, double(acked.load()) / secs,
      latencies_ms.size(), pct(0.5), pct(0.99));
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("log_push", strata::Run, argc, argv);
}
