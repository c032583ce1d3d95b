// /loki/api/v1/tail: live logs over a WebSocket, as Grafana's Live view and `logcli --tail`
// read them. Each tail has a thread that first sends the newest `limit` entries since
// `start`, then every second the entries that arrived after the last one it sent (reading
// the head and blocks as any query), `delay_for` seconds behind now.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "api/loki_api.h"
#include "api/loki_call.h"

namespace strata::api {

namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int kMaxTailsPerTenant = 10;  // Loki's max_concurrent_tail_requests
constexpr auto kMaxTailDuration = std::chrono::hours(1);
constexpr size_t kEntriesPerMessage = 100;
constexpr size_t kFetch = 1000;                // entries read per poll, at least
constexpr size_t kMaxQueuedBytes = 16u << 20;  // a slow reader holds the tail back

struct Entry {
  int64_t ts;
  const logql::LogStream* stream;
  const logql::LogLine* line;
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
  bool first = true;
  int64_t from = req.start;  // entries before are sent; those at `from` are in `sent_at_from`
  std::set<std::pair<Labels, std::string>> sent_at_from;
  size_t fetch = kFetch;
  // Each read is a query with the tenant's limits, cancelled by shutdown.
  const limits::QueryLimits& limits = limits_.For(req.tenant).query;
  promql::QueryControl ctl;
  ctl.cancelled = &tails_->stopping;
  ctl.timeout_ms = limits.timeout_ms;
  ctl.max_samples = limits.max_samples;
  while (!ws.closed()) {
    if (tails_->stopping) return ws.Close(1001, "server shutting down");
    if (std::chrono::steady_clock::now() >= deadline) {
      return ws.Close(1011, "reached tail max duration limit");
    }
    const int64_t upto = NowNanos() - req.delay_ns;
    bool more = false;
    if (ws.queued_bytes() < kMaxQueuedBytes && upto >= from) {
      query::ReadHints h;
      h.mint = FloorDiv(from, kNsPerMs);
      h.maxt = FloorDiv(upto, kNsPerMs) + 1;
      auto q = queryable_.TenantQuerier(req.tenant, h);
      logql::LogQueryParams p;
      p.start_ns = from;
      p.end_ns = upto + 1;
      p.forward = !first;
      p.limit = first ? req.limit : fetch;
      Result<logql::LogQueryResult> r = q.ok() ? engine_.SelectLogs(**q, expr, p, ctl)
                                               : Result<logql::LogQueryResult>(q.status());
      if (!r.ok()) {
        spdlog::warn("msg=\"tail query failed\" tenant={} err=\"{}\"", req.tenant,
                     r.status().ToString());
        return ws.Close(1011, std::string(r.status().message()));
      }
      std::vector<Entry> entries;
      for (const auto& s : r->streams) {
        for (const auto& e : s.entries) entries.push_back({e.ts_ns, &s, &e});
      }
      std::stable_sort(entries.begin(), entries.end(),
                       [](const Entry& a, const Entry& b) { return a.ts < b.ts; });
      // Entries at `from` were read before; the newest time read is the next `from`.
      size_t fresh = 0;
      JsonWriter w;
      auto flush = [&] {
        if (fresh == 0) return;
        w.EndArray();
        if (req.categorize)
          w.Key("encodingFlags").BeginArray().String("categorize-labels").EndArray();
        w.EndObject();
        ws.Send(std::move(w.str()));
        w = JsonWriter();
        fresh = 0;
      };
      const size_t read = entries.size();
      for (const Entry& e : entries) {
        auto key = std::make_pair(e.stream->labels, e.line->line);
        if (e.ts == from && sent_at_from.contains(key)) continue;
        if (e.ts != from) {
          from = e.ts;
          sent_at_from.clear();
        }
        sent_at_from.insert(std::move(key));
        if (fresh == 0) w.BeginObject().Key("streams").BeginArray();
        w.BeginObject().Key("stream");
        WriteLabels(w, req.categorize ? e.stream->stream : e.stream->labels);
        w.Key("values").BeginArray().BeginArray();
        w.String(std::to_string(e.ts)).String(e.line->line);
        if (req.categorize) {
          w.BeginObject().Key("structuredMetadata");
          WriteLabels(w, e.line->metadata);
          w.Key("parsed");
          WriteLabels(w, e.line->parsed);
          w.EndObject();
        }
        w.EndArray().EndArray().EndObject();
        if (++fresh == kEntriesPerMessage) flush();
      }
      const bool progressed = fresh > 0 || from != p.start_ns;
      flush();
      if (first) {
        first = false;
        if (read == 0) from = upto + 1;
      } else if (read == p.limit) {
        // A full read: more is waiting (or many entries share one time: read more at once).
        more = true;
        fetch = progressed ? kFetch : fetch * 2;
      }
    }
    if (more) continue;
    UniqueLock lk(tails_->mu);
    if (lk.WaitFor(tails_->cv, std::chrono::seconds(1),
                   [this]() REQUIRES(tails_->mu) { return tails_->stop; })) {
      return ws.Close(1001, "server shutting down");
    }
  }
}

}  // namespace strata::api
