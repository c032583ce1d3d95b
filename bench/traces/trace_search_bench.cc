// TraceQL search over trace blocks, per CPU-second of one core: writes a tenant's synthetic
// traces (testing/synthetic_traces.h) as trace blocks into a local bucket, then runs each
// query as /api/search does (the trace store's search with the query's column filter, then
// every trace it gives decoded and evaluated) and reports the traces' OTLP bytes scanned per
// CPU-second, beside the same search without the filter (every trace rebuilt and evaluated).
//
// Usage: trace_search_bench [--blocks 20] [--traces-per-block 40000] [--reps 3] [--seed 1]
//                           [--query Q]...
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <limits>
#include <string>
#include <vector>

#include "bench/stats.h"
#include "bench/tool_main.h"
#include "bench/traces/write_blocks.h"
#include "cache/page_cache.h"
#include "objstore/fs_bucket.h"
#include "testing/temp_dir.h"
#include "traceql/engine.h"
#include "traceql/parser.h"
#include "traceql/prefilter.h"
#include "traces/gateway.h"
#include "traces/queryable.h"
#include "traces/search_filter.h"
#include "traces/storage.h"

namespace strata {
namespace {

constexpr const char* kTenant = "search-bench";

struct Run {
  double cpu_s = 0;
  uint64_t given = 0, matched = 0;
};

// One search of `query` over every block, as TempoApi::Search evaluates it.
Run Search(const traces::Queryable& q, const std::string& query, bool filtered) {
  auto root = traceql::Parse(query);
  if (!root.ok()) throw std::runtime_error(query + ": " + root.status().ToString());
  traceql::SearchEvaluator eval((*root)->pipeline);
  const traceql::Prefilter prefilter = traceql::PrefilterOf((*root)->pipeline);
  traces::QueryFilter filter(prefilter, traces::TraceBounds{});
  Run out;
  const double t0 = bench::CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  Status st = q.Search(
      kTenant, 0, std::numeric_limits<int64_t>::max(), uint64_t{256} << 20,
      [&](const traces::FoundTrace& found) {
        ++out.given;
        auto t = traceql::DecodeTrace(found.traces_data);
        if (!t.ok()) throw std::runtime_error(t.status().ToString());
        if (!eval.Eval(*t).empty()) ++out.matched;
        return true;
      },
      nullptr, filtered ? &filter : nullptr);
  out.cpu_s = bench::CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - t0;
  if (!st.ok()) throw std::runtime_error(st.ToString());
  return out;
}

int Main(int argc, char** argv) {
  CLI::App app{"TraceQL search over trace blocks, per CPU-second"};
  uint64_t blocks = 20, per_block = 40000, reps = 3, seed = 1;
  bool compare = true;
  std::vector<std::string> queries = {
      R"({ status = error })",
      R"({ resource.service.name = "checkout" && span.app.order.id != nil })",
      R"({ span.http.response.status_code >= 500 || duration > 1s })",
      R"({ name =~ ".*GetCart" && kind = server })",
      R"({ resource.service.name = "frontend" } >> { status = error })",
      R"({ kind = server } | count() > 3)",
  };
  app.add_option("--blocks", blocks, "trace blocks to write");
  app.add_option("--traces-per-block", per_block, "traces in each block");
  app.add_option("--reps", reps, "runs of each query (the median is reported)");
  app.add_option("--seed", seed, "generator seed");
  app.add_option("--query", queries, "TraceQL queries (replace the defaults)");
  app.add_flag("!--no-compare", compare, "skip the searches without the filter (profiling)");
  CLI11_PARSE(app, argc, argv);
  if (blocks == 0 || per_block == 0 || reps == 0) throw std::runtime_error("nothing to do");

  testing::TempDir dir("trace-search-bench");
  auto opened = objstore::FsBucket::Open(dir.path() + "/bucket");
  if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
  std::shared_ptr<objstore::Bucket> bucket = std::move(*opened);
  const bench::Written w =
      bench::WriteBlocks(*bucket, kTenant, blocks, per_block, seed, dir.path() + "/staging");
  fmt::print("{} blocks: {} traces, {} spans, {:.1f} MB of OTLP, {:.1f} MB stored\n", blocks,
             w.ids.size(), w.spans, static_cast<double>(w.trace_bytes) / 1e6,
             static_cast<double>(w.data_bytes) / 1e6);

  // Every page cached after the first run: the runs measure decoding and evaluation.
  cache::PageCache cache(w.data_bytes + (64u << 20), nullptr, nullptr);
  traces::Gateway gateway(cache, {}, [&](const std::string&) { return bucket; });
  Status st = gateway.Sync(kTenant);
  if (!st.ok()) throw std::runtime_error(st.ToString());
  auto storage = traces::Storage::Open({.dir = dir.path() + "/head"});
  if (!storage.ok()) throw std::runtime_error(storage.status().ToString());
  traces::StorageQueryable q;
  q.SetStorage(storage->get());
  q.SetGateway(&gateway);
  Search(q, "{ }", true);  // reads every page into the cache

  const double mb = static_cast<double>(w.trace_bytes) / 1e6;
  fmt::print("{:<72} {:>9} {:>9} {:>10} {:>10} {:>8}\n", "query", "given", "matched", "MB/cpu-s",
             "spans/cpu-s", "vs all");
  for (const std::string& query : queries) {
    std::vector<double> filtered, all;
    Run f, a;
    for (uint64_t r = 0; r < reps; ++r) {
      f = Search(q, query, true);
      filtered.push_back(f.cpu_s);
      if (!compare) continue;
      a = Search(q, query, false);
      all.push_back(a.cpu_s);
      if (f.matched != a.matched) {
        throw std::runtime_error(query + ": the filter changed the answer");
      }
    }
    const double fs = bench::Percentile(filtered, 0.5);
    fmt::print("{:<72} {:>9} {:>9} {:>10.0f} {:>10.0f}", query, f.given, f.matched, mb / fs,
               static_cast<double>(w.spans) / fs);
    if (!compare) {
      fmt::print("\n");
      continue;
    }
    const double as = bench::Percentile(all, 0.5);
    fmt::print(" {:>7.1f}x\n", as / fs);
    fmt::print("{:<72} {:>9} {:>9} {:>10.0f} {:>10.0f}\n", "  without the filter", a.given,
               a.matched, mb / as, static_cast<double>(w.spans) / as);
  }
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("trace_search_bench", strata::Main, argc, argv);
}
