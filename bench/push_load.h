#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "bench/stats.h"
#include "http/client.h"

// The load loop of the push benchmarks (bench/logs/log_push, bench/traces/span_push): workers,
// each on its own connection, post the requests a source gives them, paced to a rate of units
// (lines, spans) per second if asked, until the source runs dry or the duration is over.
namespace strata::bench {

struct PushRequest {
  std::string body;
  uint64_t units = 0;  // lines, spans: what --rate and the results count
  uint64_t bytes = 0;  // payload bytes before encoding, as the results report them
};

struct PushOptions {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  int concurrency = 4;
  uint64_t rate = 0;      // units per second over all workers; 0: as fast as taken
  double duration_s = 0;  // 0: until the source runs dry
};

struct PushResult {
  uint64_t acked = 0;  // units in 2xx answers
  uint64_t bytes = 0;
  uint64_t errors = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;  // one per request
  // "<unit>_acked=… <unit>_per_sec=… …": one line of key=value results for the run scripts.
  std::string Summary(std::string_view unit) const {
    return fmt::format(
        "{0}_acked={1} {0}_bytes={2} errors={3} seconds={4:.2f} {0}_per_sec={5:.0f} requests={6} "
        "p50_ms={7:.2f} p99_ms={8:.2f}",
        unit, acked, bytes, errors, seconds, double(acked) / seconds, latencies_ms.size(),
        Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99));
  }
};

// `next(worker)` is called on worker `worker`'s thread (0 <= worker < concurrency) for its
// next request; nullopt ends that worker. The first three failures are printed to stderr.
inline PushResult RunPush(const PushOptions& opts,
                          const std::function<std::optional<PushRequest>(int worker)>& next) {
  namespace bhttp = boost::beast::http;
  using Clock = std::chrono::steady_clock;
  auto url = http::ParseUrl(opts.url);
  if (!url.ok()) throw std::runtime_error("bad --url: " + url.status().ToString());
  if (opts.concurrency < 1) throw std::runtime_error("--concurrency must be at least 1");
  std::atomic<uint64_t> sent{0}, acked{0}, errors{0}, bytes{0};
  Mutex mu;
  PushResult result;
  const auto begin = Clock::now();
  const auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(opts.duration_s));
  auto expired = [&] { return opts.duration_s > 0 && Clock::now() >= deadline; };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(opts.concurrency));
  for (int w = 0; w < opts.concurrency; ++w) {
    workers.emplace_back([&, w] {
      http::Client client(url->host, url->port);
      std::vector<double> lat;
      while (!expired()) {
        std::optional<PushRequest> r = next(w);
        if (!r) break;
        const uint64_t after = sent.fetch_add(r->units) + r->units;
        if (opts.rate > 0) {
          // Wait until these units fit under the rate since the start.
          std::this_thread::sleep_until(
              begin + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(double(after) / double(opts.rate))));
        }
        http::Request req(bhttp::verb::post, url->target, 11);
        for (const auto& [k, v] : opts.headers) req.set(k, v);
        req.body() = std::move(r->body);
        bytes.fetch_add(r->bytes);
        const auto t0 = Clock::now();
        auto res = client.Do(std::move(req));
        lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (res.ok() && res->result_int() / 100 == 2) {
          acked.fetch_add(r->units);
        } else if (errors.fetch_add(1) < 3) {
          fmt::print(stderr, "push failed: {}\n",
                     res.ok() ? fmt::format("{} {}", res->result_int(), res->body())
                              : res.status().ToString());
        }
      }
      MutexLock lk(mu);
      result.latencies_ms.insert(result.latencies_ms.end(), lat.begin(), lat.end());
    });
  }
  for (auto& t : workers) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  result.acked = acked.load();
  result.bytes = bytes.load();
  result.errors = errors.load();
  return result;
}

}  // namespace strata::bench
