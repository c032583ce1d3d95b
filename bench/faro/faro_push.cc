// Faro receiver load: posts browser-like Faro Web SDK payloads to a /collect endpoint as the
// SDK's fetch transport does (JSON, Origin, x-api-key). Each payload is one batch a page
// would send: the SDK's meta for one of --apps apps and a session of its own, two logs, a web
// vitals measurement and an event; every 10th also an exception with an 8-frame stack, every
// 5th a fetch trace of two spans. --rate caps the requests per second over all connections;
// --duration stops the run. Prints one line of key=value results (requests_per_sec, p99_ms).
// --offline instead times, on this thread, what the agent's receiver does to each payload
// besides HTTP and the queue: decode, log lines, the traces' protobuf, snappy.
//
// Usage: faro_push --url http://127.0.0.1:12347/collect [--concurrency 8] [--rate 0]
//                  [--duration 20] [--apps 5] [--api-key K] [--origin O]
//        faro_push --offline [--duration 5]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench/push_load.h"
#include "bench/stats.h"
#include "bench/tool_main.h"
#include "proto/faro.h"
#include "proto/otlp.h"
#include "proto/remote_write.h"

namespace strata {
namespace {

std::string Hex(std::mt19937_64& rng, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rng() & 0xff);
  return out;
}

std::string Payload(uint64_t n, int apps, std::mt19937_64& rng) {
  const int app = static_cast<int>(n % static_cast<uint64_t>(apps));
  const std::string trace = Hex(rng, 16), span = Hex(rng, 8);
  const std::string ts = fmt::format("2026-12-05T01:02:{:02}.{:03}Z", n % 60, n % 1000);
  const std::string session = Hex(rng, 5);
  std::string items = fmt::format(
      R"("logs":[{{"message":"cart updated: {0} items","level":"info","timestamp":"{1}",)"
      R"("context":{{"component":"CartDrawer","route":"/cart"}},)"
      R"("trace":{{"trace_id":"{2}","span_id":"{3}"}}}},)"
      R"({{"message":"price service answered in {4} ms","level":"log","timestamp":"{1}"}}],)"
      R"("measurements":[{{"type":"web-vitals","timestamp":"{1}",)"
      R"("values":{{"fcp":{5}.5,"ttfb":{6}.25,"delta":{5}.5}},)"
      R"("context":{{"rating":"good","navigation_type":"navigate"}}}}],)"
      R"("events":[{{"name":"add_to_cart","domain":"shop","timestamp":"{1}",)"
      R"("attributes":{{"sku":"SKU-{7}","qty":"1"}}}}])",
      n % 7 + 1, ts, trace, span, n % 300, 300 + n % 900, 40 + n % 200, n % 5000);
  if (n % 10 == 0) {
    std::string frames;
    for (int f = 0; f < 8; ++f) {
      if (f > 0) frames += ',';
      frames += fmt::format(
          R"({{"function":"render{0}","filename":"https://shop.example/static/js/main.{1}.js",)"
          R"("lineno":{2},"colno":{3}}})",
          f, app, 1000 + f * 37, 10 + f);
    }
    items += fmt::format(
        R"x(,"exceptions":[{{"type":"TypeError","value":"Cannot read properties of undefined )x"
        R"x((reading 'price')","timestamp":"{}","stacktrace":{{"frames":[{}]}}}}])x",
        ts, frames);
  }
  if (n % 5 == 0) {
    items += fmt::format(
        R"(,"traces":{{"resourceSpans":[{{"resource":{{"attributes":[)"
        R"({{"key":"service.name","value":{{"stringValue":"shop-{0}"}}}}]}},)"
        R"("scopeSpans":[{{"scope":{{"name":"@opentelemetry/instrumentation-fetch"}},"spans":[)"
        R"({{"traceId":"{1}","spanId":"{2}","name":"HTTP GET","kind":3,)"
        R"("startTimeUnixNano":"1764896523000000000","endTimeUnixNano":"1764896523120000000",)"
        R"("attributes":[{{"key":"http.url","value":{{"stringValue":"https://shop.example/api/cart"}}}}]}},)"
        R"({{"traceId":"{1}","spanId":"{3}","parentSpanId":"{2}","name":"documentFetch",)"
        R"("kind":1,"startTimeUnixNano":"1764896523000000000","endTimeUnixNano":"1764896523050000000"}}]}}]}}]}})",
        app, trace, span, Hex(rng, 8));
  }
  return fmt::format(
      R"({{"meta":{{"sdk":{{"name":"faro-web","version":"2.12.1"}},)"
      R"("app":{{"name":"shop-{0}","version":"3.4.{0}","environment":"production"}},)"
      R"("session":{{"id":"{1}","attributes":{{"isSampled":"true"}}}},)"
      R"("page":{{"id":"{2}","url":"https://shop.example/cart?step={3}"}},)"
      R"("browser":{{"name":"Chrome","version":"156.0.0.0","os":"Linux","mobile":false,)"
      R"("userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) )"
      R"(Chrome/156.0.0.0 Safari/537.36","language":"en-US","viewportWidth":"1280",)"
      R"("viewportHeight":"720"}},"view":{{"name":"default"}}}},{4}}})",
      app, session, Hex(rng, 5), n % 4, items);
}

// The receiver's work on each payload of `pool`, repeated for `seconds`: per payload, in µs.
int Offline(const std::vector<std::string>& pool, double seconds) {
  uint64_t n = 0, line_bytes = 0;
  const double cpu0 = bench::CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    for (const auto& body : pool) {
      auto p = proto::DecodeFaro(body);
      if (!p.ok()) throw std::runtime_error(p.status().ToString());
      auto logs = proto::FaroToLoki(*p, {.format = proto::FaroLogFormat::kLogfmt,
                                         .labels = {{"app_name", ""}, {"kind", ""}},
                                         .entry_ns = 1,
                                         .resolve_frame = {}});
      line_bytes += proto::SnappyCompress(logs.push).size();
      if (!p->traces_json.empty()) {
        auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, p->traces_json);
        if (!pb.ok()) throw std::runtime_error(pb.status().ToString());
        line_bytes += proto::SnappyCompress(*pb).size();
      }
      ++n;
    }
  }
  const double cpu = bench::CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  fmt::print(
      "payloads={} cpu_seconds={:.2f} us_per_payload={:.1f} payloads_per_cpu_second={:.0f} "
      "queued_bytes_per_payload={}\n",
      n, cpu, cpu * 1e6 / double(n), double(n) / cpu, line_bytes / n);
  return 0;
}

int Run(int argc, char** argv) {
  CLI::App app{"Faro Web SDK payloads posted to a Faro receiver"};
  bench::PushOptions opts;
  int apps = 5;
  std::string api_key, origin = "https://shop.example";
  opts.concurrency = 8;
  opts.duration_s = 20;
  bool offline = false;
  app.add_option("--url", opts.url, "the /collect endpoint");
  app.add_flag("--offline", offline, "time the receiver's decoding and lines, no HTTP");
  app.add_option("--concurrency", opts.concurrency, "connections");
  app.add_option("--rate", opts.rate, "requests per second over all connections; 0: as taken");
  app.add_option("--duration", opts.duration_s, "seconds");
  app.add_option("--apps", apps, "apps the payloads come from");
  app.add_option("--api-key", api_key, "x-api-key");
  app.add_option("--origin", origin, "Origin");
  CLI11_PARSE(app, argc, argv);
  if (apps < 1) throw std::runtime_error("--apps must be at least 1");
  opts.headers = {{"Content-Type", "application/json"}, {"Origin", origin}};
  if (!api_key.empty()) opts.headers.emplace_back("x-api-key", api_key);
  // A pool of distinct payloads, made before the clock starts.
  std::mt19937_64 rng(42);
  std::vector<std::string> pool;
  uint64_t pool_bytes = 0;
  for (uint64_t n = 0; n < 1000; ++n) {
    pool.push_back(Payload(n, apps, rng));
    pool_bytes += pool.back().size();
  }
  if (offline) return Offline(pool, opts.duration_s);
  if (opts.url.empty()) throw std::runtime_error("--url is required");
  std::vector<uint64_t> next(static_cast<size_t>(opts.concurrency));
  auto result = bench::RunPush(opts, [&](int w) -> std::optional<bench::PushRequest> {
    const std::string& body =
        pool[(next[static_cast<size_t>(w)]++ * 7 + static_cast<uint64_t>(w)) % pool.size()];
    return bench::PushRequest{body, 1, body.size()};
  });
  fmt::print("{} mean_payload_bytes={}\n", result.Summary("requests"), pool_bytes / pool.size());
  return result.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("faro_push", strata::Run, argc, argv);
}
