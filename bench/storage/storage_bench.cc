// Store-gateway benchmark: the same N series x D days in memory (an uncut head) and in
// object-storage blocks (cut at 2h, compacted to 24h) on a filesystem or S3 bucket.
// Reports: object-store GETs and latency of cold queries, the latency distribution of
// fetching one series' 4h from a warm gateway, and a dashboard query over all D days from
// blocks (warm) against the same query on the in-memory head.
//
// Usage: storage_bench [--series 5000] [--days 7] [--cache-mb 1024]
//                      [--s3 http://127.0.0.1:4568 --bucket strata] [--dir DIR]
// --cache-mb bounds the gateway's memory cache; "warm" means the data fits in it.
// --dir keeps the data (both Dbs and the filesystem bucket) in DIR; a later run with the same
// DIR, series and days skips the load and the compaction (the head is replayed from its WAL).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/units.h"
#include "bench/stats.h"
#include "bench/tool_main.h"
#include "objstore/fs_bucket.h"
#include "objstore/s3_bucket.h"
#include "promql/engine.h"
#include "promql/parser.h"
#include "query/head_querier.h"
#include "store/gateway.h"
#include "testing/temp_dir.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/compact/compactor.h"
#include "tsdb/db.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kStep = 60'000;  // scrape interval of the generated data
constexpr int64_t kDay = 86'400'000;

// Counts the requests that reach the bucket.
class CountingBucket : public objstore::Bucket {
 public:
  explicit CountingBucket(std::shared_ptr<objstore::Bucket> inner) : inner_(std::move(inner)) {}
  Result<std::string> Get(const std::string& k) override {
    ++gets;
    return inner_->Get(k);
  }
  Result<std::string> GetRange(const std::string& k, uint64_t o, uint64_t l) override {
    ++gets;
    return inner_->GetRange(k, o, l);
  }
  Status Put(const std::string& k, std::string_view d) override { return inner_->Put(k, d); }
  Status PutFile(const std::string& k, const std::string& p) override {
    return inner_->PutFile(k, p);
  }
  Result<std::vector<objstore::ObjectInfo>> List(const std::string& p, bool r) override {
    ++lists;
    return inner_->List(p, r);
  }
  Status Delete(const std::string& k) override { return inner_->Delete(k); }
  Result<bool> Exists(const std::string& k) override { return inner_->Exists(k); }
  std::atomic<int64_t> gets{0};
  std::atomic<int64_t> lists{0};

 private:
  std::shared_ptr<objstore::Bucket> inner_;
};

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

int Run(int argc, char** argv) {
  int series = 5000;
  int days = 7;
  std::string s3_endpoint;
  std::string s3_bucket = "strata";
  uint64_t cache_mb = 1024;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--series") series = std::stoi(argv[i + 1]);
    if (a == "--days") days = std::stoi(argv[i + 1]);
    if (a == "--s3") s3_endpoint = argv[i + 1];
    if (a == "--bucket") s3_bucket = argv[i + 1];
    if (a == "--cache-mb") cache_mb = std::stoull(argv[i + 1]);
    if (a == "--dir") dir = argv[i + 1];
  }
  const bool keep = !dir.empty();
  std::optional<testing::TempDir> tmp;
  if (!keep) tmp.emplace("sbench");
  const std::string work = keep ? dir : tmp->path();
  // The marker names what was loaded and when it ended, so a reused directory holds the same
  // data as a fresh run would.
  const std::string marker = work + "/loaded";
  int64_t end = (NowMillis() / kDay) * kDay - kDay;  // whole days, ending yesterday
  bool reuse = false;
  if (keep && fs::exists(marker)) {
    int m_series = 0;
    int m_days = 0;
    int64_t m_end = 0;
    std::ifstream in(marker);
    reuse = (in >> m_series >> m_days >> m_end) && m_series == series && m_days == days;
    if (!reuse) {
      std::fprintf(stderr, "%s holds other data; remove it or pick another --dir\n", work.c_str());
      return 1;
    }
    end = m_end;
  } else {
    fs::remove_all(work);
    fs::create_directories(work);
  }
  std::shared_ptr<objstore::Bucket> raw;
  if (s3_endpoint.empty()) {
    raw = std::move(objstore::FsBucket::Open(work + "/bucket").value());
  } else {
    objstore::S3Options o;
    o.endpoint = s3_endpoint;
    o.bucket = s3_bucket;
    o.access_key_id = "S3RVER";
    o.secret_access_key = "S3RVER";
    raw = std::move(objstore::S3Bucket::Open(o).value());
  }
  auto bucket = std::make_shared<CountingBucket>(raw);
  std::string tenant = keep ? "bench" : fmt::format("bench-{}", ::getpid());
  std::printf("backend: %s; %d series x %d days at 60s = %.1fM samples\n",
              s3_endpoint.empty() ? "filesystem" : ("s3 " + s3_endpoint).c_str(), series, days,
              static_cast<double>(series) * days * 1440 / 1e6);

  // Data: node_cpu_seconds_total-like counters (decimal, 2 places), 8 modes per host.
  tsdb::DbOptions dopts;
  auto cut = tsdb::Db::Open(work + "/cut", dopts, tenant).value();
  auto mem = tsdb::Db::Open(work + "/mem", dopts, tenant).value();
  const int64_t start = end - int64_t{days} * kDay;
  std::vector<Labels> labels;
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  labels.reserve(static_cast<size_t>(series));
  for (int i = 0; i < series; ++i) {
    labels.push_back({{"__name__", "node_cpu_seconds_total"},
                      {"cpu", std::to_string(i / 8 % 4)},
                      {"instance", fmt::format("host-{:05}", i / 32)},
                      {"mode", modes[i % 8]}});
  }
  std::mt19937_64 rng(1);
  // Writes the data into both Dbs, cuts and uploads blocks as the server does, compacts them.
  auto load = [&]() -> int {
    std::vector<double> value(series, 0);
    auto t0 = std::chrono::steady_clock::now();
    int shipped = 0;
    auto ship = [&](const std::string& dir, const tsdb::block::BlockMeta& meta) {
      ++shipped;
      return tsdb::block::UploadBlock(*bucket, tenant, dir, meta);
    };
    const int64_t batch_ms = 3'600'000;
    // An hour of 1,000 series per append, as a remote-write batch would bring them.
    constexpr int kPerAppend = 1000;
    std::vector<std::vector<Sample>> samples(kPerAppend);
    std::vector<std::vector<LabelView>> views(kPerAppend);
    std::vector<tsdb::SeriesInput> in;
    for (int64_t b = start; b < end; b += batch_ms) {
      for (int first = 0; first < series; first += kPerAppend) {
        in.clear();
        for (int i = first; i < std::min(series, first + kPerAppend); ++i) {
          auto& smp = samples[i - first];
          smp.clear();
          for (int64_t t = b; t < b + batch_ms; t += kStep) {
            value[i] += static_cast<double>(rng() % 1500) / 100;
            smp.push_back({t, value[i]});
          }
          views[i - first] = ViewOf(labels[i]);
          in.push_back({views[i - first], HashLabels(views[i - first]), smp});
        }
        for (auto* db : {cut.get(), mem.get()}) {
          auto r = db->Append(in, {}, {}, [](size_t, std::optional<int64_t>, tsdb::Rejection) {});
          if (!r.ok()) {
            std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
            return 1;
          }
        }
      }
      auto c = cut->CutBlocks(work + "/staging", ship);
      if (!c.ok()) {
        std::fprintf(stderr, "cut: %s\n", c.status().ToString().c_str());
        return 1;
      }
    }
    std::printf("loaded and cut %d blocks in %.1f s\n", shipped,
                Ms(std::chrono::steady_clock::now() - t0) / 1000);
    tsdb::compact::CompactorOptions copts;
    copts.work_dir = work + "/compactor";
    copts.downsample_5m_after_ms = INT64_MAX / 4;  // raw data only: a like-for-like comparison
    copts.downsample_1h_after_ms = INT64_MAX / 4;
    copts.deletion_delay_ms = 0;
    const limits::TenantOverrides keep_everything;  // no retention
    tsdb::compact::Compactor compactor(
        copts, keep_everything, [&](const std::string&) { return bucket; }, nullptr);
    t0 = std::chrono::steady_clock::now();
    int64_t gets_before = bucket->gets;
    auto pass = compactor.Run(tenant, end + kDay);
    if (!pass.ok()) {
      std::fprintf(stderr, "compact: %s\n", pass.status().ToString().c_str());
      return 1;
    }
    (void)compactor.Run(tenant, end + kDay + 1);  // delete the retired sources
    std::printf("compacted into %d blocks in %.1f s (%lld GETs)\n", pass->compacted,
                Ms(std::chrono::steady_clock::now() - t0) / 1000,
                static_cast<long long>(bucket->gets - gets_before));
    if (keep) {
      std::ofstream out(marker);
      out << series << ' ' << days << ' ' << end << '\n';
      if (!out.flush()) return 1;
    }
    return 0;
  };
  if (reuse) {
    std::printf("reusing the data in %s\n", work.c_str());
  } else if (int rc = load(); rc != 0) {
    return rc;
  }
  store::GatewayOptions gopts;
  gopts.cache_bytes = cache_mb << 20;
  auto gateway = std::make_unique<store::StoreGateway>(
      gopts, [&](const std::string&) { return std::shared_ptr<objstore::Bucket>(bucket); },
      nullptr);
  if (Status st = gateway->Sync(tenant); !st.ok()) {
    std::fprintf(stderr, "sync: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("blocks after compaction: %zu\n", gateway->Blocks(tenant).size());

  // One series, 4h.
  auto fetch = [&](store::StoreGateway& gw, int i, int64_t from) {
    auto q = gw.Querier(tenant, {.max_resolution_ms = 0});
    std::vector<Matcher> ms;
    ms.reserve(labels[i].size());
    for (const auto& l : labels[i])
      ms.push_back(Matcher::Make(Matcher::Type::kEqual, l.name, l.value).value());
    auto set = q->Select({from, from + 14'400'000 - 1}, ms).value();  // 4h
    std::vector<Sample> out;
    for (size_t k = 0; k < set->size(); ++k) set->Samples(k, out);
    return out.size();
  };
  int64_t g0 = bucket->gets;
  auto c0 = std::chrono::steady_clock::now();
  size_t n = fetch(*gateway, 7, end - kDay);
  std::printf(
      "cold single-series 4h fetch: %.2f ms, %lld GETs (indexes-of-index included), %zu samples\n",
      Ms(std::chrono::steady_clock::now() - c0), static_cast<long long>(bucket->gets - g0), n);
  // Warm: a working set of 200 series x their 4h windows, fetched once, then timed.
  std::vector<std::pair<int, int64_t>> set;
  set.reserve(200);
  for (int k = 0; k < 200; ++k) {
    set.emplace_back(
        static_cast<int>(rng() % series),
        start + static_cast<int64_t>(rng() % static_cast<uint64_t>(days * 6)) * 4 * 3'600'000);
  }
  for (auto [i, from] : set) fetch(*gateway, i, from);
  std::vector<double> lat;
  g0 = bucket->gets;
  for (int rep = 0; rep < 10; ++rep) {
    for (auto [i, from] : set) {
      auto s = std::chrono::steady_clock::now();
      fetch(*gateway, i, from);
      lat.push_back(Ms(std::chrono::steady_clock::now() - s));
    }
  }
  std::printf("warm single-series 4h fetch: p50 %.3f ms, p99 %.3f ms over %zu fetches, %lld GETs\n",
              bench::Percentile(lat, 0.5), bench::Percentile(lat, 0.99), lat.size(),
              static_cast<long long>(bucket->gets - g0));

  // Dashboard panel over all days at Grafana's step for the range (~1100 points).
  promql::Engine engine;
  auto expr = promql::ParseExpr("sum by (mode) (rate(node_cpu_seconds_total[5m]))").value();
  int64_t step = std::max<int64_t>(60'000, (end - start) / 1100 / 60'000 * 60'000);
  auto run = [&](const query::Querier& q) {
    auto s = std::chrono::steady_clock::now();
    auto r = engine.Range(q, *expr, start + 3'600'000, end - 60'000, step);
    if (!r.ok()) std::fprintf(stderr, "query: %s\n", r.status().ToString().c_str());
    return Ms(std::chrono::steady_clock::now() - s);
  };
  auto cold_gateway = std::make_unique<store::StoreGateway>(
      gopts, [&](const std::string&) { return std::shared_ptr<objstore::Bucket>(bucket); },
      nullptr);
  (void)cold_gateway->Sync(tenant);
  g0 = bucket->gets;
  double cold = run(*cold_gateway->Querier(tenant, {.max_resolution_ms = 0}));
  std::printf("dashboard %s over %dd @%llds: cold %.0f ms with %lld GETs\n",
              "sum by (mode)(rate(node_cpu_seconds_total[5m]))", days,
              static_cast<long long>(step / 1000), cold, static_cast<long long>(bucket->gets - g0));
  std::vector<double> warm;
  std::vector<double> inmem;
  {
    query::HeadQuerier head(mem->head());  // pins the head: gone before the Db closes
    for (int rep = 0; rep < 5; ++rep) {
      warm.push_back(run(*cold_gateway->Querier(tenant, {.max_resolution_ms = 0})));
      inmem.push_back(run(head));
    }
  }
  double wm = bench::Percentile(warm, 0.5);
  double im = bench::Percentile(inmem, 0.5);
  std::printf("dashboard median: blocks (warm) %.0f ms, in-memory head %.0f ms, ratio %.2fx\n", wm,
              im, wm / im);
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("storage_bench", strata::Run, argc, argv);
}
