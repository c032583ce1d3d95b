#include "agent/sample/sampler.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/coding.h"
#include "base/units.h"
#include "proto/otlp_traces.h"
#include "proto/remote_write.h"
#include "proto/wire.h"
#include "traceql/trace.h"

namespace strata::agent {

namespace {

// Bounds a damaged record's decompression (records were validated when received).
constexpr size_t kMaxSpanRecord = 256u << 20;
// Kept spans are queued for the exporters in records of about this many bytes (uncompressed).
constexpr size_t kKeptRecordBytes = 4u << 20;
// Points per owner on the consistent-hash ring: enough that shares differ by a few percent.
constexpr int kRingPoints = 128;
// A batch the exporters' queues refused (full, failing disk) is offered again after this long.
constexpr int64_t kRetryMs = 1'000;
// The loop wakes at least this often (decision deadlines, completions).
constexpr int64_t kTickMs = 100;
// How much the loop reads from its queue at a time, away from its memory bounds (this many
// traces below num_traces, kReadBytes below max_buffered_bytes).
constexpr size_t kReadBytes = 4u << 20;
constexpr size_t kNearBound = 64;

// Traces decided into one batch at most (its decisions record stays small).
constexpr size_t kMaxBatchTraces = 10'000;
// How long Stop waits for batches on their way to disk.
constexpr int64_t kStopWaitMs = 5'000;

// A decisions record (docs/format/agent-queue.md): the spans-queue position its batch settles
// up to (segment <u32 LE> | offset <u64 LE>), then per trace: trace ID (16) | sampled <u8> |
// tenant <uvarint length + bytes>.
void EncodeDecision(std::string& out, std::string_view trace_id, std::string_view tenant,
                    bool sampled) {
  out.append(trace_id);
  out.push_back(sampled ? 1 : 0);
  PutLengthPrefixed(out, tenant);
}

// Delivery errors no retry can fix: no exporter takes traces (any more), a record too large
// for a queue, a tenant that cannot be queued.
bool Final(const Status& st) {
  return st.code() == Status::Code::kNotFound || st.code() == Status::Code::kTooLarge ||
         st.code() == Status::Code::kInvalidArgument;
}

std::string Key(std::string_view trace_id, std::string_view tenant) {
  std::string key(trace_id);
  key.append(tenant);
  return key;
}

std::string PeerDirName(const std::string& url) {
  std::string name;
  for (char c : url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3)) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '_');
  }
  return name;
}

}  // namespace

// A trace waiting for its decision.
struct TailSampler::Buffered {
  std::string trace_id, tenant;
  std::vector<std::string> fragments;  // serialized ResourceSpans (proto::SplitByTrace)
  std::vector<uint64_t> records;       // the records holding its spans, each once, ascending
  int64_t deadline_ms = 0;
  uint64_t bytes = 0;
  uint64_t spans = 0;
};

// A record read from the spans queue: acknowledged once nothing in it is pending.
struct TailSampler::Record {
  QueuePosition end;
  uint64_t pending = 0;  // traces with spans in it that are not settled
};

// Decisions and kept spans on their way to disk, and the records they settle. The decisions
// go first (a late batch restates them): spans are only delivered under a decision a restart
// will follow, never one a crash could have a replay make differently.
struct TailSampler::Batch {
  std::string decisions;          // the decisions record's entries
  std::vector<QueueRecord> kept;  // for the exporters
  std::vector<uint64_t> records;  // settled once both are durable (a record once per trace)
  uint64_t bytes = 0;             // of `kept`, held until settled (the memory bound)
  uint64_t spans = 0;             // in `kept`
  bool recorded = false;          // the decisions are durable
  bool counted = false;           // in in_flight_ and in_flight_bytes_
};

TailSampler::TailSampler(TailSamplingConfig config, std::unique_ptr<DurableQueue> spans,
                         std::unique_ptr<DurableQueue> decisions, Deliver deliver,
                         prometheus::Registry& registry)
    : config_(std::move(config)),
      spans_(std::move(spans)),
      decisions_(std::move(decisions)),
      deliver_(std::move(deliver)),
      policy_decisions_(prometheus::BuildCounter()
                            .Name("strata_agent_tail_sampling_policy_decisions_total")
                            .Help("Traces each tail-sampling policy evaluated, by policy and "
                                  "its decision (sampled, not_sampled, inverted_sampled, "
                                  "inverted_not_sampled, dropped).")
                            .Register(registry)),
      traces_(prometheus::BuildCounter()
                  .Name("strata_agent_tail_sampling_traces_total")
                  .Help("Traces decided, by final decision (sampled, not_sampled).")
                  .Register(registry)),
      late_(prometheus::BuildCounter()
                .Name("strata_agent_tail_sampling_late_spans_total")
                .Help("Spans that arrived after their trace's decision and followed it.")
                .Register(registry)),
      late_sampled_(late_.Add({{"decision", "sampled"}})),
      late_dropped_(late_.Add({{"decision", "not_sampled"}})),
      dropped_(prometheus::BuildCounter()
                   .Name("strata_agent_tail_sampling_dropped_spans_total")
                   .Help("Spans not sent on, by reason: not_sampled (a policy decision, late "
                         "spans included), undeliverable (no exporter takes them), damaged (a "
                         "queued record that cannot be read).")
                   .Register(registry)),
      forwarded_(prometheus::BuildCounter()
                     .Name("strata_agent_tail_sampling_forwarded_spans_total")
                     .Help("Spans queued for the peer that owns their trace ID.")
                     .Register(registry)),
      traces_buffered_(prometheus::BuildGauge()
                           .Name("strata_agent_tail_sampling_traces_buffered")
                           .Help("Traces waiting for their decision.")
                           .Register(registry)
                           .Add({})),
      spans_buffered_(prometheus::BuildGauge()
                          .Name("strata_agent_tail_sampling_spans_buffered")
                          .Help("Spans waiting for their trace's decision.")
                          .Register(registry)
                          .Add({})),
      bytes_buffered_(prometheus::BuildGauge()
                          .Name("strata_agent_tail_sampling_buffered_bytes")
                          .Help("Memory held by spans waiting for their trace's decision, or kept "
                                "and waiting for the exporters' queues.")
                          .Register(registry)
                          .Add({})),
      capacity_waits_(prometheus::BuildCounter()
                          .Name("strata_agent_tail_sampling_capacity_waits_total")
                          .Help("Times the sampler stopped reading its queue because num_traces "
                                "or max_buffered_bytes was reached (spans wait on disk).")
                          .Register(registry)
                          .Add({})) {}

Result<std::unique_ptr<TailSampler>> TailSampler::Open(const std::string& data_dir,
                                                       TailSamplingConfig config, Deliver deliver,
                                                       prometheus::Registry& registry) {
  const std::string dir = data_dir + "/tail_sampling";
  ASSIGN_OR_RETURN(PolicySet policies,
                   PolicySet::Build(config.policies, config.sample_on_first_match));
  QueueOptions qopts = config.queue;
  qopts.name = "tail_sampling";
  auto spans = DurableQueue::Open(dir + "/spans", qopts);
  if (!spans.ok()) return spans.status().Annotate("tail_sampling");
  QueueOptions dopts;
  dopts.name = "tail_sampling_decisions";
  // Decisions stay while the spans they settle are unacknowledged (and while the caches hold
  // them): some 30 bytes each.
  dopts.max_disk_bytes = 1u << 30;
  auto decisions = DurableQueue::Open(dir + "/decisions", dopts);
  if (!decisions.ok()) return decisions.status().Annotate("tail_sampling");
  std::unique_ptr<TailSampler> s(new TailSampler(
      std::move(config), std::move(*spans), std::move(*decisions), std::move(deliver), registry));
  s->policies_ = std::move(policies);
  // The ring: every agent lists the same peers, so every agent computes the same owners.
  for (size_t i = 0; i < s->config_.peers.size(); ++i) {
    const std::string& url = s->config_.peers[i];
    const int owner = url == s->config_.self ? -1 : static_cast<int>(s->peers_.size());
    for (int p = 0; p < kRingPoints; ++p) {
      std::string point = fmt::format("{}#{}", url, p);
      s->ring_.emplace_back(XXH3_64bits(point.data(), point.size()), owner);
    }
    if (owner == -1) continue;
    ExporterConfig e;
    e.name = "tail_sampling_peer_" + PeerDirName(url);
    e.type = ExporterType::kOtlpHttp;
    e.signals = {false, false, true};
    BackendConfig b;
    b.url = url + kPeerRoute;
    auto parsed = http::ParseUrl(url);
    if (!parsed.ok()) return parsed.status().Annotate("tail_sampling.peers");
    b.probe_url = fmt::format("http://{}:{}/-/ready", parsed->host, parsed->port);
    e.backends = {b};
    // A peer is a neighbour on the network: retried soon after it comes back, well within a
    // decision_wait, so the spans it owns meet before their trace is decided.
    e.min_backoff_ms = 50;
    e.max_backoff_ms = 1'000;
    e.health.probe_interval_ms = 1'000;
    e.queue = s->config_.queue;
    e.queue.name = e.name;
    auto q = DurableQueue::Open(dir + "/peers/" + PeerDirName(url), e.queue);
    if (!q.ok()) return q.status().Annotate("tail_sampling peer " + url);
    s->peers_.push_back(std::make_shared<Exporter>(std::move(e), std::move(*q)));
    s->peer_urls_.push_back(url);
  }
  std::sort(s->ring_.begin(), s->ring_.end());
  return s;
}

TailSampler::~TailSampler() { Stop(); }

Status TailSampler::Start() {
  if (started_) return Status::InvalidArgument("tail sampling: started twice");
  started_ = true;
  // Every decision on disk, before any span is read: replayed spans and late spans follow
  // their trace's decision instead of being decided again.
  RETURN_IF_ERROR(ReadDecisions(true));
  spdlog::info("msg=\"tail sampling started\" decisions_read={} policies={} peers={}",
               cache_.size(), config_.policies.size(), peers_.size());
  for (auto& p : peers_) p->Start();
  {
    MutexLock lk(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void TailSampler::Stop() {
  if (closed_) return;
  closed_ = true;
  {
    MutexLock lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Batches on their way to disk settle (or fail) before the queues close.
  std::vector<Settled> settled;
  {
    UniqueLock lk(mu_);
    // Every batch not settled is refused (and waits for a retry that will not come) or on
    // its way.
    lk.WaitFor(cv_, std::chrono::milliseconds(kStopWaitMs),
               [&]() REQUIRES(mu_) { return in_flight_ == refused_.size() + retry_.size(); });
    settled.swap(settled_);
  }
  for (const auto& s : settled) Settle(s);
  AckSettled();
  for (auto& p : peers_) p->Stop();
  (void)spans_->SaveAck();
  (void)decisions_->SaveAck();
  (void)spans_->Close();
  (void)decisions_->Close();
}

int TailSampler::Owner(std::string_view trace_id) const {
  if (ring_.empty()) return -1;
  const uint64_t h = XXH3_64bits(trace_id.data(), trace_id.size());
  auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, -2));
  if (it == ring_.end()) it = ring_.begin();
  return it->second;
}

bool TailSampler::HasRoom(uint64_t bytes) const { return spans_->HasRoom(bytes); }

void TailSampler::Route(const QueueRecord& rec, bool from_peer,
                        std::function<void(const Status&)> done) {
  auto append = [](DurableQueue& q, const QueueRecord& r,
                   const std::function<void(const Status&)>& cb) {
    if (Status st = q.Append(r, cb); !st.ok()) cb(st);
  };
  if (peers_.empty() || from_peer) return append(*spans_, rec, done);
  std::string raw;
  if (Status st = proto::SnappyDecompress(rec.body, kMaxSpanRecord, raw); !st.ok()) {
    return done(st);
  }
  auto split = proto::SplitByTrace(raw);
  if (!split.ok()) return done(split.status());
  // Spans by owner (-1: here), in the order the request had them.
  std::map<int, std::pair<std::string, uint32_t>> parts;
  for (const auto& f : split->fragments) {
    auto& [body, spans] = parts[Owner(f.trace_id)];
    proto::PutBytesField(body, 1, f.resource_spans);
    spans += f.spans;
  }
  if (parts.size() == 1 && parts.begin()->first == -1) {
    return append(*spans_, rec, done);
  }
  auto finish = AllDone(parts.size(), std::move(done));
  for (auto& [owner, part] : parts) {
    QueueRecord r;
    r.kind = ItemKind::kOtlpTraces;
    r.tenant = rec.tenant;
    r.items = part.second;
    r.received_ms = rec.received_ms;
    r.body = proto::SnappyCompress(part.first);
    if (owner == -1) {
      append(*spans_, r, finish);
      continue;
    }
    forwarded_.Add({{"peer", peer_urls_[static_cast<size_t>(owner)]}}).Increment(part.second);
    append(peers_[static_cast<size_t>(owner)]->queue(), r, finish);
  }
}

Status TailSampler::ReadDecisions(bool load) {
  for (;;) {
    auto read = decisions_->Read(kReadBytes, 0);
    if (!read.ok()) return read.status().Annotate("tail sampling: reading its decisions");
    if (read->empty()) return Status::Ok();
    for (const auto& q : *read) {
      ByteReader r(q.record.body);
      DecisionRecord rec{q.end, {}, 0};
      if (!r.ReadFixed32(&rec.settles.segment) || !r.ReadFixed64(&rec.settles.offset)) {
        spdlog::error("msg=\"tail sampling: a decisions record is damaged; skipped\"");
        continue;
      }
      while (!r.empty() && !r.error()) {
        std::string_view trace_id, tenant;
        uint8_t sampled = 0;
        if (!r.ReadBytes(proto::kTraceIdSize, &trace_id) || !r.ReadByte(&sampled) ||
            !r.ReadLengthPrefixed(&tenant)) {
          break;
        }
        // At start every decision on disk is held, whatever the caches' sizes: the spans it
        // settles may be waiting in the queue.
        if (load) Remember(Key(trace_id, tenant), sampled != 0, /*evict=*/false);
        ++rec.count;
      }
      if (r.error()) {
        spdlog::error("msg=\"tail sampling: a decisions record is damaged; its rest is skipped\"");
      }
      decisions_on_disk_ += rec.count;
      decision_records_.push_back(rec);
    }
  }
}

void TailSampler::Remember(const std::string& key, bool sampled, bool evict) {
  const uint64_t generation = ++generation_;
  cache_.insert_or_assign(key, CachedDecision{sampled, generation});
  auto& order = cached_order_[sampled ? 1 : 0];
  order.emplace_back(key, generation);
  const uint64_t cap = sampled ? config_.sampled_cache_size : config_.non_sampled_cache_size;
  while (evict && order.size() > cap) {
    // An entry remembered again since is evicted by its later place in the order.
    auto old = cache_.find(order.front().first);
    if (old != cache_.end() && old->second.generation == order.front().second) cache_.erase(old);
    order.pop_front();
  }
}

bool TailSampler::AtCapacity() const {
  return buffered_.size() >= config_.num_traces ||
         buffered_bytes_ + in_flight_bytes_ >= config_.max_buffered_bytes;
}

void TailSampler::Loop() {
  bool waiting = false;  // at capacity since the last read
  for (;;) {
    std::vector<Settled> settled;
    std::vector<std::shared_ptr<Batch>> refused;
    {
      MutexLock lk(mu_);
      if (stop_) break;
      settled.swap(settled_);
      refused.swap(refused_);
    }
    const int64_t now = NowMillis();
    for (const auto& s : settled) Settle(s);
    AckSettled();
    if (!refused.empty()) {
      if (retry_.empty()) retry_at_ms_ = now + kRetryMs;
      retry_.insert(retry_.end(), refused.begin(), refused.end());
    }
    if (!retry_.empty() && now >= retry_at_ms_) {
      auto again = std::move(retry_);
      retry_.clear();
      for (auto& b : again) Submit(b);
    }
    // Due traces are decided once the queue was read past their deadline (after a restart
    // the backlog may still hold their later spans), or at the memory bound, which stops
    // reading. Policies see the clock.
    DecideDue(AtCapacity() ? now : std::min(now, read_horizon_ms_), now);
    if (Status st = ReadDecisions(false); !st.ok()) {
      spdlog::error("msg=\"tail sampling: reading back its decisions failed\" err=\"{}\"",
                    st.message());
    }
    // Decisions whose spans are all acknowledged, beyond what the caches hold, leave the disk.
    const uint64_t keep = config_.sampled_cache_size + config_.non_sampled_cache_size;
    std::optional<QueuePosition> forget;
    while (!decision_records_.empty() && decisions_on_disk_ > keep &&
           decision_records_.front().settles <= spans_acked_) {
      decisions_on_disk_ -= decision_records_.front().count;
      forget = decision_records_.front().end;
      decision_records_.pop_front();
    }
    if (forget) (void)decisions_->Ack(*forget);

    if (AtCapacity()) {
      if (!waiting) capacity_waits_.Increment();
      waiting = true;
      UniqueLock lk(mu_);
      lk.WaitFor(cv_, std::chrono::milliseconds(kTickMs),
                 [&]() REQUIRES(mu_) { return stop_ || !settled_.empty() || !refused_.empty(); });
      continue;
    }
    waiting = false;
    int64_t wait = kTickMs;
    if (!arrival_.empty()) {
      wait = std::clamp<int64_t>(buffered_.at(arrival_.front())->deadline_ms - now, 0, kTickMs);
    }
    // Near the bounds one record at a time, so they are passed by one record at most.
    const bool near = buffered_.size() + kNearBound >= config_.num_traces ||
                      buffered_bytes_ + in_flight_bytes_ + kReadBytes >= config_.max_buffered_bytes;
    auto read = spans_->Read(near ? 1 : kReadBytes, wait);
    if (read.ok() && !read->empty()) {
      Ingest(std::move(*read));
    } else if (read.ok()) {
      read_horizon_ms_ = NowMillis();  // caught up: nothing older is left to read
    } else {
      spdlog::error("msg=\"tail sampling: reading the spans queue failed; retrying\" err=\"{}\"",
                    read.status().message());
      UniqueLock lk(mu_);
      lk.WaitFor(cv_, std::chrono::milliseconds(kRetryMs), [&]() REQUIRES(mu_) { return stop_; });
    }
  }
}

void TailSampler::Ingest(std::vector<QueuedRecord> records) {
  const int64_t now = NowMillis();
  auto late = std::make_shared<Batch>();
  std::map<std::string, std::string> late_kept;  // tenant -> TracesData
  std::map<std::string, uint32_t> late_spans;
  std::set<std::string> late_traces;  // whose decision the late batch restates
  for (auto& q : records) {
    // A clock stepped back is not waited for: deadlines count from receipt or now.
    const int64_t received = std::min(q.record.received_ms, now);
    read_horizon_ms_ = std::max(read_horizon_ms_, received);
    const uint64_t seq = first_record_ + records_.size();
    records_.push_back({q.end, 0});
    std::string raw;
    Status st = proto::SnappyDecompress(q.record.body, kMaxSpanRecord, raw);
    auto split = st.ok() ? proto::SplitByTrace(raw) : Result<proto::SplitTraces>(st);
    if (!split.ok()) {
      spdlog::error(
          "msg=\"tail sampling: a queued record cannot be read; its spans are dropped\" "
          "spans={} err=\"{}\"",
          q.record.items, split.status().message());
      dropped_.Add({{"reason", "damaged"}}).Increment(q.record.items);
      continue;
    }
    const std::string& tenant = q.record.tenant;
    for (auto& f : split->fragments) {
      std::string key = Key(f.trace_id, tenant);
      // Spans of a decided trace follow its decision: late ones, and after a restart those
      // replayed from before it (kept ones are delivered again: a redelivery, never a split).
      if (auto c = cache_.find(key); c != cache_.end()) {
        if (!c->second.sampled) {
          late_dropped_.Increment(f.spans);
          dropped_.Add({{"reason", "not_sampled"}}).Increment(f.spans);
          continue;
        }
        late_sampled_.Increment(f.spans);
        if (late_traces.insert(key).second) {
          EncodeDecision(late->decisions, f.trace_id, tenant, true);
        }
        proto::PutBytesField(late_kept[tenant], 1, f.resource_spans);
        late_spans[tenant] += f.spans;
        late->bytes += f.resource_spans.size();
        late->spans += f.spans;
        if (late->records.empty() || late->records.back() != seq) {
          late->records.push_back(seq);
          ++records_.back().pending;
        }
        continue;
      }
      auto& b = buffered_[key];
      if (!b) {
        b = std::make_unique<Buffered>();
        b->trace_id = f.trace_id;
        b->tenant = tenant;
        b->deadline_ms = received + config_.decision_wait_ms;
        arrival_.push_back(key);
      }
      if (b->records.empty() || b->records.back() != seq) {
        b->records.push_back(seq);
        ++records_.back().pending;
      }
      b->bytes += f.resource_spans.size();
      b->spans += f.spans;
      buffered_bytes_ += f.resource_spans.size();
      buffered_spans_ += f.spans;
      b->fragments.push_back(std::move(f.resource_spans));
    }
  }
  UpdateGauges();
  if (late->records.empty()) return;
  for (auto& [tenant, body] : late_kept) {
    QueueRecord r;
    r.kind = ItemKind::kOtlpTraces;
    r.tenant = tenant;
    r.items = late_spans[tenant];
    r.received_ms = now;
    r.body = proto::SnappyCompress(body);
    late->kept.push_back(std::move(r));
  }
  Submit(late);
}

void TailSampler::UpdateGauges() {
  traces_buffered_.Set(static_cast<double>(buffered_.size()));
  spans_buffered_.Set(static_cast<double>(buffered_spans_));
  bytes_buffered_.Set(static_cast<double>(buffered_bytes_ + in_flight_bytes_));
}

void TailSampler::DecideDue(int64_t due_ms, int64_t now_ms) {
  while (!arrival_.empty() && buffered_.at(arrival_.front())->deadline_ms <= due_ms) {
    DecideBatch(due_ms, now_ms);
  }
  UpdateGauges();
}

void TailSampler::DecideBatch(int64_t due_ms, int64_t now_ms) {
  auto batch = std::make_shared<Batch>();
  std::map<std::string, std::pair<std::string, uint32_t>> kept;  // tenant -> (TracesData, spans)
  std::vector<Outcome> outcomes;
  auto flush = [&](const std::string& tenant) {
    auto& [body, spans] = kept[tenant];
    QueueRecord r;
    r.kind = ItemKind::kOtlpTraces;
    r.tenant = tenant;
    r.items = spans;
    r.received_ms = now_ms;
    r.body = proto::SnappyCompress(body);
    batch->bytes += body.size();
    batch->spans += spans;
    batch->kept.push_back(std::move(r));
    body.clear();
    spans = 0;
  };
  for (size_t n = 0; n < kMaxBatchTraces && !arrival_.empty(); ++n) {
    auto it = buffered_.find(arrival_.front());
    if (it->second->deadline_ms > due_ms) break;
    std::unique_ptr<Buffered> b = std::move(it->second);
    buffered_.erase(it);
    arrival_.pop_front();
    buffered_bytes_ -= b->bytes;
    buffered_spans_ -= b->spans;

    std::vector<std::string_view> views(b->fragments.begin(), b->fragments.end());
    uint64_t spans = 0;
    std::string trace = proto::AssembleTrace(views, &spans);
    auto decoded = traceql::DecodeTrace(trace);
    bool sampled = false;
    if (!decoded.ok()) {
      // Fragments were cut by SplitByTrace from validated requests; this is damage.
      spdlog::error("msg=\"tail sampling: a trace cannot be decoded; it is dropped\" err=\"{}\"",
                    decoded.status().message());
      dropped_.Add({{"reason", "damaged"}}).Increment(b->spans);
    } else {
      outcomes.clear();
      // The policies' clock never goes back (rate limits refill by it).
      policy_clock_ms_ = std::max(policy_clock_ms_, now_ms);
      sampled = policies_.Decide({*decoded, trace.size()}, policy_clock_ms_, &outcomes);
      for (const auto& o : outcomes) {
        policy_decisions_
            .Add({{"policy", std::string(o.policy)},
                  {"decision", std::string(DecisionName(o.decision))}})
            .Increment();
      }
      traces_.Add({{"decision", sampled ? "sampled" : "not_sampled"}}).Increment();
      if (!sampled) dropped_.Add({{"reason", "not_sampled"}}).Increment(b->spans);
    }
    if (sampled) {
      auto& [body, n_spans] = kept[b->tenant];
      if (trace.size() < kKeptRecordBytes) {
        body += trace;
        n_spans += static_cast<uint32_t>(spans);
      } else {
        // A trace larger than a record: cut between its ResourceSpans (each from one request).
        proto::WireReader r(trace);
        std::string_view rs;
        while (r.NextField() && r.ReadBytes(&rs)) {
          if (body.size() + rs.size() >= kKeptRecordBytes && !body.empty()) flush(b->tenant);
          const size_t start = body.size();
          proto::PutBytesField(body, 1, rs);
          auto summary = proto::SummarizeTrace(std::string_view(body).substr(start));
          n_spans += summary.ok() ? static_cast<uint32_t>(summary->spans) : 0;
        }
      }
      if (body.size() >= kKeptRecordBytes) flush(b->tenant);
    }
    EncodeDecision(batch->decisions, b->trace_id, b->tenant, sampled);
    Remember(Key(b->trace_id, b->tenant), sampled, /*evict=*/true);
    batch->records.insert(batch->records.end(), b->records.begin(), b->records.end());
  }
  for (auto& [tenant, part] : kept) {
    if (!part.first.empty()) flush(tenant);
  }
  Submit(batch);
}

void TailSampler::Submit(const std::shared_ptr<Batch>& batch) {
  if (batch->records.empty()) return;
  // New batches hold their kept spans' memory until settled (the memory bound counts it).
  if (!batch->counted) {
    batch->counted = true;
    in_flight_bytes_ += batch->bytes;
    MutexLock lk(mu_);
    ++in_flight_;
  }
  auto refuse = [this, batch](const Status& st) {
    spdlog::warn("msg=\"tail sampling: queueing decided spans failed; retrying\" err=\"{}\"",
                 st.message());
    {
      MutexLock lk(mu_);
      refused_.push_back(batch);
    }
    cv_.notify_all();
  };
  auto settle = [this, batch] {
    {
      MutexLock lk(mu_);
      settled_.push_back({batch->records, batch->bytes});
      --in_flight_;
    }
    cv_.notify_all();
  };
  // Second: the kept spans, under decisions a restart will follow.
  auto deliver = [this, batch, refuse, settle] {
    if (batch->kept.empty()) return settle();
    auto done = AllDone(batch->kept.size(), [this, batch, refuse, settle](const Status& st) {
      if (st.ok()) return settle();
      if (!Final(st)) return refuse(st);
      spdlog::error(
          "msg=\"tail sampling: kept spans cannot be queued for any exporter; dropped\" "
          "spans={} err=\"{}\"",
          batch->spans, st.message());
      dropped_.Add({{"reason", "undeliverable"}}).Increment(static_cast<double>(batch->spans));
      settle();
    });
    for (const auto& r : batch->kept) deliver_(r, done);
  };
  if (batch->recorded) return deliver();
  // First: the decisions, with the spans-queue position this batch settles up to.
  QueueRecord r;
  r.kind = ItemKind::kTailDecisions;
  r.received_ms = NowMillis();
  QueuePosition settles;
  for (uint64_t seq : batch->records)
    settles = std::max(settles, records_[seq - first_record_].end);
  PutFixed32(r.body, settles.segment);
  PutFixed64(r.body, settles.offset);
  r.body += batch->decisions;
  Status st = decisions_->Append(r, [batch, refuse, deliver](const Status& s) {
    if (!s.ok()) return refuse(s);
    batch->recorded = true;
    deliver();
  });
  if (!st.ok()) refuse(st);
}

void TailSampler::Settle(const Settled& s) {
  for (uint64_t seq : s.records) --records_[seq - first_record_].pending;
  in_flight_bytes_ -= s.bytes;
}

void TailSampler::AckSettled() {
  std::optional<QueuePosition> end;
  while (!records_.empty() && records_.front().pending == 0) {
    end = records_.front().end;
    records_.pop_front();
    ++first_record_;
  }
  if (end) {
    if (Status st = spans_->Ack(*end); !st.ok()) {
      spdlog::error("msg=\"tail sampling: acknowledging the spans queue failed\" err=\"{}\"",
                    st.message());
    } else {
      spans_acked_ = *end;
    }
  }
}

}  // namespace strata::agent
