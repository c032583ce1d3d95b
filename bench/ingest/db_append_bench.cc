// The storage half of remote-write ingest: a request's series hashed, looked up as one batch
// (Db::Lookup) and one sample appended to each (Db::Append, which also encodes the WAL
// records; the WAL's own thread writes them), over a Db holding `series` node-exporter-shaped
// series, in batches of 2,000 as Prometheus sends them, their labels side by side as in a
// decoded request. No HTTP, no decoding, no fsync wait: this is the memory-bound part of what
// bench/ingest/run.sh measures inside the whole server.
//
// Usage: build/bench/db_append_bench [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "base/labels.h"
#include "testing/temp_dir.h"
#include "tsdb/db.h"

namespace strata::tsdb {
namespace {

// `n` series: 100 per host, each a metric name and one of a few label values under it.
std::vector<Labels> NodeSeries(size_t n) {
  static constexpr const char* kMetrics[] = {
      "node_cpu_seconds_total", "node_network_receive_bytes_total", "node_disk_read_bytes_total",
      "node_filesystem_avail_bytes", "node_memory_MemFree_bytes"};
  static constexpr const char* kModes[] = {"idle", "user", "system", "iowait", "irq"};
  std::vector<Labels> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t host = i / 100, k = i % 100;
    Labels l = {{"__name__", kMetrics[k % 5]},
                {"cpu", std::to_string(k / 5 % 20)},
                {"instance", "host-" + std::to_string(host) + ".example.internal:9100"},
                {"job", "node"},
                {"mode", kModes[k / 25 % 5]}};
    out.push_back(std::move(l));
  }
  return out;
}

void DbAppendBatchBench(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  constexpr size_t kBatch = 2000;
  std::vector<Labels> series = NodeSeries(n);
  // A sender's shards each carry a share of the series in no particular order.
  std::shuffle(series.begin(), series.end(), std::mt19937_64(1));
  // The label strings of all batches, one after another, as each request's body holds them.
  std::string bytes;
  for (const auto& l : series) {
    for (const auto& [name, value] : l) bytes += name + value;
  }
  std::vector<std::vector<LabelView>> labels(n);
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& [name, value] : series[i]) {
      const std::string_view nv(bytes.data() + at, name.size() + value.size());
      labels[i].push_back({nv.substr(0, name.size()), nv.substr(name.size())});
      at += nv.size();
    }
  }
  testing::TempDir dir("head-bench");
  auto db = Db::Open(dir.path(), DbOptions{}, "bench");
  if (!db.ok()) {
    state.SkipWithError(db.status().ToString().c_str());
    return;
  }
  std::vector<Sample> samples(kBatch);
  std::vector<SeriesInput> in(kBatch);
  SeriesLookup lookup;
  const auto ignore = [](size_t, std::optional<int64_t>, Rejection) {};
  size_t next = 0;
  int64_t t = 0;
  auto append_batch = [&] {
    const size_t m = std::min(kBatch, n - next);
    in.resize(m);
    for (size_t i = 0; i < m; ++i) {
      const auto& l = labels[next + i];
      samples[i] = {t, static_cast<double>(t + static_cast<int64_t>(i))};
      in[i] = {l, HashLabels(l), {&samples[i], 1}};
    }
    (*db)->Lookup(in, lookup);
    auto out = (*db)->Append(in, lookup, {}, {}, ignore);
    next += m;
    if (next == n) next = 0, t += 15'000;
    return out.ok() && out->accepted == m;
  };
  // The first round creates the series.
  while (t == 0) append_batch();
  for (auto _ : state) {
    if (!append_batch()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(kBatch));
}
BENCHMARK(DbAppendBatchBench)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace strata::tsdb

BENCHMARK_MAIN();
