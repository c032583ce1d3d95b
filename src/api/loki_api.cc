#include "api/loki_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <map>
#include <set>

#include "api/loki_call.h"
#include "api/params.h"
#include "api/request.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/math.h"
#include "base/units.h"
#include "http/status_map.h"
#include "logql/parser.h"

namespace strata::api {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kEncodingFlagsHeader = "X-Loki-Response-Encoding-Flags";
constexpr std::string_view kCategorizeLabels = "categorize-labels";

}  // namespace

void WriteLokiStats(JsonWriter& w, uint64_t lines, uint64_t bytes, uint64_t returned,
                    std::chrono::nanoseconds exec, std::chrono::nanoseconds queue) {
  double secs = std::chrono::duration<double>(exec).count();
  w.Key("stats").BeginObject().Key("summary").BeginObject();
  w.Key("bytesProcessedPerSecond").Int(secs > 0 ? static_cast<int64_t>(bytes / secs) : 0);
  w.Key("linesProcessedPerSecond").Int(secs > 0 ? static_cast<int64_t>(lines / secs) : 0);
  w.Key("totalBytesProcessed").Int(static_cast<int64_t>(bytes));
  w.Key("totalLinesProcessed").Int(static_cast<int64_t>(lines));
  w.Key("execTime").Number(secs);
  w.Key("queueTime").Number(std::chrono::duration<double>(queue).count());
  w.Key("totalEntriesReturned").Int(static_cast<int64_t>(returned));
  w.EndObject().EndObject();
}

LokiApi::LokiApi(LokiApiOptions opts, const logs::Queryable& queryable, logs::Followers& followers,
                 const limits::TenantOverrides& limits, frontend::FairScheduler& scheduler,
                 const frontend::RangeRunner& runner)
    : opts_(std::move(opts)),
      queryable_(queryable),
      followers_(followers),
      limits_(limits),
      scheduler_(scheduler),
      runner_(runner),
      engine_(opts_.engine),
      tails_(std::make_unique<Tails>()) {}

promql::QueryControl LokiApi::Control(const Call& c) const {
  return runner_.ControlFor(c.tenant, limits_.For(c.tenant).query, ControlFor(c.respond, 0));
}

void LokiApi::Register(http::Server& server) {
  auto route = [&](const std::string& path, void (LokiApi::*fn)(Call&), bool json_errors) {
    server.Route(path, {bhttp::verb::get, bhttp::verb::post},
                 [this, fn, json_errors](http::Request& req, const http::Responder& r) {
                   auto c = std::make_shared<Call>(r);
                   auto flags = req[boost::beast::string_view(kEncodingFlagsHeader.data(),
                                                              kEncodingFlagsHeader.size())];
                   c->categorize =
                       std::string_view(flags.data(), flags.size()).find(kCategorizeLabels) !=
                       std::string_view::npos;
                   c->json_errors = json_errors;
                   c->websocket = boost::beast::websocket::is_upgrade(req);
                   Dispatch(scheduler_, opts_.tenants, req, c, [this, fn, c] { (this->*fn)(*c); });
                 });
  };
  route("/loki/api/v1/query", &LokiApi::Query, false);
  route("/loki/api/v1/query_range", &LokiApi::QueryRange, false);
  route("/loki/api/v1/labels", &LokiApi::LabelNames, false);
  route("/loki/api/v1/label/", &LokiApi::LabelValues, false);
  route("/loki/api/v1/series", &LokiApi::Series, false);
  route("/loki/api/v1/format_query", &LokiApi::FormatQuery, true);
  route("/loki/api/v1/index/stats", &LokiApi::IndexStats, false);
  route("/loki/api/v1/index/volume", &LokiApi::VolumeInstant, false);
  route("/loki/api/v1/index/volume_range", &LokiApi::VolumeRange, false);
  route("/loki/api/v1/detected_labels", &LokiApi::DetectedLabels, false);
  route("/loki/api/v1/detected_fields", &LokiApi::DetectedFields, false);
  route("/loki/api/v1/detected_field/", &LokiApi::DetectedFields, false);
  route("/loki/api/v1/tail", &LokiApi::Tail, false);
  route("/loki/api/v1/patterns", &LokiApi::Patterns, false);
  server.Route("/loki/api/v1/status/buildinfo", {bhttp::verb::get},
               [](http::Request& req, const http::Responder& r) {
                 r.Send(http::JsonResponse(req, http::Status::ok, BuildInfoJson()));
               });
}

namespace {

// Writes a streams result; with categorize-labels, grouped by stream with each entry's
// structured metadata and parsed labels beside it.
void WriteStreams(JsonWriter& w, const logql::LogQueryResult& r, bool categorize, bool forward) {
  w.Key("resultType").String("streams").Key("result").BeginArray();
  auto entry = [&](const logql::LogLine& e, bool with_categories) {
    w.BeginArray().String(std::to_string(e.ts_ns)).String(e.line);
    if (with_categories && (!e.metadata.empty() || !e.parsed.empty())) {
      w.BeginObject();
      if (!e.metadata.empty()) {
        w.Key("structuredMetadata");
        WriteLabels(w, e.metadata);
      }
      if (!e.parsed.empty()) {
        w.Key("parsed");
        WriteLabels(w, e.parsed);
      }
      w.EndObject();
    }
    w.EndArray();
  };
  if (!categorize) {
    for (const auto& s : r.streams) {
      w.BeginObject().Key("stream");
      WriteLabels(w, s.labels);
      w.Key("values").BeginArray();
      for (const auto& e : s.entries) entry(e, false);
      w.EndArray().EndObject();
    }
  } else {
    std::map<Labels, std::vector<const logql::LogLine*>> by_stream;
    for (const auto& s : r.streams) {
      auto& v = by_stream[s.stream];
      for (const auto& e : s.entries) v.push_back(&e);
    }
    for (auto& [labels, entries] : by_stream) {
      std::stable_sort(entries.begin(), entries.end(), [&](const auto* a, const auto* b) {
        return forward ? a->ts_ns < b->ts_ns : a->ts_ns > b->ts_ns;
      });
      w.BeginObject().Key("stream");
      WriteLabels(w, labels);
      w.Key("values").BeginArray();
      for (const auto* e : entries) entry(*e, true);
      w.EndArray().EndObject();
    }
  }
  w.EndArray();
}

}  // namespace

void LokiApi::Query(Call& c) {
  auto t = c.Time("time", NowNanos());
  if (!t) return;
  logql::ExprPtr e = c.ParseQuery();
  if (!e) return;
  if (!e->IsMetric()) {
    return c.Fail(Status::InvalidArgument(
        "log queries are not supported as an instant query type, please change your query to "
        "a range query type"));
  }
  const logql::DataMargins margins = logql::MarginsOf(*e);
  auto q =
      c.Querier(queryable_, SaturatingSub(*t, margins.before), SaturatingAdd(*t, margins.after));
  if (!q) return;
  auto started = std::chrono::steady_clock::now();
  auto r = engine_.Instant(*q, *e, FloorDiv(*t, kNsPerMs), Control(c));
  if (!r.ok()) return c.Fail(r.status());
  c.OkMetric(*r, std::chrono::steady_clock::now() - started);
}

void LokiApi::QueryRange(Call& c) {
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  if (end < start) {
    return c.Fail(
        Status::InvalidArgument("end timestamp must not be before or equal to start time"));
  }
  const limits::QueryLimits& limits = limits_.For(c.tenant).query;
  if (limits.max_query_length_ms > 0 &&
      SaturatingSub(end, start) / kNsPerMs > limits.max_query_length_ms) {
    return c.Fail(Status::InvalidArgument(
        fmt::format("the query time range exceeds the limit (query length: {}, limit: {})",
                    FormatDurationMillis(SaturatingSub(end, start) / kNsPerMs),
                    FormatDurationMillis(limits.max_query_length_ms))));
  }
  logql::ExprPtr e = c.ParseQuery();
  if (!e) return;
  auto started = std::chrono::steady_clock::now();
  if (!e->IsMetric()) {
    auto q = c.Querier(queryable_, start, end);
    if (!q) return;
    auto limit = c.EntryLimit("limit", 100, limits.max_entries_limit_per_query);
    if (!limit) return;
    logql::LogQueryParams p;
    p.start_ns = start;
    p.end_ns = end;
    p.limit = *limit;
    std::string dir = AsciiLower(c.params.Get("direction").value_or("backward"));
    if (dir == "forward") {
      p.forward = true;
    } else if (dir != "backward" && !dir.empty()) {
      return c.Fail(Status::InvalidArgument(fmt::format("invalid direction '{}'", dir)));
    }
    if (auto v = c.params.Get("interval"); v && !v->empty()) {
      auto d = ParseDurationNanos(*v);
      if (!d.ok()) return c.Fail(Status::InvalidArgument(d.status().message()));
      if (*d < 0) return c.Fail(Status::InvalidArgument("interval must be >= 0"));
      p.interval_ns = *d;
    }
    auto r = engine_.SelectLogs(*q, logql::As<logql::LogExpr>(*e), p, Control(c));
    if (!r.ok()) return c.Fail(r.status());
    auto exec = std::chrono::steady_clock::now() - started;
    uint64_t returned = 0;
    for (const auto& s : r->streams) returned += s.entries.size();
    c.Ok([&](JsonWriter& w) {
      w.BeginObject();
      WriteStreams(w, *r, c.categorize, p.forward);
      if (c.categorize) w.Key("encodingFlags").BeginArray().String(kCategorizeLabels).EndArray();
      WriteLokiStats(w, r->entries_scanned, r->bytes_scanned, returned, exec, c.queue_time);
      w.EndObject();
    });
    return;
  }
  int64_t start_ms = FloorDiv(start, kNsPerMs), end_ms = FloorDiv(end, kNsPerMs);
  auto step = c.StepMs(start, end);
  if (!step) return;
  const int64_t step_ms = *step;
  if (SaturatingSub(end_ms, start_ms) / step_ms > opts_.max_points_per_series) {
    return c.Fail(Status::InvalidArgument(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)"));
  }
  // Through the range runner: split, the settled parts from the results cache.
  frontend::RangeJob job;
  job.tenant = c.tenant;
  job.text = c.params.Get("query").value_or("");
  job.start_ms = start_ms;
  job.end_ms = end_ms;
  job.step_ms = step_ms;
  // As written: Loki's printed form rounds some numbers (sizes, ranges in ms).
  job.cache_key = "logql\x1f" + job.text;
  // Entries arrive up to the out-of-order window behind their stream's newest.
  job.settle_ms = limits_.For(c.tenant).logs.out_of_order_window_ms;
  job.ctl = Control(c);
  const logql::DataMargins margins = logql::MarginsOf(*e);
  job.eval = [&](int64_t first, int64_t last, const promql::QueryControl& ctl,
                 frontend::QueryStats& st) -> Result<frontend::Extent> {
    ASSIGN_OR_RETURN(auto q,
                     OpenQuerier(queryable_, c.tenant,
                                 SaturatingSub(SaturatingMul(first, kNsPerMs), margins.before),
                                 SaturatingAdd(SaturatingMul(last, kNsPerMs), margins.after)));
    ASSIGN_OR_RETURN(auto r, engine_.Range(*q, *e, first, last, step_ms, ctl));
    return frontend::TakeExtent(first, last, std::move(r), st);
  };
  frontend::QueryStats st;
  auto r = runner_.Run(job, st);
  if (!r.ok()) return c.Fail(r.status());
  c.OkMetric(*r, std::chrono::steady_clock::now() - started);
}

void LokiApi::LabelNames(Call& c) {
  int64_t start = 0, end = 0;
  if (!c.Range(6 * kHourNs, &start, &end)) return;
  auto matchers = c.Selector();
  if (!matchers) return;
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  auto names = q->LabelNames(*matchers, start, end);
  if (!names.ok()) return c.Fail(names.status());
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    for (const auto& n : *names) w.String(n);
    w.EndArray();
  });
}

void LokiApi::LabelValues(Call& c) {
  // /loki/api/v1/label/<name>/values
  std::string_view rest =
      std::string_view(c.path).substr(std::string_view("/loki/api/v1/label/").size());
  if (!rest.ends_with("/values")) {
    return c.Fail(Status::NotFound(fmt::format("404 page not found: {}", c.path)));
  }
  std::string name(rest.substr(0, rest.size() - std::string_view("/values").size()));
  int64_t start = 0, end = 0;
  if (!c.Range(6 * kHourNs, &start, &end)) return;
  auto matchers = c.Selector();
  if (!matchers) return;
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  auto values = q->LabelValues(name, *matchers, start, end);
  if (!values.ok()) return c.Fail(values.status());
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    for (const auto& v : *values) w.String(v);
    w.EndArray();
  });
}

void LokiApi::Series(Call& c) {
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  auto all = c.params.GetAll("match[]");
  if (all.empty()) all = c.params.GetAll("match");
  if (all.empty()) return c.Fail(Status::InvalidArgument("0 matcher groups supplied"));
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  std::set<Labels> series;
  for (const auto& sel : all) {
    auto m = logql::ParseMatchers(sel, true);
    if (!m.ok()) return c.Fail(m.status());
    auto set = q->Select(*m, start, end, {});
    if (!set.ok()) return c.Fail(set.status());
    for (size_t i = 0; i < (*set)->size(); ++i) series.insert((*set)->labels(i));
  }
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    for (const auto& s : series) WriteLabels(w, s);
    w.EndArray();
  });
}

void LokiApi::FormatQuery(Call& c) {
  logql::ExprPtr e = c.ParseQuery();
  if (!e) return;
  c.Ok([&](JsonWriter& w) { w.String(e->Pretty()); });
}

}  // namespace strata::api
