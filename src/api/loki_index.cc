// The Loki API's index and discovery endpoints, as Grafana's Loki data source and Logs
// Drilldown call them: index/stats, index/volume(_range), detected_labels, detected_fields
// and detected_field/<name>/values.
#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "api/loki_api.h"
#include "api/loki_call.h"
#include "base/encoding.h"
#include "logql/drain.h"
#include "logql/engine.h"
#include "logql/lexer.h"
#include "logql/pipeline.h"

namespace strata::api {

namespace {

// The `query` parameter as a stream selector alone (`{}` too when `allow_empty`): a valid
// query with more than that is refused as Loki refuses it. nullopt after failing the call.
std::optional<std::vector<Matcher>> MatchersOnly(LokiApi::Call& c, bool allow_empty) {
  std::string q = c.params.Get("query").value_or("");
  const size_t b = q.find_first_not_of(" \t\r\n");
  const std::string_view trimmed =
      b == std::string::npos ? ""
                             : std::string_view(q).substr(b, q.find_last_not_of(" \t\r\n") + 1 - b);
  if (allow_empty && (trimmed.empty() || trimmed == "{}")) return std::vector<Matcher>{};
  auto m = logql::ParseMatchers(q, true);
  if (m.ok()) return std::move(*m);
  if (logql::ParseExpr(q).ok()) {
    c.Fail(Status::InvalidArgument("only label matchers are supported"));
  } else {
    c.Fail(m.status());
  }
  return std::nullopt;
}

// The share of a span's entries that falls in [a, b], as Loki prorates a chunk by the part of
// its time span inside the range.
double Overlap(const logs::Span& s, int64_t a, int64_t b) {
  if (s.max_ts < a || s.min_ts > b) return 0;
  if (s.max_ts <= s.min_ts) return 1;
  double part = static_cast<double>(std::min(s.max_ts, b) - std::max(s.min_ts, a));
  return std::clamp(part / static_cast<double>(s.max_ts - s.min_ts), 0.0, 1.0);
}

// A detected field's type: the first of Go's int, float, bool, duration and go-humanize's
// byte size that parses the value, as Loki tries them.
std::string_view FieldType(std::string_view v) {
  int64_t i = 0;
  auto [p, ec] = std::from_chars(v.data() + (v.starts_with('+') ? 1 : 0), v.data() + v.size(), i);
  if (!v.empty() && ec == std::errc() && p == v.data() + v.size() && v != "+" && v != "-") {
    return "int";
  }
  double d = 0;
  std::string err;
  if (ParseGoFloat(v, &d, &err)) return "float";
  static const std::set<std::string_view> kBools = {"1", "t", "T", "TRUE",  "true",  "True",
                                                    "0", "f", "F", "FALSE", "false", "False"};
  if (kBools.contains(v)) return "boolean";
  int64_t ns = 0;
  if (ParseGoDuration(v, &ns)) return "duration";
  uint64_t bytes = 0;
  if (logql::ParseHumanBytes(v, &bytes)) return "bytes";
  return "string";
}

bool IsUuid(std::string_view v) {
  static constexpr std::string_view kShape = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  if (v.size() != kShape.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (kShape[i] == '-' ? v[i] != '-' : !std::isxdigit(static_cast<unsigned char>(v[i]))) {
      return false;
    }
  }
  return true;
}

// One detected field: its values, its type (from the last entry seen), its parsers.
struct Field {
  std::set<std::string> values;
  std::string_view type;
  std::set<std::string> parsers;
  std::vector<std::string> json_path;  // where `json` last found it: keys from the root
};

// Loki's pattern answer keeps patterns seen this often, the most frequent first, so many.
constexpr int64_t kMinPatternCount = 30;
constexpr size_t kMaxPatterns = 300;
// Lines a patterns request reads at most (the newest are not preferred: streams in order).
constexpr uint64_t kMaxPatternLines = 1'000'000;

// Distinct patterns a request holds at most while counting (of all streams and levels).
constexpr size_t kMaxPatternsHeld = 10'000;

// An entry's level for patterns, one of Loki's (detected_level or level, in its metadata or
// stream labels); anything else is "unknown".
std::string_view PatternLevel(const Labels& stream, std::span<const LabelView> metadata) {
  static const std::map<std::string, std::string_view, std::less<>> kLevels = {
      {"trace", "trace"},      {"debug", "debug"},       {"dbg", "debug"},     {"info", "info"},
      {"information", "info"}, {"warn", "warn"},         {"warning", "warn"},  {"error", "error"},
      {"err", "error"},        {"critical", "critical"}, {"crit", "critical"}, {"fatal", "fatal"}};
  for (std::string_view name : {"detected_level", "level"}) {
    std::optional<std::string_view> v;
    for (const auto& m : metadata) {
      if (m.name == name) v = m.value;
    }
    for (const auto& l : stream) {
      if (!v && l.name == name) v = l.value;
    }
    if (v) {
      auto it = kLevels.find(AsciiLower(*v));
      return it == kLevels.end() ? "unknown" : it->second;
    }
  }
  return "unknown";
}

}  // namespace

void LokiApi::IndexStats(Call& c) {
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  auto matchers = MatchersOnly(c, false);
  if (!matchers) return;
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  auto set = q->Select(*matchers, start, end, {});
  if (!set.ok()) return c.Fail(set.status());
  uint64_t streams = 0, chunks = 0, bytes = 0, entries = 0;
  std::vector<logs::Span> spans;
  for (size_t i = 0; i < (*set)->size(); ++i) {
    spans.clear();
    if (Status st = (*set)->Spans(i, spans); !st.ok()) return c.Fail(st);
    bool any = false;
    for (const logs::Span& s : spans) {
      double f = Overlap(s, start, end);
      if (f <= 0 && (s.max_ts < start || s.min_ts > end)) continue;
      any = true;
      ++chunks;
      entries += static_cast<uint64_t>(static_cast<double>(s.entries) * f);
      bytes += static_cast<uint64_t>(static_cast<double>(s.bytes) * f);
    }
    streams += any;
  }
  c.Send(http::Status::ok, fmt::format(R"({{"streams":{},"chunks":{},"bytes":{},"entries":{}}})"
                                       "\n",
                                       streams, chunks, bytes, entries));
}

void LokiApi::Volume(Call& c, bool range) {
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  auto limit = c.IntParam("limit", 100);
  if (!limit) return;
  if (*limit < 0) return c.Fail(Status::InvalidArgument("limit must be a positive value"));
  if (*limit == 0) *limit = 100;
  std::string aggregate = c.params.Get("aggregateBy").value_or("");
  if (aggregate.empty()) aggregate = "series";
  if (aggregate != "series" && aggregate != "labels") {
    return c.Fail(Status::InvalidArgument("invalid aggregation option"));
  }
  std::vector<std::string> targets;
  if (auto t = c.params.Get("targetLabels"); t && !t->empty()) {
    for (size_t b = 0; b <= t->size();) {
      size_t e = std::min(t->find(',', b), t->size());
      if (e > b) targets.emplace_back(t->substr(b, e - b));
      b = e + 1;
    }
  }
  int64_t step_ms = 0;
  if (range) {
    auto step = c.StepMs(start, end);
    if (!step) return;
    step_ms = *step;
  }
  auto matchers = MatchersOnly(c, true);
  if (!matchers) return;
  std::set<std::string> names;  // the labels a series keeps
  for (const Matcher& m : *matchers) names.insert(m.name());
  if (!targets.empty()) {
    names.clear();
    for (const auto& t : targets) {
      names.insert(t);
      if (std::none_of(matchers->begin(), matchers->end(),
                       [&](const Matcher& m) { return m.name() == t; })) {
        auto any = Matcher::Make(Matcher::Type::kRegex, t, ".+");
        if (!any.ok()) return c.Fail(any.status());
        matchers->push_back(std::move(*any));
      }
    }
  }
  if (end < start) {
    return c.Fail(
        Status::InvalidArgument("end timestamp must not be before or equal to start time"));
  }
  // Buckets: one over [start, end] at `end`; for a range, step-aligned ones from `first`,
  // each stamped at its last millisecond (the last one at `end`).
  const int64_t end_ms = FloorDiv(end, kNsPerMs);
  const int64_t step = range ? SaturatingMul(step_ms, kNsPerMs) : INT64_MAX;
  const int64_t first = range ? SaturatingMul(FloorDiv(start, step), step) : start;
  const int64_t nbuckets = range ? SaturatingSub(end, first) / step + 1 : 1;
  if (nbuckets > opts_.max_points_per_series) {
    return c.Fail(Status::InvalidArgument(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
        "query resolution (?step=XX)"));
  }
  auto bucket_from = [&](int64_t b) { return range ? std::max(first + b * step, start) : start; };
  auto bucket_to = [&](int64_t b) {
    return range && b + 1 < nbuckets ? first + (b + 1) * step - 1 : end;
  };
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  auto set = q->Select(*matchers, start, end, {});
  if (!set.ok()) return c.Fail(set.status());
  std::map<Labels, std::map<int64_t, double>> volumes;  // per series, per bucket met
  std::vector<logs::Span> spans;
  std::vector<Labels> keys;
  for (size_t i = 0; i < (*set)->size(); ++i) {
    spans.clear();
    if (Status st = (*set)->Spans(i, spans); !st.ok()) return c.Fail(st);
    keys.clear();
    const Labels& ls = (*set)->labels(i);
    if (aggregate == "series") {
      Labels key;
      for (const auto& l : ls) {
        if (names.contains(l.name)) key.push_back(l);
      }
      keys.push_back(std::move(key));
    } else {
      for (const auto& l : ls) {
        if (targets.empty() || names.contains(l.name)) keys.push_back({{l.name, ""}});
      }
    }
    // Each span adds its prorated bytes to the buckets it meets.
    for (const logs::Span& s : spans) {
      if (s.max_ts < start || s.min_ts > end) continue;
      const int64_t lo = range ? (std::max(s.min_ts, start) - first) / step : 0;
      const int64_t hi = range ? (std::min(s.max_ts, end) - first) / step : 0;
      for (int64_t b = lo; b <= hi; ++b) {
        double bytes = static_cast<double>(static_cast<uint64_t>(
            static_cast<double>(s.bytes) * Overlap(s, bucket_from(b), bucket_to(b))));
        for (const Labels& key : keys) volumes[key][b] += bytes;
      }
    }
  }
  // Each bucket keeps its `limit` largest, by volume then name.
  std::map<int64_t, std::vector<std::pair<double, const Labels*>>> by_bucket;
  for (const auto& [key, v] : volumes) {
    for (const auto& [b, bytes] : v) by_bucket[b].emplace_back(bytes, &key);
  }
  std::map<Labels, std::vector<Sample>> kept;
  for (auto& [b, in] : by_bucket) {
    std::sort(in.begin(), in.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first > y.first : *x.second < *y.second;
    });
    if (in.size() > static_cast<size_t>(*limit)) in.resize(static_cast<size_t>(*limit));
    const int64_t stamp = std::min(FloorDiv(bucket_to(b), kNsPerMs), end_ms);
    for (const auto& [v, key] : in) kept[*key].push_back({stamp, v});
  }
  promql::QueryResult r;
  r.type = promql::ValueType::kVector;
  for (auto& [key, points] : kept) {
    if (points.size() != 1) r.type = promql::ValueType::kMatrix;
    r.series.push_back({key, std::move(points)});
  }
  std::sort(r.series.begin(), r.series.end(), [](const auto& x, const auto& y) {
    return x.points[0].v != y.points[0].v ? x.points[0].v > y.points[0].v : x.labels < y.labels;
  });
  c.Ok([&](JsonWriter& w) {
    WriteResult(w, r, [&](JsonWriter& w) { WriteLokiStats(w, 0, 0, 0, {}, c.queue_time); });
  });
}

void LokiApi::DetectedLabels(Call& c) {
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  auto matchers = MatchersOnly(c, true);
  if (!matchers) return;
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  auto names = q->LabelNames(*matchers, start, end);
  if (!names.ok()) return c.Fail(names.status());
  static const std::set<std::string_view> kAlways = {"cluster", "namespace", "instance", "pod"};
  std::vector<std::pair<std::string, size_t>> out;
  for (const auto& n : *names) {
    auto values = q->LabelValues(n, *matchers, start, end);
    if (!values.ok()) return c.Fail(values.status());
    if (values->empty()) continue;
    if (!kAlways.contains(n)) {
      // Numbers and UUIDs are IDs, not something to group by; a 0/1 flag is kept.
      double d = 0;
      std::string err;
      bool ids = std::all_of(values->begin(), values->end(), [&](const std::string& v) {
        return ParseGoFloat(v, &d, &err) || IsUuid(v);
      });
      bool flag = values->size() <= 2 &&
                  std::all_of(values->begin(), values->end(),
                              [](const std::string& v) { return v == "0" || v == "1"; });
      if (ids && !flag) continue;
    }
    out.emplace_back(n, values->size());
  }
  JsonWriter w;
  w.BeginObject();
  if (!out.empty()) {
    w.Key("detectedLabels").BeginArray();
    for (const auto& [n, card] : out) {
      w.BeginObject().Key("label").String(n).Key("cardinality").Int(static_cast<int64_t>(card));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  c.Send(http::Status::ok, std::move(w.str()));
}

void LokiApi::DetectedFields(Call& c) {
  std::optional<std::string> only;  // detected_field/<name>/values
  if (c.path != "/loki/api/v1/detected_fields") {
    auto name = LabelNameFromPath(c.path, "/loki/api/v1/detected_field/");
    if (!name.ok()) return c.Fail(name.status());
    only = std::move(*name);
  }
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  auto line_limit =
      c.EntryLimit("line_limit", 100, limits_.For(c.tenant).query.max_entries_limit_per_query);
  if (!line_limit) return;
  auto limit = c.IntParam("limit", 0);
  if (!limit) return;
  if (*limit == 0) {
    limit = c.IntParam("field_limit", 1000);
    if (!limit) return;
  }
  if (*limit <= 0) return c.Fail(Status::InvalidArgument("limit must be a positive value"));
  logql::ExprPtr e = c.ParseQuery();
  if (!e) return;
  if (e->IsMetric()) {
    return c.Fail(Status::InvalidArgument("only log queries are supported"));
  }
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  logql::LogQueryParams p;
  p.start_ns = start;
  p.end_ns = end;
  p.limit = static_cast<size_t>(*line_limit);
  auto r = engine_.SelectLogs(*q, logql::As<logql::LogExpr>(*e), p, Control(c));
  if (!r.ok()) return c.Fail(r.status());

  // Each line is parsed as JSON, else as logfmt; structured metadata and what the query's
  // own parsers found are fields too.
  std::vector<logql::Stage> json(1), logfmt(1);
  json[0].kind = logql::StageKind::kJson;
  logfmt[0].kind = logql::StageKind::kLogfmt;
  auto json_p = logql::Pipeline::Make(json);
  auto logfmt_p = logql::Pipeline::Make(logfmt);
  if (!json_p.ok() || !logfmt_p.ok())
    return c.Fail(Status::Execution("cannot compile the line parsers"));
  std::map<std::string, Field> fields;
  auto add = [&](const std::string& name, const std::string& value, const char* parser) {
    if (name == logql::kErrorLabel || name == logql::kErrorDetailsLabel ||
        name == "__preserve_error__") {
      return;
    }
    auto it = fields.find(name);
    if (it == fields.end()) {
      if (fields.size() >= static_cast<size_t>(*limit)) return;
      it = fields.emplace(name, Field{}).first;
    }
    if (it->second.values.size() < static_cast<size_t>(*limit)) it->second.values.insert(value);
    it->second.type = FieldType(value);
    if (parser != nullptr) it->second.parsers.insert(parser);
  };
  logql::LabelsBuilder lbs;
  lbs.RecordJsonPaths(true);
  std::string line;
  for (const auto& s : r->streams) {
    for (const auto& entry : s.entries) {
      for (const auto& m : entry.metadata) add(m.name, m.value, nullptr);
      for (const auto& m : entry.parsed) add(m.name, m.value, nullptr);
      for (const auto& [pl, name] :
           {std::pair{&*json_p, "json"}, std::pair{&*logfmt_p, "logfmt"}}) {
        lbs.Reset(s.stream, entry.metadata);
        line = entry.line;
        if (!pl->Process(entry.ts_ns, line, lbs) || lbs.HasError()) continue;
        for (const auto& l : lbs.InCategory(logql::LabelsBuilder::Category::kParsed)) {
          add(l.name, l.value, name);
        }
        for (const auto& [label, path] : lbs.json_paths()) {
          if (auto it = fields.find(label); it != fields.end()) it->second.json_path = path;
        }
        break;
      }
    }
  }
  JsonWriter w;
  w.BeginObject();
  if (only) {
    auto it = fields.find(*only);
    if (it != fields.end() && !it->second.values.empty()) {
      w.Key("values").BeginArray();
      for (const auto& v : it->second.values) w.String(v);
      w.EndArray().Key("limit").Int(*limit);
    }
  } else if (!fields.empty()) {
    w.Key("fields").BeginArray();
    for (const auto& [name, f] : fields) {
      w.BeginObject().Key("label").String(name).Key("type").String(f.type);
      w.Key("cardinality").Int(static_cast<int64_t>(f.values.size())).Key("parsers");
      if (f.parsers.empty()) {
        w.Null();
      } else {
        w.BeginArray();
        for (const auto& p : f.parsers) w.String(p);
        w.EndArray();
      }
      if (!f.json_path.empty()) {
        w.Key("jsonPath").BeginArray();
        for (const auto& k : f.json_path) w.String(k);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray().Key("limit").Int(*limit);
  }
  w.EndObject();
  c.Send(http::Status::ok, std::move(w.str()));
}

void LokiApi::Patterns(Call& c) {
  int64_t start = 0, end = 0;
  if (!c.Range(kHourNs, &start, &end)) return;
  auto matchers = MatchersOnly(c, false);
  if (!matchers) return;
  auto step = c.StepMs(start, end);
  if (!step) return;
  int64_t step_s = *step / 1000;
  step_s = std::max<int64_t>(step_s, 10);  // Loki's pattern samples are 10 s apart
  auto q = c.Querier(queryable_, start, end);
  if (!q) return;
  auto set = q->Select(*matchers, start, end, {});
  if (!set.ok()) return c.Fail(set.status());
  // Drain per stream and level, as Loki's pattern ingesters; equal patterns of several
  // streams add up.
  std::map<std::pair<std::string, std::string>, std::map<int64_t, int64_t>> counts;
  uint64_t lines = 0;
  for (size_t i = 0; i < (*set)->size() && lines < kMaxPatternLines; ++i) {
    const Labels& stream = (*set)->labels(i);
    std::map<std::string_view, std::pair<logql::Drain, std::vector<std::map<int64_t, int64_t>>>>
        drains;
    Status st = (*set)->Visit(i, true, [&](const logs::EntryRef& e) {
      if (++lines > kMaxPatternLines) return Status::Cancelled("enough lines");
      auto& [drain, buckets] = drains[PatternLevel(stream, e.metadata)];
      int k = drain.Add(e.line);
      if (k < 0) return Status::Ok();
      if (buckets.size() <= static_cast<size_t>(k)) buckets.resize(static_cast<size_t>(k) + 1);
      ++buckets[static_cast<size_t>(k)][FloorDiv(e.ts_ns / 1'000'000'000, step_s) * step_s];
      return Status::Ok();
    });
    if (!st.ok() && st.code() != Status::Code::kCancelled) return c.Fail(st);
    for (auto& [level, d] : drains) {
      for (size_t k = 0; k < d.second.size(); ++k) {
        std::pair<std::string, std::string> key{d.first.Pattern(k), std::string(level)};
        auto it = counts.find(key);
        if (it == counts.end()) {
          if (counts.size() >= kMaxPatternsHeld) continue;
          it = counts.emplace(std::move(key), std::map<int64_t, int64_t>{}).first;
        }
        for (const auto& [t, n] : d.second[k]) it->second[t] += n;
      }
    }
  }
  struct Found {
    const std::pair<std::string, std::string>* key;
    const std::map<int64_t, int64_t>* samples;
    int64_t total = 0;
  };
  std::vector<Found> found;
  for (const auto& [key, samples] : counts) {
    int64_t total = 0;
    for (const auto& [t, n] : samples) total += n;
    if (total >= kMinPatternCount) found.push_back({&key, &samples, total});
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const Found& a, const Found& b) { return a.total > b.total; });
  if (found.size() > kMaxPatterns) found.resize(kMaxPatterns);
  c.Ok([&](JsonWriter& w) {
    w.BeginArray();
    for (const Found& f : found) {
      w.BeginObject().Key("pattern").String(f.key->first).Key("level").String(f.key->second);
      w.Key("samples").BeginArray();
      for (const auto& [t, n] : *f.samples) w.BeginArray().Int(t).Int(n).EndArray();
      w.EndArray().EndObject();
    }
    w.EndArray();
  });
}

}  // namespace strata::api
