// /loki/api/v1/tail: live logs over a WebSocket, as Grafana's Live view and `logcli --tail`
// read them. Each tail has a thread that first sends the newest `limit` entries since
// `start` (reading the head and blocks as any query), then every entry the tenant's heads
// take while it is open, as they take it (logs::Followers), whatever its timestamp: a late
// entry is tailed when it arrives. As Loki's, an entry is sent once `delay_for` seconds are
// past its timestamp, oldest first, and what a slow reader cannot take is dropped and listed
// in `dropped_entries`.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "api/loki_api.h"
#include "api/loki_call.h"
#include "base/matcher.h"
#include "logql/pipeline.h"

namespace strata::api {

namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int kMaxTailsPerTenant = 10;  // Loki's max_concurrent_tail_requests
constexpr auto kMaxTailDuration = std::chrono::hours(1);
constexpr size_t kEntriesPerMessage = 100;
// A tail holds at most this many bytes of entries not yet sent (counting their copies'
// overhead), and its socket as many again; beyond, entries are dropped and listed (at most
// kMaxDropped per message, as Loki).
constexpr size_t kMaxQueuedBytes = 16u << 20;
constexpr size_t kMaxDropped = 1000;

// An entry the head took, as a tail holds it until it is sent.
struct Arrived {
  int64_t ts;
  std::shared_ptr<const Labels> stream;  // shared by the entries of one delivery
  std::string line;
  Labels metadata;  // in the order sent
  size_t bytes;     // what holding it costs
};

size_t LabelBytes(std::span<const LabelView> labels) {
  size_t n = 0;
  for (const auto& l : labels) n += sizeof(Label) + l.name.size() + l.value.size();
  return n;
}

// What the head gave one tail and its thread has not taken yet.
struct Inbox {
  Mutex mu;
  std::vector<Arrived> entries GUARDED_BY(mu);
  size_t bytes GUARDED_BY(mu) = 0;  // of these entries and those the tail holds, unsent
  std::vector<std::pair<Labels, int64_t>> dropped GUARDED_BY(mu);  // stream, timestamp
  std::atomic<bool> pending{false};
};

}  // namespace

// What a tail was asked for, checked before the upgrade.
struct LokiApi::TailRequest {
  std::string tenant;
  logql::ExprPtr expr;
  int64_t start = 0;
  size_t limit = 100;
  int64_t delay_ns = 0;
  bool categorize = false;
};

LokiApi::~LokiApi() {
  std::list<Tails::Running> running;
  {
    MutexLock lk(tails_->mu);
    tails_->stop = true;
    tails_->stopping = true;
    running = std::move(tails_->running);
  }
  tails_->cv.notify_all();
  for (auto& r : running) r.thread.join();
}

void LokiApi::Tail(Call& c) {
  auto req = std::make_shared<TailRequest>();
  req->tenant = c.tenant;
  req->categorize = c.categorize;
  req->expr = c.ParseQuery();
  if (!req->expr) return;
  if (req->expr->IsMetric()) {
    return c.Fail(Status::InvalidArgument("only log queries are supported in tail"));
  }
  const int64_t now = NowNanos();
  auto start = c.Time("start", now - kHourNs);
  if (!start) return;
  req->start = *start;
  // No further back than a query may reach.
  const int64_t max_length_ms = limits_.For(c.tenant).query.max_query_length_ms;
  if (max_length_ms > 0) {
    req->start = std::max(req->start, SaturatingSub(now, SaturatingMul(max_length_ms, kNsPerMs)));
  }
  auto limit = c.EntryLimit("limit", 100, limits_.For(c.tenant).query.max_entries_limit_per_query);
  if (!limit) return;
  req->limit = *limit;
  auto delay = c.IntParam("delay_for", 0);
  if (!delay) return;
  if (*delay > 5) return c.Fail(Status::InvalidArgument("delay_for can't be greater than 5"));
  req->delay_ns = std::max<int64_t>(*delay, 0) * kSecondNs;
  if (!c.websocket) {
    return c.Fail(Status::InvalidArgument(
        "websocket: the client is not using the websocket protocol: 'upgrade' token not found in "
        "'Connection' header"));
  }
  c.respond.Upgrade([this, req](const std::shared_ptr<http::WebSocket>& ws) {
    MutexLock lk(tails_->mu);
    tails_->Reap();
    int& n = tails_->per_tenant[req->tenant];
    if (tails_->stop || n >= kMaxTailsPerTenant) {
      ws->Close(1011,
                fmt::format("max concurrent tail requests limit exceeded, count > limit ({} > {})",
                            n + 1, kMaxTailsPerTenant));
      return;
    }
    ++n;
    auto done = std::make_shared<std::atomic<bool>>(false);
    tails_->running.push_back({std::thread([this, req, ws, done] {
                                 RunTail(*req, *ws);
                                 MutexLock lk(tails_->mu);
                                 --tails_->per_tenant[req->tenant];
                                 done->store(true);
                               }),
                               done});
  });
}

void LokiApi::RunTail(const TailRequest& req, http::WebSocket& ws) {
  const auto deadline = std::chrono::steady_clock::now() + kMaxTailDuration;
  const auto& expr = logql::As<logql::LogExpr>(*req.expr);
  auto pipeline = logql::Pipeline::Make(expr.selector.stages);
  if (!pipeline.ok()) return ws.Close(1011, std::string(pipeline.status().message()));
  // Followed before reading what is stored, so that no entry taken meanwhile is missed;
  // one in both is sent once.
  auto inbox = std::make_shared<Inbox>();
  auto follow = followers_.Follow(
      req.tenant,
      [inbox, matchers = expr.selector.matchers, tails = tails_.get()](
          std::span<const logs::StreamInput> streams, std::span<const logs::Taken> taken) {
        size_t stream = SIZE_MAX;
        bool match = false, any = false;
        std::shared_ptr<const Labels> labels;
        {
          MutexLock lk(inbox->mu);
          for (const logs::Taken& t : taken) {
            if (t.stream != stream) {
              stream = t.stream;
              match = MatchesAll(matchers, streams[stream].labels);
              labels.reset();
            }
            if (!match) continue;
            any = true;
            const logs::EntryInput& e = *t.entry;
            size_t bytes = sizeof(Arrived) + e.line.size() + LabelBytes(e.metadata);
            if (!labels) bytes += LabelBytes(streams[stream].labels);
            if (inbox->bytes + bytes > kMaxQueuedBytes) {
              if (inbox->dropped.size() < kMaxDropped) {
                inbox->dropped.emplace_back(ToLabels(streams[stream].labels), e.ts_ns);
              }
              continue;
            }
            if (!labels) labels = std::make_shared<const Labels>(ToLabels(streams[stream].labels));
            inbox->bytes += bytes;
            inbox->entries.push_back(
                {e.ts_ns, labels, std::string(e.line), ToLabels(e.metadata), bytes});
          }
        }
        if (!any) return;
        inbox->pending.store(true);
        { MutexLock lk(tails->mu); }  // a tail about to wait sees `pending` or is woken
        tails->cv.notify_all();
      });

  // Each message: up to kEntriesPerMessage entries, one stream object each, and what was
  // dropped since the last.
  JsonWriter w;
  size_t in_message = 0;
  std::vector<std::pair<Labels, int64_t>> dropped;
  auto flush = [&] {
    if (in_message == 0 && dropped.empty()) return;
    if (in_message == 0) w.BeginObject().Key("streams").BeginArray();
    w.EndArray();
    if (!dropped.empty()) {
      w.Key("dropped_entries").BeginArray();
      for (const auto& [labels, ts] : dropped) {
        w.BeginObject().Key("timestamp").String(std::to_string(ts)).Key("labels");
        WriteLabels(w, labels);
        w.EndObject();
      }
      w.EndArray();
      dropped.clear();
    }
    if (req.categorize) w.Key("encodingFlags").BeginArray().String("categorize-labels").EndArray();
    w.EndObject();
    ws.Send(std::move(w.str()));
    w = JsonWriter();
    in_message = 0;
  };
  auto send = [&](const Labels& labels, int64_t ts, const std::string& line, const Labels& metadata,
                  const Labels& parsed) {
    if (in_message == 0) w.BeginObject().Key("streams").BeginArray();
    w.BeginObject().Key("stream");
    WriteLabels(w, labels);
    w.Key("values").BeginArray().BeginArray();
    w.String(std::to_string(ts)).String(line);
    if (req.categorize) {
      w.BeginObject().Key("structuredMetadata");
      WriteLabels(w, metadata);
      w.Key("parsed");
      WriteLabels(w, parsed);
      w.EndObject();
    }
    w.EndArray().EndArray().EndObject();
    if (++in_message == kEntriesPerMessage) flush();
  };

  // The newest `limit` entries since `start`, oldest first; each read is a query with the
  // tenant's limits, cancelled by shutdown.
  using Key = std::tuple<Labels, int64_t, std::string>;  // output labels, time, line
  std::set<Key> history;
  {
    const limits::QueryLimits& limits = limits_.For(req.tenant).query;
    promql::QueryControl ctl;
    ctl.cancelled = &tails_->stopping;
    ctl.timeout_ms = limits.timeout_ms;
    ctl.max_samples = limits.max_samples;
    const int64_t now = NowNanos();
    query::ReadHints h;
    h.mint = FloorDiv(req.start, kNsPerMs);
    h.maxt = FloorDiv(now, kNsPerMs) + 1;
    auto q = queryable_.TenantQuerier(req.tenant, h);
    logql::LogQueryParams p;
    p.start_ns = req.start;
    p.end_ns = now + 1;
    p.limit = req.limit;
    Result<logql::LogQueryResult> r =
        q.ok() ? engine_.SelectLogs(**q, expr, p, ctl) : Result<logql::LogQueryResult>(q.status());
    if (!r.ok()) {
      spdlog::warn("msg=\"tail query failed\" tenant={} err=\"{}\"", req.tenant,
                   r.status().ToString());
      return ws.Close(1011, std::string(r.status().message()));
    }
    std::vector<std::pair<const logql::LogStream*, const logql::LogLine*>> entries;
    for (const auto& s : r->streams) {
      for (const auto& e : s.entries) entries.emplace_back(&s, &e);
    }
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.second->ts_ns < b.second->ts_ns;
    });
    for (const auto& [s, e] : entries) {
      send(req.categorize ? s->stream : s->labels, e->ts_ns, e->line, e->metadata, e->parsed);
      history.emplace(s->labels, e->ts_ns, e->line);
    }
    flush();
  }

  // Then what the heads take. Entries wait until `delay_for` is past their time (Loki lets
  // entries from other ingesters catch up meanwhile), oldest first.
  std::vector<Arrived> waiting;
  size_t held = 0;  // bytes of the entries in the inbox and waiting
  logql::LabelsBuilder lbs;
  while (!ws.closed()) {
    {
      // A socket that does not drain leaves the entries in the inbox, where they fill it.
      UniqueLock lk(tails_->mu);
      lk.WaitFor(tails_->cv, std::chrono::seconds(1), [&]() REQUIRES(tails_->mu) {
        return tails_->stop || (inbox->pending.load() && ws.queued_bytes() < kMaxQueuedBytes);
      });
      if (tails_->stop) return ws.Close(1001, "server shutting down");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return ws.Close(1011, "reached tail max duration limit");
    }
    if (ws.queued_bytes() >= kMaxQueuedBytes) continue;
    {
      MutexLock lk(inbox->mu);
      inbox->pending.store(false);
      for (auto& a : inbox->entries) waiting.push_back(std::move(a));
      inbox->entries.clear();
      held = inbox->bytes;
      for (auto& d : inbox->dropped) {
        if (dropped.size() < kMaxDropped) dropped.push_back(std::move(d));
      }
      inbox->dropped.clear();
    }
    std::stable_sort(waiting.begin(), waiting.end(),
                     [](const Arrived& a, const Arrived& b) { return a.ts < b.ts; });
    // Due: `delay_for` past its time, or the oldest while the tail holds over 3/4 of what it
    // may (entries with times ahead of the clock would otherwise fill it).
    const int64_t now = NowNanos();
    size_t due = 0, sent_bytes = 0;
    while (due < waiting.size() && (SaturatingAdd(waiting[due].ts, req.delay_ns) <= now ||
                                    held - sent_bytes > kMaxQueuedBytes / 4 * 3)) {
      sent_bytes += waiting[due].bytes;
      ++due;
    }
    for (size_t i = 0; i < due; ++i) {
      Arrived& a = waiting[i];
      lbs.Reset(*a.stream, ViewOf(a.metadata));
      if (!pipeline->Process(a.ts, a.line, lbs)) continue;
      Labels all = lbs.All();
      if (!history.empty() && history.erase(Key{all, a.ts, a.line}) > 0) continue;
      send(req.categorize ? *a.stream : all, a.ts, a.line,
           lbs.InCategory(logql::LabelsBuilder::Category::kMetadata),
           lbs.InCategory(logql::LabelsBuilder::Category::kParsed));
    }
    waiting.erase(waiting.begin(), waiting.begin() + static_cast<ptrdiff_t>(due));
    if (sent_bytes > 0) {
      MutexLock lk(inbox->mu);
      inbox->bytes -= sent_bytes;
    }
    flush();
  }
}

}  // namespace strata::api
