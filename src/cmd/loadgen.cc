// `strata tool loadgen`: realistic remote-write load against any remote-write receiver.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "base/histogram.h"
#include "base/mutex.h"
#include "base/units.h"
#include "cmd/commands.h"
#include "http/client.h"
#include "proto/remote_write.h"

namespace strata::cmd {
namespace {
namespace bhttp = boost::beast::http;

struct LoadgenFlags {
  std::string url = "http://127.0.0.1:9009/api/v1/push";
  uint64_t series = 10'000;
  int concurrency = 4;
  std::string duration = "30s";
  std::string interval = "15s";
  std::string start_offset = "1h";
  int64_t start_time = 0;  // Unix seconds; overrides start_offset when set
  uint64_t batch = 2000;
  uint64_t rounds = 0;  // 0 = until the duration ends
  std::string tenant;
  uint64_t seed = 1;
  bool information_floor = false;  // print the data's information floor instead of sending
  bool native_histograms = false;  // every series a native histogram (request latencies)
};

// A node_exporter-like metric: name, label sets per host, counter or gauge.
struct Template {
  std::string name;
  std::vector<std::vector<std::pair<std::string, std::string>>> variants;
  bool counter;
  double scale;  // typical magnitude of a value or of a per-second rate
  bool integral;
  bool histogram = false;  // classic buckets: the `le` label sets each series' share of scale
};

// Share of observations at or below `le` in the generated latency histograms.
double LatencyCdf(const std::string& le) {
  if (le == "+Inf") return 1.0;
  double x = std::stod(le);
  return 1.0 - std::exp(-x / 0.2);
}

std::vector<Template> NodeTemplates() {
  std::vector<Template> t;
  std::vector<std::vector<std::pair<std::string, std::string>>> cpu;
  for (int c = 0; c < 8; ++c) {
    for (const char* mode :
         {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}) {
      cpu.push_back({{"cpu", std::to_string(c)}, {"mode", mode}});
    }
  }
  t.push_back({"node_cpu_seconds_total", cpu, true, 0.5, false});
  std::vector<std::vector<std::pair<std::string, std::string>>> disks, nics, fss, one = {{}};
  for (const char* d : {"nvme0n1", "nvme1n1", "sda", "sdb"}) disks.push_back({{"device", d}});
  for (const char* n : {"eth0", "eth1", "lo", "docker0"}) nics.push_back({{"device", n}});
  for (const auto& [dev, mp] :
       std::vector<std::pair<const char*, const char*>>{{"/dev/nvme0n1p1", "/"},
                                                        {"/dev/nvme0n1p2", "/boot"},
                                                        {"/dev/nvme1n1", "/var/lib"},
                                                        {"tmpfs", "/run"}}) {
    fss.push_back(
        {{"device", dev}, {"fstype", dev[0] == 't' ? "tmpfs" : "ext4"}, {"mountpoint", mp}});
  }
  for (const char* n : {"node_disk_read_bytes_total", "node_disk_written_bytes_total",
                        "node_disk_reads_completed_total", "node_disk_writes_completed_total",
                        "node_disk_io_time_seconds_total"}) {
    t.push_back({n, disks, true, 5e5, !std::string(n).ends_with("seconds_total")});
  }
  for (const char* n : {"node_network_receive_bytes_total", "node_network_transmit_bytes_total",
                        "node_network_receive_packets_total", "node_network_transmit_packets_total",
                        "node_network_receive_errs_total"}) {
    t.push_back({n, nics, true, 2e5, true});
  }
  for (const char* n : {"node_filesystem_avail_bytes", "node_filesystem_size_bytes",
                        "node_filesystem_files_free"}) {
    t.push_back({n, fss, false, 5e10, true});
  }
  for (const char* n : {"node_memory_MemAvailable_bytes", "node_memory_MemFree_bytes",
                        "node_memory_Cached_bytes", "node_memory_Buffers_bytes"}) {
    t.push_back({n, one, false, 8e9, true});
  }
  for (const char* n : {"node_load1", "node_load5", "node_load15"})
    t.push_back({n, one, false, 2, false});
  t.push_back({"node_context_switches_total", one, true, 2e4, true});
  t.push_back({"node_intr_total", one, true, 1e4, true});
  t.push_back({"node_procs_running", one, false, 4, true});
  // A request-latency histogram per host and handler, with classic buckets.
  std::vector<std::vector<std::pair<std::string, std::string>>> buckets, handlers;
  for (const char* h : {"/api/v1/query", "/api/v1/push"}) {
    handlers.push_back({{"handler", h}});
    for (const char* le :
         {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
      buckets.push_back({{"handler", h}, {"le", le}});
    }
  }
  t.push_back({"http_request_duration_seconds_bucket", buckets, true, 50, true, true});
  t.push_back({"http_request_duration_seconds_count", handlers, true, 50, true, true});
  return t;
}

struct Series {
  std::string encoded_labels;
  double value;
  double rate;  // counters: mean increase per second
  bool counter;
  bool integral;
  bool histogram;
  int64_t jitter_ms;  // per-host scrape offset
  // --native-histograms: the series' native histogram (schema 3, 12 buckets), grown by
  // `rate` observations per second spread over the buckets.
  std::shared_ptr<histogram::FloatHistogram> native;
};

// The request-latency histograms of --native-histograms: a host's handlers.
std::vector<Template> NativeTemplates() {
  std::vector<std::vector<std::pair<std::string, std::string>>> handlers;
  handlers.reserve(20);
  for (int h = 0; h < 20; ++h) handlers.push_back({{"handler", fmt::format("/api/v1/h{:02}", h)}});
  return {{"http_request_duration_seconds", handlers, true, 50, true}};
}

// Grows a native histogram by about `observations`, spread over its buckets as latencies
// around a few hundred milliseconds would be.
void GrowNative(histogram::FloatHistogram& h, double observations) {
  static constexpr double kShare[] = {0.02, 0.05, 0.08, 0.12, 0.15, 0.16,
                                      0.14, 0.11, 0.08, 0.05, 0.03, 0.01};
  double total = 0;
  for (size_t b = 0; b < h.positive_buckets.size(); ++b) {
    double add = std::floor(observations * kShare[b]);
    h.positive_buckets[b] += add;
    total += add;
  }
  h.count += total;
  h.sum += total * 0.25;
}

std::vector<Series> MakeSeries(uint64_t n, uint64_t seed, bool native) {
  auto templates = native ? NativeTemplates() : NodeTemplates();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<Series> out;
  out.reserve(n);
  for (uint64_t host = 0; out.size() < n; ++host) {
    std::string instance = fmt::format("host-{:05}.example.internal:9100", host);
    auto jitter = static_cast<int64_t>(rng() % 7);
    double host_load = 0.5 + u(rng);  // shared by a host's histogram series
    for (const auto& t : templates) {
      for (const auto& v : t.variants) {
        if (out.size() >= n) break;
        std::vector<std::pair<std::string, std::string>> l = v;
        l.emplace_back("__name__", t.name);
        l.emplace_back("instance", instance);
        l.emplace_back("job", "node");
        std::sort(l.begin(), l.end());
        std::vector<LabelView> views;
        views.reserve(l.size());
        for (const auto& [k, val] : l) views.push_back({k, val});
        Series s;
        s.encoded_labels = proto::EncodeLabels(views);
        s.counter = t.counter;
        s.integral = t.integral;
        s.rate = t.scale * (0.1 + u(rng));
        s.value = t.counter ? std::floor(s.rate * 1e4 * u(rng)) : t.scale * (0.2 + u(rng));
        s.histogram = t.histogram;
        if (t.histogram) {
          // Buckets of one host grow in step so counts stay cumulative across `le`.
          std::string le = "+Inf";
          for (const auto& [k, val] : v) {
            if (k == "le") le = val;
          }
          s.rate = t.scale * host_load * LatencyCdf(le);
          s.value = std::floor(s.rate * 1e4);
        }
        s.jitter_ms = jitter;
        if (native) {
          s.native = std::make_shared<histogram::FloatHistogram>();
          s.native->schema = 3;
          s.native->zero_threshold = std::ldexp(1.0, -128);
          s.native->positive_spans = {{-24, 12}};  // about 0.125 s to 0.35 s
          s.native->positive_buckets.assign(12, 0);
          GrowNative(*s.native, std::floor(s.rate * 1e4));
        }
        out.push_back(std::move(s));
      }
    }
  }
  return out;
}

// Advances a series by one scrape interval and returns the new value.
double Step(Series& s, double interval_s, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (s.histogram) {
    s.value += std::floor(s.rate * interval_s);
    return s.value;
  }
  if (s.counter) {
    double inc = s.rate * interval_s * (0.8 + 0.4 * u(rng));
    s.value += s.integral ? std::floor(inc) : std::round(inc * 100) / 100;
  } else {
    double next = s.value * (1 + (u(rng) - 0.5) * 0.02);
    s.value = s.integral ? std::floor(next) : std::round(next * 100) / 100;
  }
  return s.value;
}

// A lower bound on the bits any lossless store needs, on average, for the sample Step draws
// next from `s` (its value and its timestamp's noise). Each draw is spread uniformly over
// w >= 1 outcomes at the value's resolution, so no outcome is likelier than 1/w and its
// entropy is at least log2(w). Keep in step with Step and the timestamp noise in RunLoadgen.
double StepFloorBits(const Series& s, double interval_s) {
  if (s.histogram) return 0;  // fixed increments, timestamps without noise
  double resolution = s.integral ? 1.0 : 0.01;
  double width = s.counter ? 0.4 * s.rate * interval_s : 0.02 * std::abs(s.value);
  return std::log2(std::max(1.0, width / resolution)) + std::log2(5.0);
}

// The information floor of the data `--series`, `--rounds` and `--interval` describe: the
// mean bits per sample no lossless encoding of it can go below.
int PrintInformationFloor(const LoadgenFlags& f, int64_t interval_ms) {
  if (f.rounds == 0) {
    std::cerr << "strata: --information-floor needs --rounds\n";
    return 2;
  }
  std::vector<Series> series = MakeSeries(f.series, f.seed, f.native_histograms);
  std::mt19937_64 rng(f.seed);
  const double interval_s = static_cast<double>(interval_ms) / 1000.0;
  double bits = 0;
  for (uint64_t round = 0; round < f.rounds; ++round) {
    for (Series& s : series) {
      bits += StepFloorBits(s, interval_s);
      Step(s, interval_s, rng);
    }
  }
  double per_sample = bits / static_cast<double>(f.rounds * f.series);
  std::cout << fmt::format(
      "loadgen: information floor {:.2f} bits = {:.3f} bytes per sample over {} samples\n",
      per_sample, per_sample / 8, f.rounds * f.series);
  return 0;
}

struct Totals {
  std::atomic<uint64_t> samples{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> retries{0};
  Mutex mu;
  std::map<std::string, uint64_t> outcomes;  // status code or error -> count
  std::vector<double> latencies_ms;
  std::string first_error;
};

int RunLoadgen(const LoadgenFlags& f) {
  auto url = http::ParseUrl(f.url);
  auto duration = ParseDurationMillis(f.duration);
  auto interval = ParseDurationMillis(f.interval);
  auto offset = ParseDurationMillis(f.start_offset);
  for (const auto* r : {&duration, &interval, &offset}) {
    if (!r->ok()) {
      std::cerr << "strata: " << r->status().message() << "\n";
      return 2;
    }
  }
  if (f.series == 0 || f.batch == 0 || f.concurrency <= 0 || *interval <= 0) {
    std::cerr << "strata: --series, --batch, --concurrency and --interval must be positive\n";
    return 2;
  }
  if (!url.ok()) {
    std::cerr << "strata: " << url.status().message() << "\n";
    return 2;
  }
  if (f.information_floor) return PrintInformationFloor(f, *interval);
  std::vector<Series> series = MakeSeries(f.series, f.seed, f.native_histograms);
  const int64_t start_ts = f.start_time != 0 ? f.start_time * 1000 : NowMillis() - *offset;
  auto begin = std::chrono::steady_clock::now();
  auto deadline = begin + std::chrono::milliseconds(*duration);
  Totals totals;
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(f.concurrency));
  // With --rounds, workers finish each round together: a receiver that only accepts recent
  // samples (Prometheus's head) never sees one worker's data hours ahead of another's.
  std::barrier round_done(f.concurrency);
  for (int w = 0; w < f.concurrency; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(f.seed * 1000 + static_cast<uint64_t>(w));
      http::Client client(url->host, url->port);
      std::vector<size_t> mine;
      for (size_t i = static_cast<size_t>(w); i < series.size();
           i += static_cast<size_t>(f.concurrency)) {
        mine.push_back(i);
      }
      std::string body;
      for (uint64_t round = 0; f.rounds == 0 || round < f.rounds; ++round) {
        int64_t base = start_ts + static_cast<int64_t>(round) * *interval;
        // Once caught up with real time, scrape at the real interval like a real sender.
        while (base > NowMillis() && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        for (size_t off = 0; off < mine.size(); off += f.batch) {
          if (f.rounds == 0 && std::chrono::steady_clock::now() >= deadline) return;
          body.clear();
          size_t end = std::min(mine.size(), off + f.batch);
          for (size_t k = off; k < end; ++k) {
            Series& s = series[mine[k]];
            // A histogram's buckets share their scrape's timestamp, as in Prometheus.
            int64_t noise = static_cast<int64_t>(rng() % 5);
            if (s.native) {
              GrowNative(*s.native, s.rate * static_cast<double>(*interval) / 1000.0);
              histogram::HistogramSample h{base + s.jitter_ms, s.native};
              proto::AppendTimeSeries(body, s.encoded_labels, {}, proto::EncodeHistograms({&h, 1}));
              continue;
            }
            Sample smp{base + s.jitter_ms + (s.histogram ? 0 : noise),
                       Step(s, static_cast<double>(*interval) / 1000.0, rng)};
            proto::AppendTimeSeries(body, s.encoded_labels, {&smp, 1});
          }
          std::string compressed = proto::SnappyCompress(body);
          for (int attempt = 0;; ++attempt) {
            http::Request req(bhttp::verb::post, url->target, 11);
            req.set(bhttp::field::content_type, "application/x-protobuf");
            req.set(bhttp::field::content_encoding, "snappy");
            req.set("X-Prometheus-Remote-Write-Version", "0.1.0");
            req.set(bhttp::field::user_agent, "strata-loadgen");
            if (!f.tenant.empty()) req.set("X-Scope-OrgID", f.tenant);
            req.body() = compressed;
            auto t0 = std::chrono::steady_clock::now();
            auto res = client.Do(std::move(req));
            double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            totals.requests++;
            std::string outcome = res.ok() ? std::to_string(res->result_int()) : "error";
            bool retry = !res.ok() || res->result_int() >= 500 || res->result_int() == 429;
            {
              MutexLock lk(totals.mu);
              totals.outcomes[outcome]++;
              totals.latencies_ms.push_back(ms);
              if (totals.first_error.empty() && (!res.ok() || res->result_int() >= 300)) {
                totals.first_error =
                    res.ok() ? outcome + ": " + res->body() : res.status().message();
              }
            }
            if (!retry) {
              if (res->result_int() < 300) totals.samples += end - off;
              break;
            }
            // Remote-write senders retry 5xx and 429 with backoff.
            totals.retries++;
            if (std::chrono::steady_clock::now() >= deadline && f.rounds == 0) return;
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 4))));
          }
        }
        if (f.rounds != 0) round_done.arrive_and_wait();
      }
    });
  }
  for (auto& t : workers) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::sort(totals.latencies_ms.begin(), totals.latencies_ms.end());
  auto pct = [&](double p) {
    if (totals.latencies_ms.empty()) return 0.0;
    return totals.latencies_ms[std::min(
        totals.latencies_ms.size() - 1,
        static_cast<size_t>(p * static_cast<double>(totals.latencies_ms.size())))];
  };
  std::string outcomes;
  for (const auto& [k, v] : totals.outcomes) outcomes += fmt::format(" {}={}", k, v);
  uint64_t errors = 0;
  for (const auto& [k, v] : totals.outcomes) {
    if (k == "error" || k[0] != '2') errors += v;
  }
  std::cout << fmt::format(
      "loadgen: series={} concurrency={} batch={} duration={:.1f}s\n"
      "loadgen: samples_acked={} samples_per_sec={:.0f} requests={} retries={} errors={}\n"
      "loadgen: responses:{}\n"
      "loadgen: latency_ms p50={:.2f} p90={:.2f} p99={:.2f}\n",
      f.series, f.concurrency, f.batch, secs, totals.samples.load(),
      static_cast<double>(totals.samples.load()) / secs, totals.requests.load(),
      totals.retries.load(), errors, outcomes, pct(0.5), pct(0.9), pct(0.99));
  if (!totals.first_error.empty())
    std::cout << "loadgen: first error: " << totals.first_error << "\n";
  return 0;
}

}  // namespace

void RegisterLoadgen(CLI::App& tool, int* exit_code) {
  auto f = std::make_shared<LoadgenFlags>();
  CLI::App* lg = tool.add_subcommand(
      "loadgen", "Send realistic remote-write load (node_exporter-like series) to a receiver.");
  lg->add_option("--url", f->url, "Remote-write endpoint")->capture_default_str();
  lg->add_option("--series", f->series, "Number of series")->capture_default_str();
  lg->add_option("--concurrency", f->concurrency, "Concurrent connections")->capture_default_str();
  lg->add_option("--duration", f->duration, "How long to run (ignored with --rounds)")
      ->capture_default_str();
  lg->add_option("--interval", f->interval, "Scrape interval between a series' samples")
      ->capture_default_str();
  lg->add_option("--start-time", f->start_time,
                 "Unix seconds of the first samples (reproducible data; overrides --start-offset)");
  lg->add_option("--start-offset", f->start_offset, "The first samples are this far in the past")
      ->capture_default_str();
  lg->add_option("--batch", f->batch, "Samples per request")->capture_default_str();
  lg->add_option("--rounds", f->rounds, "Send exactly this many samples per series, then stop");
  lg->add_option("--tenant", f->tenant, "X-Scope-OrgID to send");
  lg->add_option("--seed", f->seed, "Random seed")->capture_default_str();
  lg->add_flag("--native-histograms", f->native_histograms,
               "Send native histograms (request latencies, schema 3, 12 buckets) instead of "
               "node_exporter-like floats");
  lg->add_flag("--information-floor", f->information_floor,
               "Print the bits per sample no lossless store can go below for this data "
               "(needs --rounds), and send nothing");
  lg->callback([f, exit_code] { *exit_code = RunLoadgen(*f); });
}

}  // namespace strata::cmd
