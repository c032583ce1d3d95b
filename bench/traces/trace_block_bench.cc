// Trace block sizes: writes synthetic traces (testing/synthetic_traces.h: the OpenTelemetry
// demo's user flows) as a trace block of each format version with the given writer options and
// prints bytes per span at rest against the spans' OTLP protobuf size, how fast the block is
// written and read back, and (version 2) each column's share.
//
// Usage: trace_block_bench [--traces 100000] [--per-second 500] [--page-kib 1024] [--level 3]
//                          [--seed 1] [--dir DIR]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "base/file.h"
#include "bench/tool_main.h"
#include "cache/page_cache.h"
#include "objstore/fs_bucket.h"
#include "testing/synthetic_traces.h"
#include "testing/temp_dir.h"
#include "traces/block/columns.h"
#include "traces/block/format.h"
#include "traces/block/reader.h"
#include "traces/block/writer.h"

namespace strata {
namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double PerSpan(uint64_t bytes, uint64_t spans) {
  return static_cast<double>(bytes) / static_cast<double>(spans);
}

// Each column's stored bytes per span, summed over the pages of a version 2 block.
void PrintColumns(const std::string& block_dir, uint64_t spans) {
  auto index = ReadFile(block_dir + "/" + traces::block::kIndexFile);
  auto data = ReadFile(block_dir + "/" + traces::block::kDataFile);
  if (!index.ok() || !data.ok()) throw std::runtime_error("reading the block back");
  auto decoded = traces::block::DecodeIndex(*index);
  if (!decoded.ok()) throw std::runtime_error(decoded.status().ToString());
  std::vector<uint64_t> stored;
  for (const auto& page : decoded->pages) {
    auto sizes =
        traces::block::ColumnSizes(std::string_view(*data).substr(page.offset, page.length));
    if (!sizes.ok()) throw std::runtime_error(sizes.status().ToString());
    stored.resize(sizes->size());
    for (size_t c = 0; c < sizes->size(); ++c) stored[c] += (*sizes)[c].stored;
  }
  fmt::print("  columns, stored bytes/span:");
  for (size_t c = 0; c < stored.size(); ++c) {
    fmt::print(" {} {:.2f}", traces::block::ColumnName(static_cast<traces::block::Column>(c)),
               PerSpan(stored[c], spans));
  }
  fmt::print("\n");
}

int Run(int argc, char** argv) {
  CLI::App app{"Trace block sizes of synthetic OpenTelemetry demo traces"};
  traces::block::WriterOptions opts;
  uint64_t traces = 100'000, page_kib = opts.page_bytes >> 10, seed = 1;
  double per_second = 500;
  std::string dir;
  app.add_option("--traces", traces, "traces to write");
  app.add_option("--per-second", per_second, "traces started per second of data");
  app.add_option("--page-kib", page_kib, "raw bytes per page");
  app.add_option("--level", opts.zstd_level, "zstd level of the pages");
  app.add_option("--seed", seed, "generator seed");
  app.add_option("--dir", dir, "write the block here (default: a temporary directory)");
  CLI11_PARSE(app, argc, argv);
  opts.page_bytes = page_kib << 10;

  testing::SyntheticTraces gen(seed);
  std::vector<testing::SyntheticTrace> all;
  all.reserve(traces);
  const int64_t t0 = 1'700'000'000'000'000'000;
  uint64_t spans = 0, otlp = 0;
  for (uint64_t i = 0; i < traces; ++i) {
    all.push_back(gen.Next(t0 + static_cast<int64_t>(static_cast<double>(i) * 1e9 / per_second)));
    spans += all.back().spans;
    otlp += all.back().traces_data.size();
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });

  testing::TempDir tmp("trace-block-bench");
  if (dir.empty()) dir = tmp.path() + "/bucket";
  fmt::print("traces {}  spans {}  spans/trace {:.1f}\n", traces, spans,
             static_cast<double>(spans) / static_cast<double>(traces));
  fmt::print("OTLP protobuf: {} bytes, {:.1f} bytes/span\n", otlp,
             static_cast<double>(otlp) / static_cast<double>(spans));
  for (int version : {1, 2}) {
    opts.format_version = version;
    const std::string name = fmt::format("v{}", version);
    const std::string block_dir = fmt::format("{}/t/traces/{}", dir, name);
    auto start = std::chrono::steady_clock::now();
    auto writer = traces::block::BlockWriter::Create(block_dir, opts);
    if (!writer.ok()) throw std::runtime_error(writer.status().ToString());
    for (const auto& t : all) {
      Status st = (*writer)->Add(t.id, t.traces_data, t.spans, t.start_ns, t.end_ns);
      if (!st.ok()) throw std::runtime_error(st.ToString());
    }
    auto meta = (*writer)->Finish();
    if (!meta.ok()) throw std::runtime_error(meta.status().ToString());
    const double write_s = Since(start);

    auto opened = objstore::FsBucket::Open(dir);
    if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
    std::shared_ptr<objstore::Bucket> bucket = std::move(*opened);
    cache::PageCache cache(64u << 20, nullptr, nullptr);
    traces::block::BlockReader reader(bucket, "t/traces/" + name + "/", *meta, cache, {});
    start = std::chrono::steady_clock::now();
    uint64_t read_bytes = 0;
    Status st = reader.ForEachTrace(
        [&](std::string_view, std::string_view data) {
          read_bytes += data.size();
          return Status::Ok();
        },
        nullptr);
    if (!st.ok()) throw std::runtime_error(st.ToString());
    const double read_s = Since(start);
    const uint64_t at_rest = meta->data_bytes + meta->index_bytes;
    fmt::print(
        "block v{}: data {} + index {} bytes = {:.2f} bytes/span ({} pages); write "
        "{:.0f} spans/s; read back {:.0f} MB/s of OTLP\n",
        version, meta->data_bytes, meta->index_bytes, PerSpan(at_rest, spans), meta->num_pages,
        static_cast<double>(spans) / write_s, static_cast<double>(read_bytes) / read_s / 1e6);
    if (version == 2) PrintColumns(block_dir, spans);
  }
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("trace_block_bench", strata::Run, argc, argv);
}
