#include "agent/export/exporter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <future>

#include "base/mutex.h"
#include "base/version.h"
#include "proto/remote_write.h"
#include "proto/wire.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {

// Longest part of a rejecting backend's answer that goes into the log.
constexpr size_t kMaxLoggedBody = 512;
// A queued body was validated when received; this only bounds a damaged one.
constexpr size_t kMaxDecompressedRecord = 256u << 20;

int64_t RetryAfterMs(const http::Response& res) {
  auto it = res.find(bhttp::field::retry_after);
  if (it == res.end()) return 0;
  std::string_view v(it->value().data(), it->value().size());
  int64_t seconds = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || p != v.data() + v.size() || seconds < 0) return 0;  // HTTP-date
  return std::min<int64_t>(seconds, 3600) * 1000;
}

// The rejected count of an OTLP Export*ServiceResponse's partial_success (field 1, whose field 1
// is the count for every signal); 0 when absent or unreadable.
uint64_t OtlpRejected(std::string_view body) {
  proto::WireReader r(body);
  while (r.NextField()) {
    std::string_view partial;
    if (r.field() != 1 || r.wire_type() != 2 || !r.ReadBytes(&partial)) {
      if (!r.Skip()) return 0;
      continue;
    }
    proto::WireReader p(partial);
    while (p.NextField()) {
      uint64_t n;
      if (p.field() == 1 && p.wire_type() == 0 && p.ReadVarint(&n)) return n;
      if (!p.Skip()) return 0;
    }
  }
  return 0;
}

}  // namespace

Exporter::Exporter(ExporterConfig config, std::unique_ptr<DurableQueue> queue)
    : config_(std::move(config)), queue_(std::move(queue)), lanes_(config_.concurrency) {
  for (auto& lane : lanes_) lane.rng.seed(std::random_device{}());
  for (const auto& b : config_.backends) {
    auto backend = std::make_unique<Backend>(b, *http::ParseUrl(b.url), config_.health);
    for (size_t lane = 0; lane < config_.concurrency; ++lane) {
      backend->senders.push_back(
          std::make_unique<http::Client>(backend->url.host, backend->url.port, config_.timeout_ms));
    }
    backends_.push_back(std::move(backend));
  }
}

Exporter::~Exporter() { Stop(); }

void Exporter::Start() {
  reader_ = std::thread([this] { ReadLoop(); });
  sender_ = std::thread([this] { SendLoop(); });
  prober_ = std::thread([this] { ProbeLoop(); });
}

void Exporter::Stop() {
  {
    MutexLock lk(mu_);
    if (stop_) return;
    stop_ = true;
    cv_.notify_all();
    ready_cv_.notify_all();
  }
  (void)queue_->Close();  // wakes a waiting Read
  if (reader_.joinable()) reader_.join();
  if (sender_.joinable()) sender_.join();
  if (prober_.joinable()) prober_.join();
  if (Status st = queue_->SaveAck(); !st.ok()) {
    spdlog::error(
        "msg=\"cannot save agent queue position; unsaved deliveries will be resent\" "
        "exporter={} err=\"{}\"",
        config_.name, st.message());
  }
}

bool Exporter::Accepts(ItemKind kind) const {
  switch (config_.type) {
    case ExporterType::kRemoteWrite:
      return kind == ItemKind::kRemoteWrite;
    case ExporterType::kOtlpHttp:
      return (kind == ItemKind::kOtlpMetrics && config_.signals.metrics) ||
             (kind == ItemKind::kOtlpLogs && config_.signals.logs) ||
             (kind == ItemKind::kOtlpTraces && config_.signals.traces);
    case ExporterType::kLoki:
      return kind == ItemKind::kLokiPush;
  }
  return false;
}

bool Exporter::SleepFor(int64_t ms) {
  UniqueLock lk(mu_);
  lk.WaitFor(cv_, std::chrono::milliseconds(ms), [&]() REQUIRES(mu_) { return stop_; });
  return !stop_;
}

int64_t Exporter::NextBackoff(std::mt19937_64& rng, int64_t& backoff_ms) {
  // Full jitter: spreads the retries of many agents after a shared outage.
  std::uniform_int_distribution<int64_t> dist(config_.min_backoff_ms, backoff_ms);
  int64_t wait = dist(rng);
  backoff_ms = std::min(backoff_ms * 2, config_.max_backoff_ms);
  return wait;
}

int Exporter::PickBackend() const {
  for (size_t i = 0; i < backends_.size(); ++i) {
    if (backends_[i]->health.up()) return static_cast<int>(i);
  }
  for (size_t i = 0; i < backends_.size(); ++i) {
    if (backends_[i]->config.probe_url == "none") return static_cast<int>(i);
  }
  return -1;
}

void Exporter::ReadLoop() {
  while (true) {
    {
      MutexLock lk(mu_);
      if (stop_) return;
    }
    auto batch = queue_->Read(config_.max_batch_bytes, 1000);
    if (!batch.ok()) {
      spdlog::error("msg=\"agent queue read failed\" exporter={} err=\"{}\"", config_.name,
                    batch.status().message());
      if (!SleepFor(1000)) return;
      continue;
    }
    auto& records = *batch;
    if (config_.batch_wait_ms > 0 && !records.empty()) {
      // Small: give later records a moment to join this request.
      uint64_t items = 0, bytes = 0;
      for (const auto& r : records) items += r.record.items, bytes += r.record.body.size();
      if (items < config_.max_batch_items && bytes < config_.max_batch_bytes) {
        if (!SleepFor(config_.batch_wait_ms)) return;
        auto more = queue_->Read(config_.max_batch_bytes - bytes, 0);
        if (more.ok()) {
          records.insert(records.end(), std::make_move_iterator(more->begin()),
                         std::make_move_iterator(more->end()));
        }
      }
    }
    size_t i = 0;
    while (i < records.size()) {
      const QueueRecord& first = records[i].record;
      size_t j = i + 1;
      uint64_t items = first.items;
      while (j < records.size() && records[j].record.kind == first.kind &&
             records[j].record.tenant == first.tenant &&
             items + records[j].record.items <= config_.max_batch_items) {
        items += records[j].record.items;
        ++j;
      }
      Prepared p = Prepare({std::make_move_iterator(records.begin() + static_cast<ptrdiff_t>(i)),
                            std::make_move_iterator(records.begin() + static_cast<ptrdiff_t>(j))});
      {
        // One request waits while another is in flight: enough to keep the backend busy.
        UniqueLock lk(mu_);
        lk.Wait(ready_cv_, [&]() REQUIRES(mu_) { return stop_ || ready_.empty(); });
        if (stop_) return;  // unacknowledged records are read after restart
        ready_.push_back(std::move(p));
      }
      ready_cv_.notify_all();
      i = j;
    }
  }
}

void Exporter::SendLoop() {
  while (true) {
    Prepared p;
    {
      UniqueLock lk(mu_);
      lk.Wait(ready_cv_, [&]() REQUIRES(mu_) { return stop_ || !ready_.empty(); });
      if (stop_) return;
      p = std::move(ready_.front());
      ready_.pop_front();
    }
    ready_cv_.notify_all();
    if (Transmit(p) == Outcome::kStopped) return;
    if (Status st = queue_->Ack(p.records.back().end); !st.ok()) {
      // Not fatal: the records were delivered; a restart before the next Ack resends them.
      spdlog::error("msg=\"cannot save agent queue position\" exporter={} err=\"{}\"", config_.name,
                    st.message());
    }
  }
}

Exporter::Prepared Exporter::Prepare(std::vector<QueuedRecord> records) {
  Prepared p;
  p.records = std::move(records);
  for (const auto& r : p.records) p.items += r.record.items;
  if (config_.type == ExporterType::kRemoteWrite && config_.concurrency > 1) {
    SplitLanes(p);
    return p;
  }
  // Queued bodies are snappy-compressed; remote write and Loki send them so, OTLP/HTTP as plain
  // protobuf. Concatenated protobuf messages of one type are one message with all their
  // entries, which is how records merge.
  const bool snappy = config_.type != ExporterType::kOtlpHttp;
  if (p.records.size() == 1 && snappy) {
    p.body = std::move(p.records.front().record.body);
    return p;
  }
  for (const auto& r : p.records) {
    p.damaged = proto::SnappyDecompress(r.record.body, kMaxDecompressedRecord, p.body);
    if (!p.damaged.ok()) return p;
  }
  if (snappy) p.body = proto::SnappyCompress(p.body);
  return p;
}

std::string Exporter::TargetFor(const Backend& b, ItemKind kind) const {
  if (config_.type != ExporterType::kOtlpHttp) return b.url.target;
  // OTLP/HTTP: the URL is the base endpoint; each signal has its path below it.
  std::string base = b.url.target;
  while (!base.empty() && base.back() == '/') base.pop_back();
  switch (kind) {
    case ItemKind::kOtlpLogs:
      return base + "/v1/logs";
    case ItemKind::kOtlpTraces:
      return base + "/v1/traces";
    default:
      return base + "/v1/metrics";
  }
}

Exporter::Outcome Exporter::Transmit(const Prepared& p) {
  const QueueRecord& first = p.records.front().record;
  const std::string& tenant = config_.tenant.empty() ? first.tenant : config_.tenant;
  if (!p.damaged.ok()) {
    spdlog::error("msg=\"queued request is damaged; dropping it\" exporter={} items={} err=\"{}\"",
                  config_.name, p.items, p.damaged.message());
    rejected_items_ += p.items;
    return Outcome::kRejected;
  }
  if (!p.lanes.empty()) return TransmitLanes(p, tenant);
  Outcome out = Send(0, p.body, p.items, tenant, first.kind);
  if (out != Outcome::kTooLarge) return out;
  if (p.records.size() > 1) {
    // The merged request is too large for the backend: send the records one by one.
    for (const auto& r : p.records) {
      if (Transmit(Prepare({r})) == Outcome::kStopped) return Outcome::kStopped;
    }
    return Outcome::kDelivered;
  }
  return RejectTooLarge(p.items, tenant);
}

Exporter::Outcome Exporter::RejectTooLarge(uint64_t items, const std::string& tenant) {
  rejected_items_ += items;
  spdlog::error(
      "msg=\"backend refuses a single queued request as too large (413); not retrying\" "
      "exporter={} items={} tenant=\"{}\"",
      config_.name, items, tenant);
  return Outcome::kRejected;
}

void Exporter::SplitLanes(Prepared& p) {
  // The WriteRequests of the records, decompressed back to back, are one WriteRequest; each
  // series goes to the lane of its labels' hash, so every lane carries whole series and
  // sends them in queue order, while the lanes run in parallel.
  std::string& merged = p.body;
  for (const auto& r : p.records) {
    Status st = proto::SnappyDecompress(r.record.body, kMaxDecompressedRecord, merged);
    if (!st.ok()) {
      spdlog::error(
          "msg=\"queued request is damaged; dropping it\" exporter={} items={} "
          "err=\"{}\"",
          config_.name, r.record.items, st.message());
      rejected_items_ += r.record.items;
    }
  }
  const size_t lanes = config_.concurrency;
  p.lanes.resize(lanes);
  proto::WireReader r(merged);
  while (r.NextField()) {
    const size_t begin = r.field_begin();
    std::string_view value;
    if (r.wire_type() != 2 || !r.ReadBytes(&value)) {
      if (!r.Skip()) break;
      continue;
    }
    // The whole field, key and length included, so lanes copy it as it is.
    const SeriesRange field{
        begin, static_cast<size_t>(value.data() + value.size() - merged.data()) - begin, 0};
    if (r.field() != 1) {  // metadata and anything else: with lane 0
      p.lanes[0].push_back(field);
      continue;
    }
    // TimeSeries: labels = 1, samples = 2, histograms = 4.
    uint64_t hash = 0, samples = 0;
    proto::WireReader ts(value);
    while (ts.NextField()) {
      std::string_view sub;
      if (ts.wire_type() != 2 || !ts.ReadBytes(&sub)) {
        if (!ts.Skip()) break;
        continue;
      }
      if (ts.field() == 1) hash = XXH3_64bits_withSeed(sub.data(), sub.size(), hash);
      if (ts.field() == 2 || ts.field() == 4) ++samples;
    }
    p.lanes[hash % lanes].push_back({field.offset, field.size, samples});
  }
  if (r.error()) {
    p.damaged = Status::InvalidArgument("the merged remote write request is malformed");
  }
}

Exporter::Outcome Exporter::TransmitLanes(const Prepared& p, const std::string& tenant) {
  std::vector<std::future<Outcome>> running;
  for (size_t lane = 1; lane < p.lanes.size(); ++lane) {
    if (p.lanes[lane].empty()) continue;
    running.push_back(std::async(std::launch::async, [this, lane, &p, &tenant] {
      return SendSeries(lane, p.body, p.lanes[lane], tenant);
    }));
  }
  Outcome out =
      p.lanes[0].empty() ? Outcome::kDelivered : SendSeries(0, p.body, p.lanes[0], tenant);
  for (auto& f : running) {
    if (f.get() == Outcome::kStopped) out = Outcome::kStopped;
  }
  return out == Outcome::kStopped ? out : Outcome::kDelivered;
}

Exporter::Outcome Exporter::SendSeries(size_t lane, std::string_view merged,
                                       std::span<const SeriesRange> series,
                                       const std::string& tenant) {
  std::string body;
  uint64_t items = 0;
  for (const auto& s : series) {
    body.append(merged.substr(s.offset, s.size));
    items += s.samples;
  }
  Outcome out = Send(lane, proto::SnappyCompress(body), items, tenant, ItemKind::kRemoteWrite);
  if (out != Outcome::kTooLarge) return out;
  if (series.size() == 1) return RejectTooLarge(items, tenant);
  // Too large for the backend: halves, in order.
  size_t half = series.size() / 2;
  if (SendSeries(lane, merged, series.first(half), tenant) == Outcome::kStopped) {
    return Outcome::kStopped;
  }
  return SendSeries(lane, merged, series.subspan(half), tenant);
}

Exporter::Outcome Exporter::Send(size_t lane, const std::string& body, uint64_t items,
                                 const std::string& tenant, ItemKind kind) {
  int64_t backoff_ms = config_.min_backoff_ms;
  while (true) {
    if (config_.max_send_rate > 0) {
      int64_t wait_s = send_rate_.Take(static_cast<double>(items), config_.max_send_rate,
                                       std::max(config_.max_send_rate, static_cast<double>(items)));
      if (wait_s > 0 && !SleepFor(std::min<int64_t>(wait_s * 1000, 1000))) return Outcome::kStopped;
      if (wait_s > 0) continue;
    }
    int idx = PickBackend();
    if (idx < 0) {
      // Everything is down: the data waits on disk until a probe sees a backend recover.
      if (!SleepFor(std::min(config_.health.probe_interval_ms, 1000L))) return Outcome::kStopped;
      continue;
    }
    Backend& b = *backends_[idx];
    http::Request req{bhttp::verb::post, TargetFor(b, kind), 11};
    req.set(bhttp::field::content_type, "application/x-protobuf");
    if (config_.type == ExporterType::kRemoteWrite) {
      req.set(bhttp::field::content_encoding, "snappy");
      req.set("X-Prometheus-Remote-Write-Version", "0.1.0");
    }
    req.set(bhttp::field::user_agent, std::string("strata-agent/") + kVersion);
    if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
    for (const auto& [k, v] : b.config.headers) req.set(k, v);
    req.body() = body;
    auto res = b.senders[lane]->Do(std::move(req));
    unsigned code = res.ok() ? res->result_int() : 0;
    if (code >= 200 && code < 300) {
      b.health.Report(true);
      uint64_t delivered = items;
      if (config_.type == ExporterType::kOtlpHttp) {
        if (uint64_t refused = OtlpRejected(res->body()); refused > 0) {
          // Accepted, but the backend says it dropped part of it: counted, not retried.
          rejected_items_ += refused;
          spdlog::error(
              "msg=\"backend accepted a request but rejected part of it\" exporter={} "
              "backend={} rejected_items={}",
              config_.name, b.config.url, refused);
          delivered -= std::min(delivered, refused);
        }
      }
      b.sent_items += delivered;
      ++b.sent_requests;
      return Outcome::kDelivered;
    }
    if (code == 413) {
      b.health.Report(true);
      return Outcome::kTooLarge;
    }
    if (code >= 400 && code < 500 && code != 429) {
      b.health.Report(true);  // it answered; the data is what it refuses
      rejected_items_ += items;
      std::string why = res->body().substr(0, kMaxLoggedBody);
      while (!why.empty() && std::isspace(static_cast<unsigned char>(why.back()))) why.pop_back();
      spdlog::error(
          "msg=\"backend rejected a request; not retrying\" exporter={} backend={} "
          "code={} items={} tenant=\"{}\" response=\"{}\"",
          config_.name, b.config.url, code, items, tenant, why);
      return Outcome::kRejected;
    }
    ++b.retries;
    int64_t wait = NextBackoff(lanes_[lane].rng, backoff_ms);
    if (code == 429) {
      wait = std::max(wait, RetryAfterMs(*res));
    } else if (b.health.Report(false)) {
      spdlog::warn("msg=\"backend marked down\" exporter={} backend={} err=\"{}\"", config_.name,
                   b.config.url, res.ok() ? fmt::format("HTTP {}", code) : res.status().message());
    }
    spdlog::debug("msg=\"send failed; retrying\" exporter={} backend={} code={} wait_ms={}",
                  config_.name, b.config.url, code, wait);
    if (!SleepFor(wait)) return Outcome::kStopped;
  }
}

void Exporter::ProbeLoop() {
  std::vector<std::unique_ptr<http::Client>> clients(backends_.size());
  while (SleepFor(config_.health.probe_interval_ms)) {
    for (size_t i = 0; i < backends_.size(); ++i) {
      Backend& b = *backends_[i];
      if (b.config.probe_url == "none") continue;
      auto url = http::ParseUrl(b.config.probe_url);  // validated with the config
      if (!clients[i]) {
        clients[i] =
            std::make_unique<http::Client>(url->host, url->port, config_.health.probe_timeout_ms);
      }
      http::Request req{bhttp::verb::get, url->target, 11};
      req.set(bhttp::field::user_agent, std::string("strata-agent/") + kVersion);
      auto res = clients[i]->Do(std::move(req));
      // Any answer below 500 means the backend is serving (a receiver without the probe
      // path answers 404); only 5xx and transport errors count against it.
      bool ok = res.ok() && res->result_int() < 500;
      if (b.health.Report(ok)) {
        spdlog::info("msg=\"backend health changed\" exporter={} backend={} up={} probe={}",
                     config_.name, b.config.url, b.health.up(),
                     res.ok() ? fmt::format("HTTP {}", res->result_int()) : res.status().message());
      }
    }
  }
}

ExporterStats Exporter::Stats() const {
  ExporterStats s;
  for (const auto& b : backends_) {
    s.backends.push_back({b->config.url, b->health.up(), b->sent_items.load(),
                          b->sent_requests.load(), b->retries.load(), b->health.transitions()});
  }
  s.rejected_items = rejected_items_.load();
  return s;
}

}  // namespace strata::agent
