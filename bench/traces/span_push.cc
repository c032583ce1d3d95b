// Span ingest load: synthetic traces (testing/synthetic_traces.h: the OpenTelemetry demo's user
// flows) pushed to an OTLP/HTTP traces endpoint as an SDK's batch span processor exports them:
// protobuf ExportTraceServiceRequests of about --batch spans (whole traces; the SDK's default
// batch is 512), --concurrency connections. The traces are generated before the clock starts,
// starting over --window seconds from --start-ns (default: the last --window seconds before now,
// so the server's head takes them as live).
// Prints one line of key=value results.
//
// Usage: span_push --url http://127.0.0.1:4318/v1/traces [--traces 100000] [--batch 512]
//                  [--concurrency 4] [--rate 0] [--duration 0] [--window 60] [--start-ns NS]
//                  [--seed 1] [--tenant T]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "base/units.h"
#include "bench/push_load.h"
#include "bench/tool_main.h"
#include "testing/synthetic_traces.h"

namespace strata {
namespace {

int Run(int argc, char** argv) {
  CLI::App app{"OTLP/HTTP span load from synthetic OpenTelemetry demo traces"};
  std::string url, tenant;
  uint64_t traces = 100'000, batch = 512, rate = 0, seed = 1;
  int concurrency = 4;
  double duration_s = 0, window_s = 60;
  int64_t start_ns = 0;
  app.add_option("--url", url, "the OTLP/HTTP traces endpoint")->required();
  app.add_option("--traces", traces, "traces to send");
  app.add_option("--batch", batch, "spans per request, in whole traces");
  app.add_option("--concurrency", concurrency, "connections");
  app.add_option("--rate", rate, "spans per second over all connections; 0: as fast as taken");
  app.add_option("--duration", duration_s, "stop after this many seconds; 0: send everything");
  app.add_option("--window", window_s, "the traces start over this many seconds");
  app.add_option("--start-ns", start_ns,
                 "the first trace's start, Unix ns (default: now - window)");
  app.add_option("--seed", seed, "generator seed");
  app.add_option("--tenant", tenant, "X-Scope-OrgID");
  CLI11_PARSE(app, argc, argv);
  if (traces == 0 || batch == 0) throw std::runtime_error("--traces and --batch must be positive");

  // An ExportTraceServiceRequest is laid out as a TracesData (field 1: repeated ResourceSpans),
  // so whole traces' bytes concatenate into a request.
  testing::SyntheticTraces gen(seed);
  if (start_ns == 0) start_ns = NowNanos() - static_cast<int64_t>(window_s * 1e9);
  std::vector<bench::PushRequest> requests(1);
  uint64_t spans = 0;
  for (uint64_t i = 0; i < traces; ++i) {
    testing::SyntheticTrace t = gen.Next(testing::SyntheticStart(start_ns, window_s, i, traces));
    if (requests.back().units >= batch) requests.emplace_back();
    requests.back().body += t.traces_data;
    requests.back().units += t.spans;
    requests.back().bytes += t.traces_data.size();
    spans += t.spans;
  }

  bench::PushOptions opts{
      .url = url,
      .headers = {{"Content-Type", "application/x-protobuf"}, {"User-Agent", "strata-span-push"}},
      .concurrency = concurrency,
      .rate = rate,
      .duration_s = duration_s};
  if (!tenant.empty()) opts.headers.emplace_back("X-Scope-OrgID", tenant);
  std::atomic<size_t> next{0};
  const bench::PushResult r = bench::RunPush(opts, [&](int) -> std::optional<bench::PushRequest> {
    const size_t i = next++;
    if (i >= requests.size()) return std::nullopt;
    return std::move(requests[i]);
  });
  fmt::print("traces_total={} spans_total={} {}\n", traces, spans, r.Summary("spans"));
  return r.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("span_push", strata::Run, argc, argv);
}
