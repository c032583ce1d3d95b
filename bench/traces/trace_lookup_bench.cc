// Trace-by-ID at scale: writes a tenant's synthetic traces (testing/synthetic_traces.h) as many
// trace blocks into an S3 bucket (s3rver in bench/traces/run.sh), then looks traces up through
// the trace gateway and reports, per lookup, the object-store GETs and the latency: cold (the
// gateway has every block's index, no page cached), for IDs no block holds, and warm (pages
// cached). Also what finding the blocks costs: the time, GETs and index bytes held.
//
// Usage: trace_lookup_bench --s3 http://127.0.0.1:PORT [--bucket strata] [--blocks 1000]
//                           [--traces-per-block 500] [--lookups 2000] [--seed 1]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"
#include "bench/tool_main.h"
#include "bench/traces/write_blocks.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "objstore/instrumented.h"
#include "objstore/s3_bucket.h"
#include "testing/synthetic_traces.h"
#include "testing/temp_dir.h"
#include "traces/block/writer.h"
#include "traces/gateway.h"

namespace strata {
namespace {

constexpr const char* kTenant = "lookup-bench";

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The GETs (whole and ranged, any outcome) the gateway's bucket has made.
class GetCounter {
 public:
  explicit GetCounter(objstore::BucketMetrics& m) {
    size_t i = 0;
    for (objstore::Op op : {objstore::Op::kGet, objstore::Op::kGetRange}) {
      for (const char* outcome : {"ok", "not_found", "error"}) {
        counters_[i++] = &m.requests.Add({{"operation", std::string(objstore::OpName(op))},
                                          {"component", std::string(objstore::ComponentName(
                                                            objstore::Component::kStoreGateway))},
                                          {"signal", std::string(SignalName(Signal::kTraces))},
                                          {"tenant", kTenant},
                                          {"outcome", outcome}});
      }
    }
  }
  uint64_t Gets() const {
    double n = 0;
    for (const auto* c : counters_) n += c->Value();
    return static_cast<uint64_t>(n);
  }

 private:
  std::array<prometheus::Counter*, 6> counters_{};
};

// Looks each ID up; prints GETs per lookup and latency.
void Lookups(const char* what, const traces::Gateway& gateway, const GetCounter& counter,
             const std::vector<std::string>& ids, bool expect_found) {
  std::vector<double> ms, gets;
  uint64_t missing = 0;
  for (const auto& id : ids) {
    const uint64_t g0 = counter.Gets();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> parts;
    Status st = gateway.FindTrace(kTenant, id, parts, nullptr);
    ms.push_back(MsSince(t0));
    if (!st.ok()) throw std::runtime_error(st.ToString());
    gets.push_back(static_cast<double>(counter.Gets() - g0));
    if (parts.empty() == expect_found) ++missing;
  }
  double total = 0;
  for (double g : gets) total += g;
  fmt::print(
      "{:<28} {:>6} lookups  GETs/lookup mean {:.3f} p99 {:.0f} max {:.0f}  latency ms p50 {:.2f} "
      "p99 {:.2f} max {:.2f}{}\n",
      what, ids.size(), total / static_cast<double>(ids.size()), bench::Percentile(gets, 0.99),
      bench::Percentile(gets, 1.0), bench::Percentile(ms, 0.5), bench::Percentile(ms, 0.99),
      bench::Percentile(ms, 1.0), missing == 0 ? "" : fmt::format("  WRONG: {} answers", missing));
  if (missing != 0) throw std::runtime_error("lookups answered wrongly");
}

int Run(int argc, char** argv) {
  CLI::App app{"Trace-by-ID GETs and latency over many trace blocks in an S3 bucket"};
  std::string endpoint, bucket_name = "strata";
  uint64_t blocks = 1000, per_block = 500, lookups = 2000, seed = 1;
  app.add_option("--s3", endpoint, "S3 endpoint (s3rver: credentials S3RVER)")->required();
  app.add_option("--bucket", bucket_name, "bucket");
  app.add_option("--blocks", blocks, "trace blocks to write");
  app.add_option("--traces-per-block", per_block, "traces in each block");
  app.add_option("--lookups", lookups, "lookups of each kind");
  app.add_option("--seed", seed, "generator seed");
  CLI11_PARSE(app, argc, argv);
  if (blocks == 0 || per_block == 0 || lookups == 0) throw std::runtime_error("nothing to do");

  objstore::S3Options o;
  o.endpoint = endpoint;
  o.bucket = bucket_name;
  o.access_key_id = "S3RVER";
  o.secret_access_key = "S3RVER";
  auto opened = objstore::S3Bucket::Open(o);
  if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
  std::shared_ptr<objstore::Bucket> s3 = std::move(*opened);

  testing::TempDir staging("trace-lookup-bench");
  auto t0 = std::chrono::steady_clock::now();
  const bench::Written w =
      bench::WriteBlocks(*s3, kTenant, blocks, per_block, seed, staging.path());
  fmt::print(
      "wrote {} blocks: {} traces, {} spans, data {:.1f} MB, indexes {:.1f} MB ({:.2f} "
      "bytes/trace) "
      "in {:.1f} s\n",
      blocks, w.ids.size(), w.spans, static_cast<double>(w.data_bytes) / 1e6,
      static_cast<double>(w.index_bytes) / 1e6,
      static_cast<double>(w.index_bytes) / static_cast<double>(w.ids.size()), MsSince(t0) / 1e3);

  prometheus::Registry registry;
  objstore::BucketMetrics metrics(registry);
  auto bucket = std::make_shared<objstore::InstrumentedBucket>(
      s3, metrics, objstore::Component::kStoreGateway, Signal::kTraces, kTenant);
  const GetCounter counter(metrics);
  std::mt19937_64 rng(seed);
  std::vector<std::string> present, absent;
  for (uint64_t i = 0; i < lookups; ++i) {
    present.push_back(w.ids[rng() % w.ids.size()]);
    std::string id(16, '\0');
    for (auto& c : id) c = static_cast<char>(rng());
    absent.push_back(std::move(id));
  }

  // Cold: a cache that holds nothing, so every lookup reads its pages from the bucket.
  cache::PageCache none(0, nullptr, nullptr);
  traces::Gateway cold(none, {}, [&](const std::string&) { return bucket; });
  t0 = std::chrono::steady_clock::now();
  uint64_t g0 = counter.Gets();
  Status st = cold.Sync(kTenant);
  if (!st.ok()) throw std::runtime_error(st.ToString());
  fmt::print("gateway found {} blocks in {:.1f} s with {} GETs\n", cold.Blocks(kTenant).size(),
             MsSince(t0) / 1e3, counter.Gets() - g0);
  Lookups("cold, present", cold, counter, present, true);
  Lookups("cold, absent", cold, counter, absent, false);

  cache::PageCache cache(1u << 30, nullptr, nullptr);
  traces::Gateway warm(cache, {}, [&](const std::string&) { return bucket; });
  st = warm.Sync(kTenant);
  if (!st.ok()) throw std::runtime_error(st.ToString());
  Lookups("first lookup, present", warm, counter, present, true);
  Lookups("warm, present", warm, counter, present, true);
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("trace_lookup_bench", strata::Run, argc, argv);
}
