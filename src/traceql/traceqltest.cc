#include "traceql/traceqltest.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/labels.h"
#include "base/units.h"
#include "proto/otlp.h"
#include "traceql/engine.h"
#include "traceql/metrics.h"
#include "traceql/parser.h"
#include "traceql/trace.h"

namespace strata::traceql {

namespace {

// `key=value` words of a line, values in Go's double quotes when they hold spaces.
Result<std::vector<std::string>> Words(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    std::string word;
    while (i < line.size() && line[i] != ' ') {
      if (line[i] == '"') {
        size_t j = i + 1;
        while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
        if (j >= line.size())
          return Status::InvalidArgument("unterminated quote: " + std::string(line));
        word += line.substr(i, j + 1 - i);
        i = j + 1;
      } else {
        word += line[i++];
      }
    }
    out.push_back(std::move(word));
  }
  return out;
}

// A value as OTLP/JSON writes an AnyValue: "quoted" strings, true/false, ints, numbers with a
// point or an exponent, other words as strings.
Result<std::string> AnyValue(std::string_view v) {
  std::string out;
  if (v.starts_with('"')) {
    ASSIGN_OR_RETURN(std::string s, GoUnquote(v));
    out = R"({"stringValue":)";
    AppendJsonString(out, s);
    return out + "}";
  }
  if (v == "true" || v == "false") return fmt::format(R"({{"boolValue":{}}})", v);
  int64_t i = 0;
  if (auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
      ec == std::errc() && p == v.data() + v.size()) {
    return fmt::format(R"({{"intValue":"{}"}})", i);
  }
  double d = 0;
  std::string err;
  if (v.find_first_of(".eE") != std::string_view::npos && ParseGoFloat(v, &d, &err)) {
    return fmt::format(R"({{"doubleValue":{}}})", FormatSampleValue(d));
  }
  out = R"({"stringValue":)";
  AppendJsonString(out, v);
  return out + "}";
}

std::string Unquoted(std::string_view v) {
  if (!v.starts_with('"')) return std::string(v);
  auto s = GoUnquote(v);
  return s.ok() ? *s : std::string(v);
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::string out = "[";
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"key":)";
    AppendJsonString(out, kvs[i].first);
    out += R"(,"value":)" + kvs[i].second + "}";
  }
  return out + "]";
}

std::string TraceIdHex(int n) { return fmt::format("{:032x}", n); }
std::string SpanIdHex(char c) { return fmt::format("{:02x}01010101010101", c); }

struct EventSpec {
  std::string name;
  int64_t time_ns = 0;
  std::vector<std::pair<std::string, std::string>> attrs;
};
struct LinkSpec {
  int trace = 0;
  char span = 0;
  std::vector<std::pair<std::string, std::string>> attrs;
};
struct SpanSpec {
  char id = 0;
  char parent = 0;
  std::string service, scope, scope_version, name, message;
  int kind = 0, status = 0;
  int64_t start_ns = 0, end_ns = 0;
  std::vector<std::pair<std::string, std::string>> attrs, resource, scope_attrs;
  std::vector<EventSpec> events;
  std::vector<LinkSpec> links;
};
struct TraceSpec {
  int number = 0;
  std::vector<SpanSpec> spans;
};

Result<int64_t> TimeOf(std::string_view v) {
  int64_t ns = 0;
  if (!ParsePromOrGoDuration(v, &ns)) {
    return Status::InvalidArgument(fmt::format("invalid time \"{}\"", v));
  }
  return ns;
}

// `span <ID> key=value...`: parent, service, scope, scope_version, name, kind, status, message,
// start, end, and span.<attr>, resource.<attr>, scope.<attr>.
Result<SpanSpec> ParseSpan(const std::vector<std::string>& words) {
  if (words.size() < 2 || words[1].size() != 1) {
    return Status::InvalidArgument("want span <one-letter ID> key=value...");
  }
  static const std::map<std::string, int, std::less<>> kKinds = {
      {"unspecified", 0}, {"internal", 1}, {"server", 2},
      {"client", 3},      {"producer", 4}, {"consumer", 5}};
  static const std::map<std::string, int, std::less<>> kStatuses = {
      {"unset", 0}, {"ok", 1}, {"error", 2}};
  SpanSpec s;
  s.id = words[1][0];
  for (size_t i = 2; i < words.size(); ++i) {
    const size_t eq = words[i].find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("want key=value: " + words[i]);
    const std::string key = words[i].substr(0, eq);
    const std::string_view value = std::string_view(words[i]).substr(eq + 1);
    if (key == "parent") {
      s.parent = value.empty() ? 0 : value[0];
    } else if (key == "service") {
      s.service = Unquoted(value);
    } else if (key == "scope") {
      s.scope = Unquoted(value);
    } else if (key == "scope_version") {
      s.scope_version = Unquoted(value);
    } else if (key == "name") {
      s.name = Unquoted(value);
    } else if (key == "message") {
      s.message = Unquoted(value);
    } else if (key == "kind") {
      auto it = kKinds.find(value);
      if (it == kKinds.end()) return Status::InvalidArgument("unknown kind " + std::string(value));
      s.kind = it->second;
    } else if (key == "status") {
      auto it = kStatuses.find(value);
      if (it == kStatuses.end()) {
        return Status::InvalidArgument("unknown status " + std::string(value));
      }
      s.status = it->second;
    } else if (key == "start") {
      ASSIGN_OR_RETURN(s.start_ns, TimeOf(value));
    } else if (key == "end") {
      ASSIGN_OR_RETURN(s.end_ns, TimeOf(value));
    } else if (key.starts_with("span.")) {
      ASSIGN_OR_RETURN(std::string v, AnyValue(value));
      s.attrs.emplace_back(key.substr(5), std::move(v));
    } else if (key.starts_with("resource.")) {
      ASSIGN_OR_RETURN(std::string v, AnyValue(value));
      s.resource.emplace_back(key.substr(9), std::move(v));
    } else if (key.starts_with("scope.")) {
      ASSIGN_OR_RETURN(std::string v, AnyValue(value));
      s.scope_attrs.emplace_back(key.substr(6), std::move(v));
    } else {
      return Status::InvalidArgument("unknown span key " + key);
    }
  }
  if (s.end_ns < s.start_ns) return Status::InvalidArgument("a span ends before it starts");
  return s;
}

// `event <span> name=... at=<time> <attr>=<value>...` and
// `link <span> trace=<n> span=<ID> <attr>=<value>...`.
Status ParseEventOrLink(const std::vector<std::string>& words, TraceSpec& t) {
  if (words.size() < 2 || words[1].size() != 1) {
    return Status::InvalidArgument("want " + words[0] + " <span ID> key=value...");
  }
  auto span = std::find_if(t.spans.begin(), t.spans.end(),
                           [&](const SpanSpec& s) { return s.id == words[1][0]; });
  if (span == t.spans.end()) return Status::InvalidArgument("no span " + words[1]);
  EventSpec e;
  LinkSpec l;
  for (size_t i = 2; i < words.size(); ++i) {
    const size_t eq = words[i].find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("want key=value: " + words[i]);
    const std::string key = words[i].substr(0, eq);
    const std::string_view value = std::string_view(words[i]).substr(eq + 1);
    if (words[0] == "event" && key == "name") {
      e.name = Unquoted(value);
    } else if (words[0] == "event" && key == "at") {
      ASSIGN_OR_RETURN(e.time_ns, TimeOf(value));
    } else if (words[0] == "link" && key == "trace") {
      if (auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), l.trace);
          ec != std::errc() || p != value.data() + value.size()) {
        return Status::InvalidArgument("want trace=<number>: " + words[i]);
      }
    } else if (words[0] == "link" && key == "span") {
      l.span = value.empty() ? 0 : value[0];
    } else {
      ASSIGN_OR_RETURN(std::string v, AnyValue(value));
      (words[0] == "event" ? e.attrs : l.attrs).emplace_back(key, std::move(v));
    }
  }
  if (words[0] == "event") {
    span->events.push_back(std::move(e));
  } else {
    span->links.push_back(std::move(l));
  }
  return Status::Ok();
}

// The trace as an OTLP/JSON request: spans grouped by resource (service and resource
// attributes) and scope, in the order they were loaded.
std::string TraceJson(const TraceSpec& t) {
  std::vector<
      std::pair<std::string, std::vector<std::pair<std::string, std::vector<const SpanSpec*>>>>>
      resources;
  for (const SpanSpec& s : t.spans) {
    auto resource_attrs = s.resource;
    if (!s.service.empty()) {
      resource_attrs.insert(resource_attrs.begin(),
                            {"service.name", *AnyValue(fmt::format("\"{}\"", s.service))});
    }
    std::string resource = fmt::format(R"({{"attributes":{}}})", KeyValues(resource_attrs));
    std::string scope = R"({"name":)";
    AppendJsonString(scope, s.scope);
    scope += R"(,"version":)";
    AppendJsonString(scope, s.scope_version);
    scope += R"(,"attributes":)" + KeyValues(s.scope_attrs) + "}";
    auto r = std::find_if(resources.begin(), resources.end(),
                          [&](const auto& x) { return x.first == resource; });
    if (r == resources.end()) r = resources.insert(resources.end(), {resource, {}});
    auto sc = std::find_if(r->second.begin(), r->second.end(),
                           [&](const auto& x) { return x.first == scope; });
    if (sc == r->second.end()) sc = r->second.insert(r->second.end(), {scope, {}});
    sc->second.push_back(&s);
  }
  std::string out = R"({"resourceSpans":[)";
  for (size_t ri = 0; ri < resources.size(); ++ri) {
    if (ri > 0) out += ',';
    out += R"({"resource":)" + resources[ri].first + R"(,"scopeSpans":[)";
    for (size_t si = 0; si < resources[ri].second.size(); ++si) {
      if (si > 0) out += ',';
      out += R"({"scope":)" + resources[ri].second[si].first + R"(,"spans":[)";
      const auto& spans = resources[ri].second[si].second;
      for (size_t k = 0; k < spans.size(); ++k) {
        const SpanSpec& s = *spans[k];
        if (k > 0) out += ',';
        out += fmt::format(R"({{"traceId":"{}","spanId":"{}",)", TraceIdHex(t.number),
                           SpanIdHex(s.id));
        if (s.parent != 0) out += fmt::format(R"("parentSpanId":"{}",)", SpanIdHex(s.parent));
        out += R"("name":)";
        AppendJsonString(out, s.name);
        out += fmt::format(R"(,"kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}",)", s.kind,
                           s.start_ns, s.end_ns);
        out += R"("attributes":)" + KeyValues(s.attrs);
        out += R"(,"events":[)";
        for (size_t e = 0; e < s.events.size(); ++e) {
          if (e > 0) out += ',';
          out += fmt::format(R"({{"timeUnixNano":"{}","name":)", s.events[e].time_ns);
          AppendJsonString(out, s.events[e].name);
          out += R"(,"attributes":)" + KeyValues(s.events[e].attrs) + "}";
        }
        out += R"(],"links":[)";
        for (size_t l = 0; l < s.links.size(); ++l) {
          if (l > 0) out += ',';
          out += fmt::format(R"({{"traceId":"{}","spanId":"{}","attributes":{}}})",
                             TraceIdHex(s.links[l].trace), SpanIdHex(s.links[l].span),
                             KeyValues(s.links[l].attrs));
        }
        out += fmt::format(R"(],"status":{{"code":{})", s.status);
        if (!s.message.empty()) {
          out += R"(,"message":)";
          AppendJsonString(out, s.message);
        }
        out += "}}";
      }
      out += "]}";
    }
    out += "]}";
  }
  return out + "]}";
}

// A label value of a metrics series as text: strings as they are, numbers shortest.
std::string LabelText(const Static& v) {
  switch (v.type) {
    case StaticType::kString:
      return v.s;
    case StaticType::kInt:
      return std::to_string(v.i);
    case StaticType::kFloat:
      return FormatSampleValue(v.f);
    default:
      return v.String();
  }
}

class Runner {
 public:
  Runner(std::string_view name, std::ostream& out) : name_(name), out_(out) {}

  Result<promql::PromqlTestSummary> Run(std::string_view script) {
    RETURN_IF_ERROR(promql::ForEachScriptCommand(
        script, name_, [&](const std::string& l, const std::vector<std::string>& body, int n) {
          if (l == "clear") {
            traces_.clear();
            return Status::Ok();
          }
          if (l == "load") return Load(body);
          if (l.starts_with("eval search ") || l.starts_with("eval_fail search ")) {
            return EvalSearch(l, body, n);
          }
          if (l.starts_with("eval")) return EvalMetrics(l, body, n);
          return Status::InvalidArgument("unknown command");
        }));
    return summary_;
  }

 private:
  Status Load(const std::vector<std::string>& body) {
    std::vector<TraceSpec> specs;
    for (const auto& l : body) {
      ASSIGN_OR_RETURN(std::vector<std::string> words, Words(l));
      if (words.empty()) continue;
      if (words[0] == "trace") {
        int number = 0;
        auto [p, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), number);
        if (words.size() != 2 || ec != std::errc() || p != words[1].data() + words[1].size()) {
          return Status::InvalidArgument("want trace <number>: " + l);
        }
        specs.push_back({number, {}});
        continue;
      }
      if (specs.empty()) return Status::InvalidArgument("a span before any trace");
      if (words[0] == "span") {
        ASSIGN_OR_RETURN(SpanSpec s, ParseSpan(words));
        specs.back().spans.push_back(std::move(s));
      } else if (words[0] == "event" || words[0] == "link") {
        RETURN_IF_ERROR(ParseEventOrLink(words, specs.back()));
      } else {
        return Status::InvalidArgument("unknown load line: " + l);
      }
    }
    for (const TraceSpec& spec : specs) {
      ASSIGN_OR_RETURN(std::string raw,
                       proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, TraceJson(spec)));
      // An ExportTraceServiceRequest is a TracesData on the wire (resource_spans, field 1).
      ASSIGN_OR_RETURN(Trace t, DecodeTrace(raw));
      traces_.emplace_back(spec.number, std::move(t));
    }
    return Status::Ok();
  }

  void Record(int line, std::string_view query, const std::string& why) {
    promql::RecordTestEval(summary_, out_, name_, line, query, why);
  }

  // A query parsed and validated, or the error.
  static Result<std::unique_ptr<RootExpr>> Compile(const std::string& query) {
    ASSIGN_OR_RETURN(auto root, Parse(query));
    Status st = Validate(*root);
    if (!st.ok()) return Status::InvalidArgument(st.message());
    return root;
  }

  // eval[_fail] search <query>: expected lines `<trace>: <span IDs> [| <span IDs>...]`, the
  // traces that match in load order, each spanset's spans by ID, spansets sorted.
  Status EvalSearch(const std::string& line, const std::vector<std::string>& body, int n) {
    const bool fail = line.starts_with("eval_fail");
    const std::string query = line.substr(line.find("search ") + 7);
    promql::EvalCmd expect;
    std::vector<std::string> want;
    for (const auto& l : body) {
      if (l.starts_with("expected_fail_")) {
        RETURN_IF_ERROR(promql::ParseTestEval("eval_fail instant at 0s x", {l}, n, expect));
      } else {
        want.push_back(l);
      }
    }
    auto root = Compile(query);
    if (root.ok() && (*root)->metrics) {
      root = Status::InvalidArgument("a metrics query: use eval instant or eval range");
    }
    if (fail) {
      Record(n, query, promql::CheckTestFailure(expect, root.status()));
      return Status::Ok();
    }
    if (!root.ok()) {
      Record(n, query, "unexpected error: " + std::string(root.status().message()));
      return Status::Ok();
    }
    SearchEvaluator eval((*root)->pipeline);
    std::vector<std::string> got;
    for (const auto& [number, t] : traces_) {
      std::vector<std::string> sets;
      for (const Spanset& ss : eval.Eval(t)) {
        std::vector<char> ids(ss.spans.size());
        for (size_t k = 0; k < ids.size(); ++k) {
          ids[k] = t.spans[static_cast<size_t>(ss.spans[k])].span_id[0];
        }
        std::sort(ids.begin(), ids.end());
        std::string set;
        for (char c : ids) set += (set.empty() ? "" : " ") + std::string(1, c);
        sets.push_back(set);
      }
      if (sets.empty()) continue;
      std::sort(sets.begin(), sets.end());
      std::string rendered = fmt::format("{}:", number);
      for (size_t i = 0; i < sets.size(); ++i) rendered += (i > 0 ? " | " : " ") + sets[i];
      got.push_back(rendered);
    }
    std::string why;
    if (got != want) {
      why = fmt::format("expected [{}], got [{}]", fmt::join(want, "; "), fmt::join(got, "; "));
    }
    Record(n, query, why);
    return Status::Ok();
  }

  // eval[_fail] instant from <t> to <t> <query>, eval[_fail] range from <t> to <t> step <d>
  // <query>: promqltest's expected series.
  Status EvalMetrics(const std::string& line, const std::vector<std::string>& body, int n) {
    static const RE2 kInstant(R"((eval\S*) instant from (\S+) to (\S+) (.+))");
    std::string verb, from, to, query;
    promql::EvalCmd cmd;
    int64_t from_ns = 0;
    if (RE2::FullMatch(line, kInstant, &verb, &from, &to, &query)) {
      ASSIGN_OR_RETURN(from_ns, TimeOf(from));
      RETURN_IF_ERROR(
          promql::ParseTestEval(fmt::format("{} instant at {} {}", verb, to, query), body, n, cmd));
    } else {
      RETURN_IF_ERROR(promql::ParseTestEval(line, body, n, cmd));
      if (!cmd.range) return Status::InvalidArgument("want eval instant from <t> to <t>");
      if (cmd.step <= 0 || cmd.end <= cmd.start) {
        return Status::InvalidArgument("want a positive step and from before to: " + line);
      }
    }
    Record(n, cmd.query, promql::CheckTestOutcome(cmd, Metrics(cmd, from_ns)));
    return Status::Ok();
  }

  Result<promql::QueryResult> Metrics(const promql::EvalCmd& cmd, int64_t from_ns) {
    ASSIGN_OR_RETURN(auto root, Compile(cmd.query));
    if (!root->metrics) return Status::InvalidArgument("not a metrics query");
    constexpr int64_t kMs = 1'000'000;
    const Intervals iv = cmd.range
                             ? Intervals::Range(cmd.start * kMs, cmd.end * kMs, cmd.step * kMs)
                             : Intervals::Instant(from_ns, cmd.start * kMs);
    MetricsEvaluator eval(*root->metrics, iv, 100'000);
    for (const auto& [number, t] : traces_) eval.Observe(t);
    promql::QueryResult r;
    r.type = cmd.range ? promql::ValueType::kMatrix : promql::ValueType::kVector;
    for (const Series& s : eval.Result()) {
      promql::ResultSeries out;
      for (const auto& [k, v] : s.labels) out.labels.push_back({k, LabelText(v)});
      std::sort(out.labels.begin(), out.labels.end());
      for (size_t i = 0; i < s.values.size(); ++i) {
        if (!std::isnan(s.values[i])) {
          out.points.push_back({iv.EndOf(static_cast<int64_t>(i)) / kMs, s.values[i]});
        }
      }
      r.series.push_back(std::move(out));
    }
    return r;
  }

  std::string name_;
  std::ostream& out_;
  std::vector<std::pair<int, Trace>> traces_;
  promql::PromqlTestSummary summary_;
};

}  // namespace

Result<promql::PromqlTestSummary> RunTraceqlTest(std::string_view script, std::string_view name,
                                                 std::ostream& out) {
  Runner r(name, out);
  return r.Run(script);
}

}  // namespace strata::traceql
