// Encoding and decoding speed of block chunks (packed and Gorilla XOR) on the shapes the
// storage bench and loadgen write: a decimal counter kept as a running double sum, a gauge,
// regular 15 s / 60 s scrapes. Compaction and block cuts spend most of their time here.
//
// Usage: build/bench/chunkenc_bench [--benchmark_filter=EncodePacked]
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "tsdb/chunkenc/packed.h"
#include "tsdb/chunkenc/xor.h"

namespace strata::chunkenc {
namespace {

// n samples of a counter with 2-decimal increments (as storage_bench writes) or of a
// 1-decimal gauge, scraped every `step_ms`.
std::vector<Sample> Series(size_t n, bool counter, int64_t step_ms) {
  std::mt19937_64 rng(1);
  std::vector<Sample> out;
  double v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (counter) {
      v += static_cast<double>(rng() % 1500) / 100;
    } else {
      v = static_cast<double>(rng() % 1000) / 10;
    }
    out.push_back({static_cast<int64_t>(i) * step_ms, v});
  }
  return out;
}

void EncodePackedBench(benchmark::State& state) {
  auto s = Series(static_cast<size_t>(state.range(0)), state.range(1) != 0, 60'000);
  std::string out;
  for (auto _ : state) {
    out.clear();
    EncodePacked(s, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["bytes_per_sample"] =
      static_cast<double>(out.size()) / static_cast<double>(s.size());
}
BENCHMARK(EncodePackedBench)->ArgsProduct({{120, 480}, {1, 0}});

void DecodePackedBench(benchmark::State& state) {
  auto s = Series(static_cast<size_t>(state.range(0)), true, 60'000);
  std::string enc;
  EncodePacked(s, enc);
  std::vector<Sample> out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(DecodePacked(enc, out).ok());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(DecodePackedBench)->Arg(480);

void EncodeXorBench(benchmark::State& state) {
  auto s = Series(120, true, 60'000);
  std::vector<uint8_t> buf;
  for (auto _ : state) {
    buf.clear();
    XorAppender app(buf);
    for (const auto& x : s) app.Append(x.t, x.v);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations() * 120);
}
BENCHMARK(EncodeXorBench);

}  // namespace
}  // namespace strata::chunkenc

BENCHMARK_MAIN();
