#include "api/prom_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <thread>

#include "api/ast_json.h"
#include "api/params.h"
#include "api/request.h"
#include "base/json.h"
#include "base/units.h"
#include "http/compression.h"
#include "http/status_map.h"
#include "http/tenant.h"
#include "promql/parser.h"

namespace strata::api {

namespace bhttp = boost::beast::http;

namespace {

// Prometheus's API bounds for unset start/end.
constexpr int64_t kMinTime = -9223309901257974LL;
constexpr int64_t kMaxTime = 9223309901257974LL;

Status InvalidParam(std::string_view name, std::string_view msg) {
  return Status::InvalidArgument(fmt::format("invalid parameter \"{}\": {}", name, msg));
}

// "line:col" of a byte offset, as Prometheus appends it to annotations.
std::string PositionOf(std::string_view query, int pos) {
  if (pos < 0 || pos > static_cast<int>(query.size())) return "invalid position";
  int line = 1, last_break = -1;
  for (int i = 0; i < pos; ++i) {
    if (query[i] == '\n') {
      line++;
      last_break = i;
    }
  }
  return fmt::format("{}:{}", line, pos - last_break);
}

std::string MetricTypeName(uint8_t t) {
  static constexpr std::string_view kNames[] = {"unknown",        "counter", "gauge", "histogram",
                                                "gaugehistogram", "summary", "info",  "stateset"};
  return std::string(t < std::size(kNames) ? kNames[t] : "unknown");
}

}  // namespace

// One Prometheus API call on its way through a query thread.
struct PromApi::Call : ApiRequest {
  const query::MetricsQueryable* queryable = nullptr;
  query::ReadHints hints;  // max_source_resolution; the time range is set per use
  std::vector<std::string> warnings;
  std::vector<std::string> infos;

  explicit Call(http::Responder r) : ApiRequest(std::move(r)) {}

  // A querier over the tenant's data in [mint, maxt]; null after failing the call.
  std::unique_ptr<query::Querier> Querier(int64_t mint, int64_t maxt) {
    query::ReadHints h = hints;
    h.mint = mint;
    h.maxt = maxt;
    auto q = queryable->TenantQuerier(tenant, h);
    if (!q.ok()) {
      Fail(q.status());
      return nullptr;
    }
    return std::move(q).value();
  }

  // Sends {"status":"success","data":<data>,...} where data is written by `fn`.
  void Ok(const std::function<void(JsonWriter&)>& fn) {
    JsonWriter w;
    w.BeginObject().Key("status").String("success").Key("data");
    fn(w);
    if (!warnings.empty()) {
      w.Key("warnings").BeginArray();
      for (const auto& s : warnings) w.String(s);
      w.EndArray();
    }
    if (!infos.empty()) {
      w.Key("infos").BeginArray();
      for (const auto& s : infos) w.String(s);
      w.EndArray();
    }
    w.EndObject();
    Send(http::Status::ok, std::move(w.str()));
  }

  void SendError() override {
    JsonWriter w;
    w.BeginObject()
        .Key("status")
        .String("error")
        .Key("errorType")
        .String(http::Classify(error).error_type)
        .Key("error")
        .String(error.message())
        .EndObject();
    Send(http::StatusFor(error), std::move(w.str()));
  }

  // Reads an optional time parameter.
  std::optional<int64_t> Time(std::string_view name, int64_t def) {
    auto v = params.Get(name);
    if (!v || v->empty()) return def;
    auto t = ParseTime(*v);
    if (!t.ok()) {
      Fail(InvalidParam(name, t.status().message()));
      return std::nullopt;
    }
    return t.value();
  }

  std::optional<uint64_t> Limit() {
    auto v = params.Get("limit");
    if (!v || v->empty()) return 0;
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size()) {
      Fail(InvalidParam("limit", fmt::format("cannot parse \"{}\" to a valid limit", *v)));
      return std::nullopt;
    }
    return n;
  }

  std::optional<std::vector<std::vector<Matcher>>> Matchers(bool required) {
    auto all = params.GetAll("match[]");
    if (all.empty() && required) {
      Fail(Status::InvalidArgument("no match[] parameter provided"));
      return std::nullopt;
    }
    std::vector<std::vector<Matcher>> out;
    for (const auto& m : all) {
      auto r = promql::ParseMetricSelector(m);
      if (!r.ok()) {
        Fail(InvalidParam("match[]", r.status().message()));
        return std::nullopt;
      }
      out.push_back(std::move(r).value());
    }
    return out;
  }

  void AddAnnotations(const promql::Annotations& a, std::string_view query) {
    for (const auto& e : a.warnings()) {
      warnings.push_back(e.message + " (" + PositionOf(query, e.pos.start) + ")");
    }
    for (const auto& e : a.infos()) {
      infos.push_back(e.message + " (" + PositionOf(query, e.pos.start) + ")");
    }
  }
};

PromApi::PromApi(ApiOptions opts, const query::MetricsQueryable& queryable,
                 const limits::TenantOverrides& limits, frontend::FairScheduler& scheduler,
                 const frontend::RangeRunner& runner)
    : opts_(std::move(opts)), queryable_(queryable), engine_(opts_.engine), scheduler_(scheduler) {
  frontend_ = std::make_unique<frontend::QueryFrontend>(limits, queryable_, engine_, runner);
}

PromApi::~PromApi() = default;

void PromApi::Register(http::Server& server) {
  auto route = [&](const std::string& path, void (PromApi::*fn)(Call&), bool post) {
    std::vector<bhttp::verb> methods = {bhttp::verb::get};
    if (post) methods.push_back(bhttp::verb::post);
    server.Route(path, methods, [this, fn](http::Request& req, const http::Responder& r) {
      Run(req, r, [this, fn](Call& c) { (this->*fn)(c); });
    });
  };
  route("/api/v1/query", &PromApi::Query, true);
  route("/api/v1/query_range", &PromApi::QueryRange, true);
  route("/api/v1/series", &PromApi::Series, true);
  route("/api/v1/labels", &PromApi::LabelNames, true);
  route("/api/v1/label/", &PromApi::LabelValues, false);
  route("/api/v1/metadata", &PromApi::Metadata, false);
  route("/api/v1/query_exemplars", &PromApi::QueryExemplars, true);
  route("/api/v1/format_query", &PromApi::FormatQuery, true);
  route("/api/v1/parse_query", &PromApi::ParseQuery, true);
  route("/api/v1/status/tsdb", &PromApi::TsdbStatus, false);
}

void PromApi::Run(http::Request& req, const http::Responder& respond, Body body) {
  auto c = std::make_shared<Call>(respond);
  c->queryable = &queryable_;
  Dispatch(scheduler_, opts_.tenants, req, c, [c, body = std::move(body)] {
    // Thanos's parameter: auto (default), or the coarsest downsampling resolution to read
    // (0s/raw, 5m, 1h).
    if (auto r = c->params.Get("max_source_resolution"); r && !r->empty() && *r != "auto") {
      auto ms = ParseDurationMillis(*r == "raw" ? "0s" : *r);
      if (!ms.ok() || *ms < 0) {
        return c->Fail(Status::InvalidArgument(
            fmt::format("invalid parameter \"max_source_resolution\": \"{}\" is "
                        "not auto, raw or a duration",
                        *r)));
      }
      c->hints.max_resolution_ms = *ms;
    }
    body(*c);
  });
}

void PromApi::Query(Call& c) {
  auto t = c.Time("time", NowMillis());
  if (!t) return;
  Evaluate(c, [&](const promql::Expr& e, const promql::QueryControl& ctl) {
    return frontend_->Instant(c.tenant, e, *t, c.hints, ctl);
  });
}

void PromApi::QueryRange(Call& c) {
  auto need = [&](std::string_view name) -> std::optional<int64_t> {
    auto v = c.params.Get(name);
    if (!v || v->empty()) {
      c.Fail(InvalidParam(name, "cannot parse \"\" to a valid timestamp"));
      return std::nullopt;
    }
    return c.Time(name, 0);
  };
  auto start = need("start");
  if (!start) return;
  auto end = need("end");
  if (!end) return;
  if (*end < *start) {
    return c.Fail(InvalidParam("end", "end timestamp must not be before start time"));
  }
  auto step = ParseDuration(c.params.Get("step").value_or(""));
  if (!step.ok()) return c.Fail(InvalidParam("step", step.status().message()));
  if (step.value() <= 0) {
    return c.Fail(InvalidParam("step",
                               "zero or negative query resolution step widths are not accepted. "
                               "Try a positive integer"));
  }
  if ((*end - *start) / step.value() > opts_.max_points_per_series) {
    return c.Fail(Status::InvalidArgument(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
        "the query resolution (?step=XX)"));
  }
  std::optional<bool> adaptive;
  if (auto a = c.params.Get("adaptive"); a && !a->empty()) {
    if (*a != "true" && *a != "false") {
      return c.Fail(InvalidParam("adaptive", fmt::format("want true or false, got \"{}\"", *a)));
    }
    adaptive = *a == "true";
  }
  frontend::QueryStats st;
  Evaluate(
      c,
      [&](const promql::Expr& e, const promql::QueryControl& ctl) {
        frontend::RangeQuery rq;
        rq.tenant = c.tenant;
        rq.text = c.params.Get("query").value_or("");
        rq.expr = &e;
        rq.start_ms = *start;
        rq.end_ms = *end;
        rq.step_ms = step.value();
        rq.hints = c.hints;
        rq.adaptive = adaptive;
        rq.ctl = ctl;
        auto r = frontend_->Range(rq, &st);
        c.infos.insert(c.infos.end(), st.infos.begin(), st.infos.end());
        return r;
      },
      &st);
}

void PromApi::Evaluate(Call& c, const Runner& run, const frontend::QueryStats* fst) {
  std::string q = c.params.Get("query").value_or("");
  int64_t timeout = 0;
  if (auto v = c.params.Get("timeout"); v && !v->empty()) {
    auto d = ParseDuration(*v);
    if (!d.ok()) return c.Fail(InvalidParam("timeout", d.status().message()));
    timeout = d.value();
  }
  auto limit = c.Limit();
  if (!limit) return;
  auto expr = promql::ParseExpr(q);
  if (!expr.ok()) return c.Fail(InvalidParam("query", expr.status().message()));
  auto stats = c.params.Get("stats");
  auto began = std::chrono::steady_clock::now();
  auto res = run(*expr.value(), ControlFor(c.respond, timeout));
  std::chrono::duration<double> eval = std::chrono::steady_clock::now() - began;
  if (!res.ok()) return c.Fail(res.status());
  auto& r = res.value();
  if (*limit > 0 && r.series.size() > *limit) {
    r.series.resize(*limit);
    c.warnings.push_back("results truncated due to limit");
  }
  c.AddAnnotations(r.annotations, q);
  // stats=<anything>: Prometheus's timings and sample counts, and what the frontend did;
  // stats=all adds the samples read per step.
  std::function<void(JsonWriter&)> write_stats;
  if (stats && !stats->empty()) {
    write_stats = [&](JsonWriter& w) {
      double queue = std::chrono::duration<double>(c.queue_time).count();
      w.Key("stats").BeginObject().Key("timings").BeginObject();
      w.Key("evalTotalTime").Number(eval.count()).Key("resultSortTime").Number(0);
      w.Key("queryPreparationTime").Number(0).Key("innerEvalTime").Number(eval.count());
      w.Key("execQueueTime").Number(queue).Key("execTotalTime").Number(queue + eval.count());
      w.EndObject().Key("samples").BeginObject();
      uint64_t total = 0;
      for (const auto& [t, n] : r.samples_per_step) total += n;
      w.Key("totalQueryableSamples").Int(static_cast<int64_t>(total));
      if (*stats == "all") {
        w.Key("totalQueryableSamplesPerStep").BeginArray();
        for (const auto& [t, n] : r.samples_per_step) {
          w.BeginArray().Timestamp(t).Int(static_cast<int64_t>(n)).EndArray();
        }
        w.EndArray();
      }
      w.Key("peakSamples").Int(static_cast<int64_t>(r.peak_samples)).EndObject();
      if (fst != nullptr) {
        w.Key("frontend").BeginObject();
        w.Key("splits").Int(static_cast<int64_t>(fst->splits));
        w.Key("cachedSplits").Int(static_cast<int64_t>(fst->cached_splits));
        w.Key("partialSplits").Int(static_cast<int64_t>(fst->partial_splits));
        w.Key("subqueries").Int(static_cast<int64_t>(fst->subqueries));
        w.Key("step").Number(static_cast<double>(fst->step_ms) / 1000);
        w.EndObject();
      }
      w.EndObject();
    };
  }
  c.Ok([&](JsonWriter& w) { WriteResult(w, r, write_stats); });
}

void PromApi::Series(Call& c) {
  auto sets = c.Matchers(true);
  if (!sets) return;
  auto start = c.Time("start", kMinTime);
  if (!start) return;
  auto end = c.Time("end", kMaxTime);
  if (!end) return;
  auto limit = c.Limit();
  if (!limit) return;
  auto querier = c.Querier(*start, *end);
  if (!querier) return;
  std::set<Labels> all;
  for (const auto& ms : *sets) {
    auto r = querier->Series(*start, *end, ms);
    if (!r.ok()) return c.Fail(r.status());
    all.insert(r.value().begin(), r.value().end());
  }
  if (*limit > 0 && all.size() > *limit) c.warnings.push_back("results truncated due to limit");
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    uint64_t n = 0;
    for (const auto& ls : all) {
      if (*limit > 0 && n++ >= *limit) break;
      WriteLabels(w, ls);
    }
    w.EndArray();
  });
}

namespace {

using StringLookup = std::function<Result<std::vector<std::string>>(
    const query::Querier&, int64_t, int64_t, std::span<const Matcher>)>;

// Label names or values: the union over every match[] (all series without one), sorted,
// cut to `limit` with Prometheus's warning.
void ListStrings(PromApi::Call& c, const StringLookup& lookup);

}  // namespace

void PromApi::LabelNames(Call& c) {
  ListStrings(c, [](const query::Querier& q, int64_t mint, int64_t maxt,
                    std::span<const Matcher> ms) { return q.LabelNames(mint, maxt, ms); });
}

void PromApi::LabelValues(Call& c) {
  auto label = LabelNameFromPath(c.path, "/api/v1/label/");
  if (!label.ok()) return c.Fail(label.status());
  const std::string& name = *label;
  ListStrings(
      c, [&name](const query::Querier& q, int64_t mint, int64_t maxt, std::span<const Matcher> ms) {
        return q.LabelValues(name, mint, maxt, ms);
      });
}

namespace {

void ListStrings(PromApi::Call& c, const StringLookup& lookup) {
  auto sets = c.Matchers(false);
  if (!sets) return;
  auto start = c.Time("start", kMinTime);
  if (!start) return;
  auto end = c.Time("end", kMaxTime);
  if (!end) return;
  auto limit = c.Limit();
  if (!limit) return;
  auto querier = c.Querier(*start, *end);
  if (!querier) return;
  std::set<std::string> all;
  if (sets->empty()) sets->emplace_back();
  for (const auto& ms : *sets) {
    auto r = lookup(*querier, *start, *end, ms);
    if (!r.ok()) return c.Fail(r.status());
    all.insert(r.value().begin(), r.value().end());
  }
  if (*limit > 0 && all.size() > *limit) c.warnings.push_back("results truncated due to limit");
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    uint64_t n = 0;
    for (const auto& s : all) {
      if (*limit > 0 && n++ >= *limit) break;
      w.String(s);
    }
    w.EndArray();
  });
}

}  // namespace

void PromApi::Metadata(Call& c) {
  auto limit = c.Limit();
  if (!limit) return;
  std::string metric = c.params.Get("metric").value_or("");
  auto metadata = queryable_.Metadata(c.tenant);
  if (!metadata.ok()) return c.Fail(metadata.status());
  const std::map<std::string, tsdb::MetricMetadata>& md = *metadata;
  c.Ok([&](JsonWriter& w) {
    w.BeginObject();
    uint64_t n = 0;
    for (const auto& [name, m] : md) {
      if (!metric.empty() && name != metric) continue;
      if (*limit > 0 && n++ >= *limit) break;
      w.Key(name).BeginArray().BeginObject();
      w.Key("type").String(MetricTypeName(m.type)).Key("help").String(m.help);
      w.Key("unit").String(m.unit).EndObject().EndArray();
    }
    w.EndObject();
  });
}

void PromApi::QueryExemplars(Call& c) {
  std::string q = c.params.Get("query").value_or("");
  auto start = c.Time("start", kMinTime);
  if (!start) return;
  auto end = c.Time("end", kMaxTime);
  if (!end) return;
  if (*end < *start) {
    return c.Fail(Status::InvalidArgument("end timestamp must not be before start timestamp"));
  }
  auto expr = promql::ParseExpr(q);
  if (!expr.ok()) return c.Fail(InvalidParam("query", expr.status().message()));
  // The matchers of every selector (Prometheus's parser.ExtractSelectors).
  std::vector<const promql::Expr*> nodes;
  promql::PreOrder(**expr, nodes);
  std::vector<std::vector<Matcher>> sets;
  for (const promql::Expr* e : nodes) {
    if (e->kind == promql::ExprKind::kVectorSelector) {
      sets.push_back(promql::As<promql::VectorSelector>(*e).matchers);
    }
  }
  // Without a selector Prometheus answers 204 and no body.
  if (sets.empty()) return c.Send(http::Status::no_content, std::string());
  auto found = queryable_.Exemplars(c.tenant, sets, *start, *end);
  if (!found.ok()) return c.Fail(found.status());
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    for (const tsdb::SeriesExemplars& s : *found) {
      w.BeginObject().Key("seriesLabels");
      WriteLabels(w, s.series);
      w.Key("exemplars").BeginArray();
      for (const tsdb::Exemplar& e : s.exemplars) {
        w.BeginObject().Key("labels");
        WriteLabels(w, e.labels);
        w.Key("value").SampleValue(e.value).Key("timestamp").Timestamp(e.t).EndObject();
      }
      w.EndArray().EndObject();
    }
    w.EndArray();
  });
}

void PromApi::FormatQuery(Call& c) {
  auto expr = promql::ParseExpr(c.params.Get("query").value_or(""));
  if (!expr.ok()) return c.Fail(InvalidParam("query", expr.status().message()));
  c.Ok([&](JsonWriter& w) { w.String(expr.value()->Pretty()); });
}

void PromApi::ParseQuery(Call& c) {
  auto expr = promql::ParseExpr(c.params.Get("query").value_or(""));
  if (!expr.ok()) return c.Fail(InvalidParam("query", expr.status().message()));
  c.Ok([&](JsonWriter& w) { WriteAstJson(w, *expr.value()); });
}

void PromApi::TsdbStatus(Call& c) {
  uint64_t limit = 10;
  if (auto v = c.params.Get("limit"); v && !v->empty()) {
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (ec != std::errc() || p != v->data() + v->size() || limit == 0 || limit > 10000) {
      return c.Fail(Status::InvalidArgument("limit must be a positive number"));
    }
  }
  auto head = queryable_.Head(c.tenant, limit);
  if (!head.ok()) return c.Fail(head.status());
  const tsdb::HeadStats& st = head->stats;
  const index::PostingsIndex::Cardinality& card = head->cardinality;
  auto list = [](JsonWriter& w, std::string_view key,
                 const std::vector<index::PostingsIndex::NameCount>& v) {
    w.Key(key).BeginArray();
    for (const auto& e : v) {
      w.BeginObject().Key("name").String(e.name).Key("value").Int(static_cast<int64_t>(e.count));
      w.EndObject();
    }
    w.EndArray();
  };
  c.Ok([&](JsonWriter& w) {
    w.BeginObject().Key("headStats").BeginObject();
    w.Key("numSeries").Int(static_cast<int64_t>(st.series));
    w.Key("numLabelPairs").Int(static_cast<int64_t>(card.label_pairs));
    w.Key("chunkCount").Int(static_cast<int64_t>(st.chunks));
    w.Key("minTime").Int(st.series == 0 ? INT64_MAX : st.min_time);
    w.Key("maxTime").Int(st.series == 0 ? INT64_MIN : st.max_time);
    w.EndObject();
    list(w, "seriesCountByMetricName", card.series_by_metric);
    list(w, "labelValueCountByLabelName", card.values_by_label);
    list(w, "memoryInBytesByLabelName", card.bytes_by_label);
    list(w, "seriesCountByLabelValuePair", card.series_by_label_pair);
    w.EndObject();
  });
}

}  // namespace strata::api
