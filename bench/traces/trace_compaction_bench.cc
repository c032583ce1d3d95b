// Trace compaction: writes a window's worth of level-1 trace blocks (testing/synthetic_traces.h)
// into a local bucket, as heads cut them, then runs the trace compactor over them through the
// object-store instrumentation `strata tool cost-report` reads, and reports the bytes it read
// and wrote (the target: read ≤ 1.1 × written), its requests, its CPU time and its peak
// memory.
//
// Usage: trace_compaction_bench [--blocks 12] [--traces-per-block 40000] [--seed 1]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <string>

#include "bench/stats.h"
#include "bench/tool_main.h"
#include "bench/traces/write_blocks.h"
#include "objstore/fs_bucket.h"
#include "objstore/instrumented.h"
#include "testing/temp_dir.h"
#include "traces/compactor.h"

namespace strata {
namespace {

constexpr const char* kTenant = "compaction-bench";

// The process's peak resident memory (VmHWM) in MB; ResetPeak starts it again from now.
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }
double PeakMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024;
  }
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"Trace compaction: bytes read and written, CPU, memory"};
  uint64_t blocks = 12, per_block = 40000, seed = 1;
  app.add_option("--blocks", blocks, "level-1 blocks to write (one a minute, in one window)")
      ->check(CLI::Range(2, 45));
  app.add_option("--traces-per-block", per_block, "traces in each block");
  app.add_option("--seed", seed, "generator seed");
  CLI11_PARSE(app, argc, argv);
  if (per_block == 0) throw std::runtime_error("nothing to do");

  testing::TempDir dir("trace-compaction-bench");
  auto opened = objstore::FsBucket::Open(dir.path() + "/bucket");
  if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
  std::shared_ptr<objstore::Bucket> fs = std::move(*opened);
  // Block b's traces start in minute b after 1,700,000,000 s: the window of an hour from
  // 1,699,999,200 s holds the first 46 minutes.
  const bench::Written w =
      bench::WriteBlocks(*fs, kTenant, blocks, per_block, seed, dir.path() + "/staging");
  const uint64_t stored = w.data_bytes + w.index_bytes;
  fmt::print(
      "{} level-1 blocks: {} traces, {} spans, {:.1f} MB of OTLP, {:.1f} MB stored "
      "({:.1f} bytes a span)\n",
      blocks, w.ids.size(), w.spans, static_cast<double>(w.trace_bytes) / 1e6,
      static_cast<double>(stored) / 1e6,
      static_cast<double>(stored) / static_cast<double>(w.spans));

  prometheus::Registry registry;
  objstore::BucketMetrics metrics(registry);
  auto bucket = std::make_shared<objstore::InstrumentedBucket>(
      fs, metrics, objstore::Component::kCompactor, Signal::kTraces, kTenant);
  limits::TenantOverrides limits;
  traces::CompactorOptions opts;
  opts.work_dir = dir.path() + "/work";
  traces::Compactor compactor(opts, limits, [&](const std::string&) { return bucket; });

  ResetPeak();
  const double rss_before = PeakMb();
  const double t0 = bench::CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  auto stats = compactor.Run(kTenant, int64_t{1'800'000'000'000});
  const double cpu = bench::CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
  if (!stats.ok()) throw std::runtime_error(stats.status().ToString());
  if (stats->compacted != 1) throw std::runtime_error("expected one merge");

  const prometheus::Labels labels{
      {"component", "compactor"}, {"signal", "traces"}, {"tenant", kTenant}};
  const double received = metrics.received_bytes.Add(labels).Value();
  const double sent = metrics.sent_bytes.Add(labels).Value();
  double gets = 0, puts = 0;
  for (const char* op : {"get", "get_range"}) {
    gets += metrics.requests
                .Add({{"operation", op},
                      {"component", "compactor"},
                      {"signal", "traces"},
                      {"tenant", kTenant},
                      {"outcome", "ok"}})
                .Value();
  }
  puts = metrics.requests
             .Add({{"operation", "put"},
                   {"component", "compactor"},
                   {"signal", "traces"},
                   {"tenant", kTenant},
                   {"outcome", "ok"}})
             .Value();
  fmt::print("merged: {:.1f} MB stored ({:.1f} bytes a span)\n",
             static_cast<double>(stats->bytes_written) / 1e6,
             static_cast<double>(stats->bytes_written) / static_cast<double>(w.spans));
  fmt::print("bucket: {:.1f} MB read in {:.0f} GETs, {:.1f} MB written in {:.0f} PUTs\n",
             received / 1e6, gets, sent / 1e6, puts);
  fmt::print("read / written: {:.3f}   read / sources' stored bytes: {:.3f}\n", received / sent,
             received / static_cast<double>(stored));
  fmt::print(
      "cpu: {:.1f} s, {:.0f} spans/cpu-s, {:.1f} MB of OTLP/cpu-s; peak RSS {:.0f} MB "
      "(+{:.0f} MB)\n",
      cpu, static_cast<double>(w.spans) / cpu, static_cast<double>(w.trace_bytes) / 1e6 / cpu,
      PeakMb(), PeakMb() - rss_before);
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("trace_compaction_bench", strata::Main, argc, argv);
}
