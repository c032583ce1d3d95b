#include "api/tempo_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "api/request.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/labels.h"
#include "base/math.h"
#include "base/units.h"
#include "http/status_map.h"
#include "proto/otlp_traces.h"
#include "proto/wire.h"
#include "traceql/engine.h"
#include "traceql/metrics.h"
#include "traceql/parser.h"
#include "traceql/prefilter.h"
#include "traceql/trace.h"
#include "traces/search_filter.h"

namespace strata::api {
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kProtobuf = "application/protobuf";

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A Unix-seconds parameter as Go's strconv.ParseInt reads it, with its error text.
Result<std::optional<int64_t>> SecondsParam(const Params& p, std::string_view key) {
  auto v = p.Get(key);
  if (!v || v->empty()) return std::optional<int64_t>();
  // Go's ParseInt takes one sign, '+' included, which from_chars does not.
  std::string_view digits = *v;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) {
    return std::optional<int64_t>(out);
  }
  return Status::InvalidArgument(
      fmt::format("invalid {}: strconv.ParseInt: parsing {}: {}", key, GoQuote(*v),
                  ec == std::errc::result_out_of_range ? "value out of range" : "invalid syntax"));
}

// The optional `start` and `end` parameters (Unix seconds), end after start.
struct TimeRange {
  std::optional<int64_t> start, end;
};
Result<TimeRange> TimeRangeParams(const Params& p) {
  ASSIGN_OR_RETURN(auto start, SecondsParam(p, "start"));
  ASSIGN_OR_RETURN(auto end, SecondsParam(p, "end"));
  if (start && end && *end <= *start) {
    return Status::InvalidArgument(fmt::format(
        "http parameter start must be before end. received start={} end={}", *start, *end));
  }
  return TimeRange{start, end};
}

// Tempo's defaults: 20 traces, 3 spans per spanset. A search holds what it reads until it has
// joined each trace's parts: at most 256 MiB of stored traces.
constexpr int64_t kDefaultSearchLimit = 20;
constexpr int64_t kDefaultSpansPerSpanset = 3;
constexpr uint64_t kMaxSearchBytes = uint64_t{256} << 20;
// A metrics query answers at most 10,000 intervals (Tempo's max_intervals) and holds at most
// 2M cells (series x intervals, 40 bytes each): past that, later series are left out and the
// answer is PARTIAL.
constexpr int64_t kMaxMetricsIntervals = 10'000;
// Metrics queries take times up to 4e18 ns (the year 2096), so that aligning them to a step of
// up to as much stays within int64.
constexpr int64_t kMaxMetricsTimeNs = 4'000'000'000'000'000'000;
constexpr int64_t kMaxMetricsCells = 2'000'000;
// Tag lookups without start and end read the last hour.
constexpr int64_t kTagDefaultRangeNs = int64_t{3600} * 1'000'000'000;

// A positive count parameter, or `fallback` when absent.
Result<int64_t> CountParam(const Params& p, std::string_view key, int64_t fallback) {
  auto v = p.Get(key);
  if (!v || v->empty()) return fallback;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size() || out <= 0) {
    return Status::InvalidArgument(fmt::format("invalid {}: must be a positive number", key));
  }
  return out;
}

// A Go duration parameter (minDuration, maxDuration) in nanoseconds; 0 when absent.
Result<int64_t> DurationParam(const Params& p, std::string_view key) {
  auto v = p.Get(key);
  if (!v || v->empty()) return int64_t{0};
  int64_t ns = 0;
  if (!ParseGoDuration(*v, &ns)) {
    return Status::InvalidArgument(
        fmt::format("invalid {}: time: invalid duration {}", key, GoQuote(*v)));
  }
  return ns;
}

int64_t SecondsToNanos(int64_t s) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1'000'000'000;
  return std::clamp(s, -kMax, kMax) * 1'000'000'000;
}

// An attribute value as OTLP/JSON writes an AnyValue.
void AnyValueJson(JsonWriter& w, const traceql::Static& v) {
  w.BeginObject();
  switch (v.type) {
    case traceql::StaticType::kString:
      w.Key("stringValue").String(v.s);
      break;
    case traceql::StaticType::kInt:
      w.Key("intValue").String(std::to_string(v.i));
      break;
    case traceql::StaticType::kFloat:
      if (std::isfinite(v.f)) {
        w.Key("doubleValue").Number(v.f);
      } else {
        w.Key("doubleValue").String(FormatFloatF(v.f));
      }
      break;
    case traceql::StaticType::kBoolean:
      w.Key("boolValue").Bool(v.i != 0);
      break;
    default:
      w.Key("stringValue").String(v.String());
  }
  w.EndObject();
}

// The attributes (not intrinsics) a query's filters, aggregates, by() and select() name:
// what a search returns of each span, as Tempo returns the attributes it fetched.
class Referenced {
 public:
  explicit Referenced(const traceql::Pipeline& p) { Add(p); }
  const std::vector<traceql::Attribute>& attrs() const { return attrs_; }

 private:
  void Add(const traceql::Attribute& a) {
    if (a.intrinsic != traceql::Intrinsic::kNone) return;
    if (std::find(attrs_.begin(), attrs_.end(), a) == attrs_.end()) attrs_.push_back(a);
  }
  void Add(const traceql::FieldExpr& e) {
    if (e.kind == traceql::FieldExpr::Kind::kAttribute) Add(e.attr);
    if (e.lhs) Add(*e.lhs);
    if (e.rhs) Add(*e.rhs);
  }
  void Add(const traceql::SpansetExpr& e) {
    if (e.filter) Add(*e.filter);
    if (e.lhs) Add(*e.lhs);
    if (e.rhs) Add(*e.rhs);
    if (e.pipeline) Add(*e.pipeline);
  }
  void Add(const traceql::ScalarExpr& e) {
    if (e.agg_expr) Add(*e.agg_expr);
    if (e.lhs) Add(*e.lhs);
    if (e.rhs) Add(*e.rhs);
    if (e.pipeline) Add(*e.pipeline);
  }
  void Add(const traceql::Pipeline& p) {
    for (const traceql::Element& el : p.elements) {
      if (el.spanset) Add(*el.spanset);
      if (el.scalar_filter.lhs) Add(*el.scalar_filter.lhs);
      if (el.scalar_filter.rhs) Add(*el.scalar_filter.rhs);
      if (el.group) Add(*el.group);
      if (el.aggregate) Add(*el.aggregate);
      for (const traceql::Attribute& a : el.select) Add(a);
    }
  }
  std::vector<traceql::Attribute> attrs_;
};

// One trace of a search's answer: TraceSearchMetadata as jsonpb writes it.
std::string TraceMatchJson(const traceql::Trace& t, const std::vector<traceql::Spanset>& sets,
                           const std::vector<traceql::Attribute>& attrs, size_t spss) {
  auto spanset = [&](JsonWriter& w, const traceql::Spanset& ss) {
    std::vector<int32_t> spans = ss.spans;
    std::sort(spans.begin(), spans.end(), [&t](int32_t a, int32_t b) {
      const auto& x = t.spans[static_cast<size_t>(a)];
      const auto& y = t.spans[static_cast<size_t>(b)];
      return std::tie(x.start_ns, x.span_id) < std::tie(y.start_ns, y.span_id);
    });
    w.BeginObject().Key("spans").BeginArray();
    for (size_t i = 0; i < spans.size() && i < spss; ++i) {
      const traceql::Span& s = t.spans[static_cast<size_t>(spans[i])];
      w.BeginObject();
      w.Key("spanID").String(traceql::HexId(s.span_id));
      if (!s.name.empty()) w.Key("name").String(s.name);
      w.Key("startTimeUnixNano").String(std::to_string(s.start_ns));
      w.Key("durationNanos").String(std::to_string(s.end_ns - s.start_ns));
      bool any = false;
      for (const traceql::Attribute& a : attrs) {
        traceql::Static v = traceql::Lookup(t, s, a, -1, -1);
        if (v.type == traceql::StaticType::kNil) continue;
        if (!any) w.Key("attributes").BeginArray();
        any = true;
        w.BeginObject().Key("key").String(a.name).Key("value");
        AnyValueJson(w, v);
        w.EndObject();
      }
      if (any) w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.Key("matched").Int(static_cast<int64_t>(spans.size()));
    if (!ss.attrs.empty()) {
      w.Key("attributes").BeginArray();
      for (const auto& [name, v] : ss.attrs) {
        w.BeginObject().Key("key").String(name).Key("value");
        AnyValueJson(w, v);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  };
  JsonWriter w;
  std::string id = traceql::HexId(t.id);
  id.erase(0, std::min(id.find_first_not_of('0'), id.size()));
  w.BeginObject().Key("traceID").String(id);
  w.Key("rootServiceName")
      .String(t.root_service.empty() ? "<root span not yet received>" : t.root_service);
  if (!t.root_name.empty()) w.Key("rootTraceName").String(t.root_name);
  w.Key("startTimeUnixNano").String(std::to_string(t.start_ns));
  if (const int64_t ms = (t.end_ns - t.start_ns) / 1'000'000; ms > 0) w.Key("durationMs").Int(ms);
  w.Key("spanSet");
  spanset(w, sets.front());
  w.Key("spanSets").BeginArray();
  for (const traceql::Spanset& ss : sets) spanset(w, ss);
  w.EndArray().EndObject();
  return std::move(w.str());
}

// What tag lookups answer: distinct (scope or type, name or value) pairs, at most
// kMaxTagBytes of them in all (Tempo's max_bytes_per_tag_values_query), at most `max_count`
// and, with `max_stale`, until that many pairs in a row were already known. Past that the
// lookup stops and answers what it has, as Tempo's does.
constexpr size_t kMaxTagBytes = 1'000'000;
class Distinct {
 public:
  Distinct(size_t max_count, size_t max_stale) : max_count_(max_count), max_stale_(max_stale) {}

  // False once full: the lookup can stop.
  bool Add(std::string_view kind, std::string_view value) {
    if (full_) return false;
    auto key = std::make_pair(std::string(kind), std::string(value));
    if (entries_.contains(key)) {
      full_ = max_stale_ > 0 && ++stale_ >= max_stale_;
      return !full_;
    }
    stale_ = 0;
    const size_t size = kind.size() + value.size();
    if (bytes_ + size >= kMaxTagBytes || (max_count_ > 0 && entries_.size() >= max_count_)) {
      full_ = true;
      return false;
    }
    bytes_ += size;
    entries_.insert(std::move(key));
    return true;
  }
  const std::set<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  const size_t max_count_, max_stale_;
  std::set<std::pair<std::string, std::string>> entries_;
  size_t bytes_ = 0, stale_ = 0;
  bool full_ = false;
};

// The tag names of Tempo's intrinsic scope, in Tempo's order (its autocomplete list).
constexpr std::array<std::string_view, 25> kIntrinsicTags = {"duration",
                                                             "name",
                                                             "status",
                                                             "statusMessage",
                                                             "kind",
                                                             "rootServiceName",
                                                             "rootName",
                                                             "traceDuration",
                                                             "event:name",
                                                             "event:timeSinceStart",
                                                             "link:spanID",
                                                             "link:traceID",
                                                             "instrumentation:name",
                                                             "instrumentation:version",
                                                             "trace:id",
                                                             "span:id",
                                                             "span:parentID",
                                                             "span:status",
                                                             "span:statusMessage",
                                                             "span:duration",
                                                             "span:name",
                                                             "span:kind",
                                                             "trace:rootName",
                                                             "trace:rootService",
                                                             "trace:duration"};

// The attribute an older (v1) tag values lookup reads: intrinsics by their old names, the
// attributes Tempo keeps in dedicated columns in their scope, others unscoped.
traceql::Attribute V1TagAttribute(const std::string& tag) {
  using traceql::Attribute;
  using traceql::Intrinsic;
  static const std::map<std::string, Intrinsic, std::less<>> kIntrinsics = {
      {"name", Intrinsic::kName},
      {"status.code", Intrinsic::kStatus},
      {"rootName", Intrinsic::kTraceRootSpan},
      {"rootServiceName", Intrinsic::kTraceRootService},
      {"trace:id", Intrinsic::kTraceId},
      {"span:id", Intrinsic::kSpanId}};
  static const std::set<std::string, std::less<>> kResource = {
      "service.name",      "cluster",          "namespace",          "pod",
      "container",         "k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name",
      "k8s.container.name"};
  static const std::set<std::string, std::less<>> kSpan = {"http.method", "http.url",
                                                           "http.status_code"};
  if (auto it = kIntrinsics.find(tag); it != kIntrinsics.end()) return Attribute::Of(it->second);
  Attribute a;
  a.name = tag;
  if (kResource.contains(tag)) a.scope = traceql::Scope::kResource;
  if (kSpan.contains(tag)) a.scope = traceql::Scope::kSpan;
  return a;
}

// A tag value as Tempo writes it: strings raw, others as TraceQL prints them.
std::string ValueText(const traceql::Static& v) {
  if (v.type == traceql::StaticType::kString) return v.s;
  if (v.type == traceql::StaticType::kInt) return std::to_string(v.i);
  return v.String();
}

// The type Tempo's v2 lookup gives a tag value; empty for values it does not offer.
std::string_view ValueType(const traceql::Static& v) {
  switch (v.type) {
    case traceql::StaticType::kString:
      return "string";
    case traceql::StaticType::kInt:
      return "int";
    case traceql::StaticType::kFloat:
      return "float";
    case traceql::StaticType::kBoolean:
      return "bool";
    case traceql::StaticType::kDuration:
      return "duration";
    case traceql::StaticType::kStatus:
      return "keyword";
    default:
      return "";
  }
}

// The values Tempo answers for some intrinsics without reading any trace (by the name they
// are asked by: `trace:duration` is read, `traceDuration` is not); nullopt for others.
std::optional<std::vector<std::string_view>> VirtualValues(std::string_view tag,
                                                           const traceql::Attribute& a) {
  using traceql::Intrinsic;
  if (tag == "status" || tag == "span:status") {
    return std::vector<std::string_view>{"ok", "error", "unset"};
  }
  if (tag == "kind" || tag == "span:kind") {
    return std::vector<std::string_view>{"client",   "server",   "producer",
                                         "consumer", "internal", "unspecified"};
  }
  if (tag == "duration" || tag == "span:duration" || tag == "traceDuration") {
    return std::vector<std::string_view>{};
  }
  switch (a.intrinsic) {
    case Intrinsic::kTraceId:
    case Intrinsic::kSpanId:
    case Intrinsic::kParentId:
    case Intrinsic::kLinkSpanId:
    case Intrinsic::kLinkTraceId:
      return std::vector<std::string_view>{};  // IDs are never offered
    default:
      return std::nullopt;
  }
}

// An optional count parameter as Go's strconv.ParseUint reads it; 0 when absent.
Result<size_t> UintParam(const Params& p, std::string_view key) {
  auto v = p.Get(key);
  if (!v) return size_t{0};
  uint32_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec == std::errc() && ptr == v->data() + v->size() && !v->empty()) return size_t{out};
  return Status::InvalidArgument(
      fmt::format("invalid {}: strconv.ParseUint: parsing {}: {}", key, GoQuote(*v),
                  ec == std::errc::result_out_of_range ? "value out of range" : "invalid syntax"));
}

// The query narrowing a tag lookup, as Tempo narrows it: the first stage of `q` when that is
// a spanset filter; null (every span) when `q` is absent, does not parse or starts otherwise.
std::unique_ptr<traceql::RootExpr> TagFilter(std::optional<std::string> q) {
  if (!q || q->empty()) return nullptr;
  auto root = traceql::Parse(*q);
  if (!root.ok() || !traceql::Validate(**root).ok() || (*root)->metrics) return nullptr;
  std::vector<traceql::Element>& elements = (*root)->pipeline.elements;
  if (elements.empty() || !elements[0].spanset ||
      elements[0].spanset->kind != traceql::SpansetExpr::Kind::kFilter) {
    return nullptr;
  }
  elements.resize(1);
  return std::move(*root);
}

// A TraceQL metrics query's time frame, as Tempo reads its parameters: `start` and `end` as
// Loki reads times (float or integer seconds, nanoseconds, RFC 3339), `end` now and `start`
// `since` (1h) before it by default; a range query's `step` in seconds or as a Go duration,
// about 240 samples by default. Errors are Tempo's texts.
Result<traceql::Intervals> MetricsIntervals(const Params& p, bool instant) {
  const int64_t now = NowNanos();
  auto time_param = [&](std::string_view key, int64_t fallback) -> Result<int64_t> {
    auto v = p.Get(key);
    if (!v || v->empty()) return std::clamp<int64_t>(fallback, 0, kMaxMetricsTimeNs);
    auto t = ParseLokiTime(*v);
    if (t.ok() && *t > kMaxMetricsTimeNs) {
      t = Status::InvalidArgument("a time after the year 2096");
    }
    if (!t.ok()) {
      return Status::InvalidArgument(
          fmt::format("could not parse '{}' parameter: {}", key, t.status().message()));
    }
    return std::max<int64_t>(*t, 0);
  };
  ASSIGN_OR_RETURN(const int64_t end, time_param("end", now));
  int64_t since = int64_t{3600} * 1'000'000'000;
  if (auto v = p.Get("since"); v && !v->empty()) {
    std::string err;
    if (!ParsePromDuration(*v, &since, &err)) {
      return Status::InvalidArgument(fmt::format("could not parse 'since' parameter: {}", err));
    }
  }
  ASSIGN_OR_RETURN(const int64_t start,
                   time_param("start", SaturatingSub(std::min(end, now), since)));
  if (start >= end) return Status::InvalidArgument("end must be greater than start");
  if (instant) return traceql::Intervals::Instant(start, end);
  int64_t step = 0;
  if (auto v = p.Get("step"); v && !v->empty()) {
    double seconds = 0;
    std::string err;
    if (ParseGoFloat(*v, &seconds, &err)) {
      if (!std::isfinite(seconds) || std::fabs(seconds) * 1e9 >= 9.2e18) {
        return Status::InvalidArgument(
            fmt::format("cannot parse {} to a valid duration. It overflows int64", GoQuote(*v)));
      }
      step = static_cast<int64_t>(seconds * 1e9);
    } else if (!ParseGoDuration(*v, &step)) {
      return Status::InvalidArgument(
          fmt::format("cannot parse {} to a valid duration", GoQuote(*v)));
    }
    if (step < 0) {
      return Status::InvalidArgument(
          fmt::format("cannot parse {}: step must be positive", GoQuote(*v)));
    }
  } else {
    step = traceql::DefaultStep(start, end);
  }
  if (step == 0 || (end - start) / step > kMaxMetricsIntervals) {
    return Status::InvalidArgument(fmt::format(
        "step of {} is too small, minimum step for given range is {}", FormatGoDuration(step),
        FormatGoDuration((end - start) / kMaxMetricsIntervals)));
  }
  // Times and the step are at most kMaxMetricsTimeNs, so aligning them stays within int64.
  return traceql::Intervals::Range(start, end, std::min(step, kMaxMetricsTimeNs));
}

// A series value as jsonpb writes a double: a number, Infinity or -Infinity as strings.
void MetricsValue(JsonWriter& w, double v) {
  if (std::isinf(v)) {
    w.String(v > 0 ? "Infinity" : "-Infinity");
  } else {
    w.Number(v);
  }
}

// A lookup's metrics, as jsonpb writes MetadataMetrics (zero fields left out), and the end of
// its answer.
void EndTagAnswer(JsonWriter& w, uint64_t inspected_bytes) {
  w.Key("metrics").BeginObject();
  if (inspected_bytes > 0) w.Key("inspectedBytes").String(std::to_string(inspected_bytes));
  w.Key("totalJobs").Int(1).Key("completedJobs").Int(1).EndObject().EndObject();
}

}  // namespace

Result<std::string> TagsQuery(std::string_view tags) {
  std::string out;
  size_t i = 0;
  while (i < tags.size()) {
    if (tags[i] == ' ') {
      ++i;
      continue;
    }
    const size_t k = i;
    while (i < tags.size() && tags[i] != '=' && tags[i] != ' ') ++i;
    std::string_view key = tags.substr(k, i - k);
    if (i >= tags.size() || tags[i] != '=') {
      return Status::InvalidArgument(fmt::format("invalid tags: {} has no value", GoQuote(key)));
    }
    ++i;
    std::string value;
    if (i < tags.size() && tags[i] == '"') {
      size_t j = i + 1;
      while (j < tags.size() && tags[j] != '"') j += tags[j] == '\\' ? 2 : 1;
      if (j >= tags.size()) return Status::InvalidArgument("invalid tags: unterminated quote");
      auto unquoted = GoUnquote(tags.substr(i, j + 1 - i));
      if (!unquoted.ok()) return Status::InvalidArgument("invalid tags: bad quoted value");
      value = std::move(*unquoted);
      i = j + 1;
    } else {
      const size_t v = i;
      while (i < tags.size() && tags[i] != ' ') ++i;
      value = tags.substr(v, i - v);
    }
    if (!out.empty()) out += " && ";
    if (key == "name") {
      out += "{ name = " + GoQuote(value) + " }";
    } else {
      traceql::Attribute a;
      a.name = key;
      out += "{ " + a.String() + " = " + GoQuote(value) + " }";
    }
  }
  return out.empty() ? std::string("{}") : out;
}

Result<std::string> ParseTraceId(std::string_view hex) {
  for (size_t i = 0; i < hex.size(); ++i) {
    if (!IsHexDigit(hex[i])) {
      // As Go ranges over a string: the character (U+FFFD for a byte that is not UTF-8) and
      // its byte position.
      uint32_t cp = static_cast<unsigned char>(hex[i]);
      if (cp >= 0x80 && DecodeRune(hex, i, &cp) == 0) cp = 0xFFFD;
      std::string c;
      AppendUtf8(c, cp);
      return Status::InvalidArgument(fmt::format(
          "trace IDs can only contain hex characters: invalid character '{}' at position {}", c,
          i + 1));
    }
  }
  std::string digits = hex.size() % 2 == 1 ? "0" + std::string(hex) : std::string(hex);
  std::string id;
  (void)HexDecode(digits, &id);  // every digit was checked above
  if (id.size() > proto::kTraceIdSize) {
    return Status::InvalidArgument("trace IDs can't be larger than 128 bits");
  }
  return std::string(proto::kTraceIdSize - id.size(), '\0') + id;
}

// What Go's uuid.Parse (google/uuid 1.6) says of a block ID parameter: OK, or its error.
Status ParseBlockId(std::string_view s) {
  auto format = [] { return Status::InvalidArgument("invalid UUID format"); };
  switch (s.size()) {
    case 36:
      break;
    case 36 + 9: {
      std::string prefix(s.substr(0, 9));
      std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (prefix != "urn:uuid:") {
        return Status::InvalidArgument(
            fmt::format("invalid urn prefix: {}", GoQuote(s.substr(0, 9))));
      }
      s.remove_prefix(9);
      break;
    }
    case 36 + 2:  // {...}: the braces are not looked at
      s.remove_prefix(1);
      break;
    case 32:
      return std::all_of(s.begin(), s.end(), IsHexDigit) ? Status::Ok() : format();
    default:
      return Status::InvalidArgument(fmt::format("invalid UUID length: {}", s.size()));
  }
  for (size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHexDigit(s[i])) return format();
  }
  return Status::Ok();
}

// One Tempo API call on its way through a query thread. Errors are plain text, as Tempo's.
struct TempoApi::Call : ApiRequest {
  explicit Call(http::Responder r) : ApiRequest(std::move(r)) {}
  void SendError() override {
    Send(http::StatusFor(error), std::string(error.message()), "text/plain; charset=utf-8");
  }
  bool protobuf = false;  // Accept names application/protobuf
};

void TempoApi::Register(http::Server& server) {
  auto trace_route = [&](const std::string& path, bool v2) {
    server.Route(path, {bhttp::verb::get},
                 [this, v2](http::Request& req, const http::Responder& r) {
                   auto c = std::make_shared<Call>(r);
                   auto accept = req[bhttp::field::accept];
                   c->protobuf = std::string_view(accept.data(), accept.size()).find(kProtobuf) !=
                                 std::string_view::npos;
                   Dispatch(scheduler_, tenants_, req, c, [this, c, v2] { TraceById(*c, v2); });
                 });
  };
  trace_route("/api/traces/", false);
  trace_route("/api/v2/traces/", true);
  server.Route("/api/search", {bhttp::verb::get},
               [this](http::Request& req, const http::Responder& r) {
                 auto c = std::make_shared<Call>(r);
                 Dispatch(scheduler_, tenants_, req, c, [this, c] { Search(*c); });
               });
  auto tags_route = [&](const std::string& path, bool values, bool v2) {
    server.Route(path, {bhttp::verb::get},
                 [this, values, v2](http::Request& req, const http::Responder& r) {
                   auto c = std::make_shared<Call>(r);
                   Dispatch(scheduler_, tenants_, req, c, [this, c, values, v2] {
                     values ? SearchTagValues(*c, v2) : SearchTags(*c, v2);
                   });
                 });
  };
  auto metrics_route = [&](const std::string& path, bool instant) {
    server.Route(
        path, {bhttp::verb::get}, [this, instant](http::Request& req, const http::Responder& r) {
          auto c = std::make_shared<Call>(r);
          Dispatch(scheduler_, tenants_, req, c, [this, c, instant] { MetricsQuery(*c, instant); });
        });
  };
  metrics_route("/api/metrics/query_range", false);
  metrics_route("/api/metrics/query", true);
  tags_route("/api/search/tags", false, false);
  tags_route("/api/v2/search/tags", false, true);
  tags_route("/api/search/tag/", true, false);
  tags_route("/api/v2/search/tag/", true, true);
  server.Route("/api/echo", {bhttp::verb::get, bhttp::verb::post, bhttp::verb::head},
               [](http::Request& req, const http::Responder& r) {
                 r.Send(http::TextResponse(req, http::Status::ok, "echo\n"));
               });
  server.Route("/api/status/buildinfo", {bhttp::verb::get},
               [](http::Request& req, const http::Responder& r) {
                 r.Send(http::JsonResponse(req, http::Status::ok, BuildInfoJson() + "\n"));
               });
}

void TempoApi::TraceById(Call& c, bool v2) {
  std::string_view path = c.path;
  path.remove_prefix(std::string_view(v2 ? "/api/v2/traces/" : "/api/traces/").size());
  if (path.empty() || path.find('/') != std::string_view::npos) {
    return c.Send(http::Status::not_found, "404 page not found\n", "text/plain; charset=utf-8");
  }
  // The ID as Go's HTTP server hands it to Tempo: percent-decoded.
  std::string decoded;
  if (!PercentDecode(path, false, &decoded)) {
    return c.Fail(Status::InvalidArgument(fmt::format("invalid URL escape in {}", GoQuote(path))));
  }
  auto id = ParseTraceId(decoded);
  if (!id.ok()) return c.Fail(id.status());
  const std::string mode = c.params.Get("mode").value_or("");
  if (!mode.empty() && mode != "all" && mode != "ingesters" && mode != "blocks" &&
      mode != "external") {
    return c.Fail(Status::InvalidArgument(fmt::format("invalid value for mode {}", mode)));
  }
  // Tempo checks the block range and the time range only when the lookup may read blocks.
  if (mode != "ingesters") {
    for (auto [key, name] : {std::pair{"blockStart", "blockstart"}, {"blockEnd", "blockEnd"}}) {
      const std::string v = c.params.Get(key).value_or("");
      if (Status st = ParseBlockId(v); !v.empty() && !st.ok()) {
        return c.Fail(
            Status::InvalidArgument(fmt::format("invalid value for {}: {}", name, st.message())));
      }
    }
    if (auto range = TimeRangeParams(c.params); !range.ok()) return c.Fail(range.status());
  }
  auto found = queryable_.TraceById(c.tenant, *id);
  if (!found.ok()) return c.Fail(found.status());
  if (!v2) {
    if (!*found) return c.Send(http::Status::not_found, "", "text/plain; charset=utf-8");
    if (c.protobuf) return c.Send(http::Status::ok, std::move((*found)->traces_data), kProtobuf);
    auto json = proto::TraceJson((*found)->traces_data, {});
    if (!json.ok()) return c.Fail(json.status());
    return c.Send(http::Status::ok, std::move(*json));
  }
  // TraceByIDResponse: trace (1), metrics (2: inspectedBytes, 1).
  const uint64_t inspected = *found ? (*found)->bytes_read : 0;
  if (c.protobuf) {
    std::string body;
    proto::PutBytesField(body, 1, *found ? (*found)->traces_data : std::string());
    std::string metrics;
    if (inspected > 0) proto::PutVarintField(metrics, 1, inspected);
    proto::PutBytesField(body, 2, metrics);
    return c.Send(http::Status::ok, std::move(body), kProtobuf);
  }
  std::string trace = "{}";
  if (*found) {
    auto json = proto::TraceJson((*found)->traces_data, {.root_key = "resourceSpans"});
    if (!json.ok()) return c.Fail(json.status());
    trace = std::move(*json);
  }
  std::string metrics =
      inspected > 0 ? fmt::format(R"({{"inspectedBytes":"{}"}})", inspected) : std::string("{}");
  c.Send(http::Status::ok, fmt::format(R"({{"trace":{},"metrics":{}}})", trace, metrics));
}

void TempoApi::Search(Call& c) {
  auto range = TimeRangeParams(c.params);
  if (!range.ok()) return c.Fail(range.status());
  auto limit = CountParam(c.params, "limit", kDefaultSearchLimit);
  if (!limit.ok()) return c.Fail(limit.status());
  auto spss = CountParam(c.params, "spss", kDefaultSpansPerSpanset);
  if (!spss.ok()) return c.Fail(spss.status());
  auto min_duration = DurationParam(c.params, "minDuration");
  if (!min_duration.ok()) return c.Fail(min_duration.status());
  auto max_duration = DurationParam(c.params, "maxDuration");
  if (!max_duration.ok()) return c.Fail(max_duration.status());
  if (*max_duration > 0 && *max_duration < *min_duration) {
    return c.Fail(Status::InvalidArgument("invalid maxDuration: must be greater than minDuration"));
  }
  std::string q = c.params.Get("q").value_or("");
  if (q.empty()) {
    auto tags = TagsQuery(c.params.Get("tags").value_or(""));
    if (!tags.ok()) return c.Fail(tags.status());
    q = std::move(*tags);
  }
  auto query = traceql::Parse(q);
  if (!query.ok()) return c.Fail(query.status());
  if (Status st = traceql::Validate(**query); !st.ok()) {
    return c.Fail(Status::InvalidArgument(st.message()));
  }
  if ((*query)->metrics) {
    return c.Fail(Status::InvalidArgument(
        "metrics queries are answered by /api/metrics/query_range and /api/metrics/query"));
  }
  const int64_t start_ns = range->start ? SecondsToNanos(*range->start) : 0;
  const int64_t end_ns =
      range->end ? SecondsToNanos(*range->end) : std::numeric_limits<int64_t>::max();
  traceql::SearchEvaluator eval((*query)->pipeline);
  const Referenced referenced((*query)->pipeline);
  const traceql::Prefilter prefilter = traceql::PrefilterOf((*query)->pipeline);
  traces::QueryFilter filter(prefilter,
                             traces::TraceBounds{start_ns, end_ns, *min_duration, *max_duration});
  struct Match {
    int64_t start_ns;
    std::string id;
    std::string json;
  };
  // Newest first, then by trace ID: the same answer every time.
  auto newer = [](const Match& a, const Match& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.id < b.id;
  };
  std::vector<Match> matches;
  const auto keep = static_cast<size_t>(*limit);
  auto inspected =
      ForEachTrace(c.tenant, start_ns, end_ns, &filter, nullptr, [&](const traceql::Trace& t) {
        if (t.spans.empty() || t.end_ns < start_ns || t.start_ns > end_ns) return true;
        const int64_t duration = t.end_ns - t.start_ns;
        if (duration < *min_duration || (*max_duration > 0 && duration > *max_duration)) {
          return true;
        }
        std::vector<traceql::Spanset> sets = eval.Eval(t);
        if (sets.empty()) return true;
        matches.push_back(
            {t.start_ns, t.id,
             TraceMatchJson(t, sets, referenced.attrs(), static_cast<size_t>(*spss))});
        // Only the newest `limit` are answered: trim as they come, and from then on leave
        // older traces out before they are rebuilt.
        if (matches.size() >= 4 * keep) {
          std::nth_element(matches.begin(), matches.begin() + static_cast<ptrdiff_t>(keep) - 1,
                           matches.end(), newer);
          matches.resize(keep);
          filter.RaiseStartFloor(matches.back().start_ns);
        }
        return true;
      });
  if (!inspected.ok()) return c.Fail(inspected.status());
  std::sort(matches.begin(), matches.end(), newer);
  if (matches.size() > keep) matches.resize(keep);
  std::string body = R"({"traces":[)";
  for (size_t i = 0; i < matches.size(); ++i) {
    if (i > 0) body += ',';
    body += matches[i].json;
  }
  body +=
      fmt::format(R"(],"metrics":{{"inspectedTraces":{},"inspectedBytes":"{}","completedJobs":1,)"
                  R"("totalJobs":1}}}})",
                  inspected->traces, inspected->bytes);
  c.Send(http::Status::ok, std::move(body));
}

Result<TempoApi::Inspected> TempoApi::ForEachTrace(
    const std::string& tenant, int64_t start_ns, int64_t end_ns, traces::block::TraceFilter* filter,
    bool* truncated, const std::function<bool(const traceql::Trace&)>& fn) {
  Inspected out;
  Status failed;
  RETURN_IF_ERROR(queryable_.Search(
      tenant, start_ns, end_ns, kMaxSearchBytes,
      [&](const traces::FoundTrace& found) {
        ++out.traces;
        out.bytes += found.bytes_read;
        auto trace = traceql::DecodeTrace(found.traces_data);
        if (!trace.ok()) {
          failed = trace.status();
          return false;
        }
        return fn(*trace);
      },
      truncated, filter));
  RETURN_IF_ERROR(failed);
  return out;
}

Result<uint64_t> TempoApi::ForEachTagSpan(
    Call& c, const std::function<bool(const traceql::Trace&, const traceql::Span&)>& fn) {
  ASSIGN_OR_RETURN(TimeRange range, TimeRangeParams(c.params));
  int64_t start_ns = range.start ? SecondsToNanos(*range.start) : 0;
  int64_t end_ns = range.end ? SecondsToNanos(*range.end) : std::numeric_limits<int64_t>::max();
  if (!range.start && !range.end) {
    end_ns = NowNanos();
    start_ns = end_ns - kTagDefaultRangeNs;
  }
  const std::unique_ptr<traceql::RootExpr> filter = TagFilter(c.params.Get("q"));
  std::optional<traceql::SearchEvaluator> eval;
  std::optional<traceql::Prefilter> prefilter;
  std::optional<traces::QueryFilter> query_filter;
  if (filter) {
    eval.emplace(filter->pipeline);
    prefilter.emplace(traceql::PrefilterOf(filter->pipeline));
    query_filter.emplace(*prefilter, std::nullopt);
  }
  // Past the byte budget a lookup answers what it read (recent data first), as Tempo's stops
  // at its limits.
  bool truncated = false;
  auto visit = [&](const traceql::Trace& t) {
    if (!eval) {
      for (const traceql::Span& s : t.spans) {
        if (!fn(t, s)) return false;
      }
      return true;
    }
    std::vector<bool> seen(t.spans.size());
    for (const traceql::Spanset& ss : eval->Eval(t)) {
      for (int32_t i : ss.spans) {
        if (seen[static_cast<size_t>(i)]) continue;
        seen[static_cast<size_t>(i)] = true;
        if (!fn(t, t.spans[static_cast<size_t>(i)])) return false;
      }
    }
    return true;
  };
  ASSIGN_OR_RETURN(Inspected inspected,
                   ForEachTrace(c.tenant, start_ns, end_ns, query_filter ? &*query_filter : nullptr,
                                &truncated, visit));
  return inspected.bytes;
}

void TempoApi::SearchTags(Call& c, bool v2) {
  using traceql::Scope;
  const std::string scope = c.params.Get("scope").value_or("");
  static const std::map<std::string, std::optional<Scope>, std::less<>> kScopes = {
      {"", std::nullopt},
      {"none", std::nullopt},
      {"intrinsic", std::nullopt},
      {"span", Scope::kSpan},
      {"resource", Scope::kResource},
      {"event", Scope::kEvent},
      {"link", Scope::kLink},
      {"instrumentation", Scope::kInstrumentation}};
  auto it = kScopes.find(scope);
  if (it == kScopes.end()) {
    return c.Fail(Status::InvalidArgument(fmt::format("invalid scope: {}", scope)));
  }
  const std::optional<Scope> only = it->second;
  Distinct names(0, 0);
  // Intrinsics come first so that the size limit never drops them; v1 lists them only when
  // asked for by scope.
  if (scope == "intrinsic" || (v2 && (scope.empty() || scope == "none"))) {
    for (std::string_view tag : kIntrinsicTags) names.Add("intrinsic", tag);
  }
  uint64_t inspected = 0;
  if (scope != "intrinsic") {
    auto add = [&](Scope sc, const traceql::Attrs& attrs) {
      if (only && *only != sc) return true;
      for (const auto& [key, value] : attrs) {
        if (!names.Add(traceql::ScopeName(sc), key)) return false;
      }
      return true;
    };
    auto read = ForEachTagSpan(c, [&](const traceql::Trace& t, const traceql::Span& s) {
      bool more = add(Scope::kSpan, s.attrs) && add(Scope::kResource, t.resources[s.resource]) &&
                  add(Scope::kInstrumentation, t.scopes[s.scope].attrs);
      for (const traceql::SpanEvent& e : s.events) more = more && add(Scope::kEvent, e.attrs);
      for (const traceql::SpanLink& l : s.links) more = more && add(Scope::kLink, l.attrs);
      return more;
    });
    if (!read.ok()) return c.Fail(read.status());
    inspected = *read;
  }
  JsonWriter w;
  w.BeginObject();
  if (v2) {
    std::map<std::string_view, std::vector<std::string_view>> by_scope;
    for (const auto& [sc, tag] : names.entries()) by_scope[sc].push_back(tag);
    if (!by_scope.empty()) {
      w.Key("scopes").BeginArray();
      for (const auto& [sc, tags] : by_scope) {
        w.BeginObject().Key("name").String(sc).Key("tags").BeginArray();
        for (std::string_view tag : tags) w.String(tag);
        w.EndArray().EndObject();
      }
      w.EndArray();
    }
  } else {
    std::set<std::string_view> flat;
    for (const auto& [sc, tag] : names.entries()) flat.insert(tag);
    if (!flat.empty()) {
      w.Key("tagNames").BeginArray();
      for (std::string_view tag : flat) w.String(tag);
      w.EndArray();
    }
  }
  EndTagAnswer(w, inspected);
  c.Send(http::Status::ok, std::move(w.str()));
}

void TempoApi::SearchTagValues(Call& c, bool v2) {
  auto tag = LabelNameFromPath(c.path, v2 ? "/api/v2/search/tag/" : "/api/search/tag/");
  if (!tag.ok()) {
    if (tag.status().code() == Status::Code::kNotFound) {
      return c.Send(http::Status::not_found, "404 page not found\n", "text/plain; charset=utf-8");
    }
    return c.Fail(Status::InvalidArgument("please provide a non-empty tagName"));
  }
  traceql::Attribute attr;
  if (v2) {
    auto parsed = traceql::ParseIdentifier(*tag);
    if (!parsed.ok()) {
      return c.Fail(Status::InvalidArgument(
          fmt::format("please provide a valid tagName: {}", parsed.status().message())));
    }
    attr = std::move(*parsed);
  } else {
    attr = V1TagAttribute(*tag);
  }
  auto limit = UintParam(c.params, "limit");
  if (!limit.ok()) return c.Fail(limit.status());
  auto max_stale = UintParam(c.params, "maxStaleValues");
  if (!max_stale.ok()) return c.Fail(max_stale.status());
  Distinct values(*limit, *max_stale);
  auto add = [&](const traceql::Static& v) {
    if (v.type == traceql::StaticType::kNil) return true;
    if (!v2) return values.Add("", ValueText(v));
    std::string_view type = ValueType(v);
    return type.empty() || values.Add(type, ValueText(v));
  };
  uint64_t inspected = 0;
  std::optional<std::vector<std::string_view>> virtual_values =
      v2 ? VirtualValues(*tag, attr) : std::nullopt;
  if (!v2 && *tag == "status.code") virtual_values = {{"unset", "ok", "error"}};
  if (!v2 && *tag == "error") values.Add("", "true");
  if (virtual_values) {
    for (std::string_view v : *virtual_values) values.Add(v2 ? "keyword" : "", v);
  } else {
    // Unscoped attributes are offered from the span and from its resource.
    traceql::Attribute in_span = attr, in_resource = attr;
    in_span.scope = traceql::Scope::kSpan;
    in_resource.scope = traceql::Scope::kResource;
    const bool unscoped = attr.intrinsic == traceql::Intrinsic::kNone &&
                          attr.scope == traceql::Scope::kNone && !attr.parent;
    const bool per_event = attr.scope == traceql::Scope::kEvent ||
                           attr.intrinsic == traceql::Intrinsic::kEventName ||
                           attr.intrinsic == traceql::Intrinsic::kEventTimeSinceStart;
    const bool per_link = attr.scope == traceql::Scope::kLink;
    auto read = ForEachTagSpan(c, [&](const traceql::Trace& t, const traceql::Span& s) {
      if (unscoped) {
        return add(traceql::Lookup(t, s, in_span, -1, -1)) &&
               add(traceql::Lookup(t, s, in_resource, -1, -1));
      }
      if (per_event) {
        for (size_t e = 0; e < s.events.size(); ++e) {
          if (!add(traceql::Lookup(t, s, attr, static_cast<int>(e), -1))) return false;
        }
        return true;
      }
      if (per_link) {
        for (size_t l = 0; l < s.links.size(); ++l) {
          if (!add(traceql::Lookup(t, s, attr, -1, static_cast<int>(l)))) return false;
        }
        return true;
      }
      return add(traceql::Lookup(t, s, attr, -1, -1));
    });
    if (!read.ok()) return c.Fail(read.status());
    inspected = *read;
  }
  JsonWriter w;
  w.BeginObject();
  if (!values.entries().empty()) {
    w.Key("tagValues").BeginArray();
    for (const auto& [type, value] : values.entries()) {
      if (v2) {
        w.BeginObject().Key("type").String(type).Key("value").String(value).EndObject();
      } else {
        w.String(value);
      }
    }
    w.EndArray();
  }
  EndTagAnswer(w, inspected);
  c.Send(http::Status::ok, std::move(w.str()));
}

void TempoApi::MetricsQuery(Call& c, bool instant) {
  auto intervals = MetricsIntervals(c.params, instant);
  if (!intervals.ok()) return c.Fail(intervals.status());
  std::string q = c.params.Get("q").value_or("");
  if (q.empty()) q = c.params.Get("query").value_or("");
  auto query = traceql::Parse(q);
  if (!query.ok()) return c.Fail(query.status());
  if (!(*query)->metrics) return c.Fail(Status::InvalidArgument("not a metrics query"));
  Status st = traceql::Validate(**query);
  if (!st.ok()) return c.Fail(Status::InvalidArgument(st.message()));
  auto max_series = UintParam(c.params, "maxSeries");
  if (!max_series.ok()) return c.Fail(max_series.status());
  // The answer holds series x intervals values, quantile_over_time one series per quantile of
  // each group kept.
  const auto per_series =
      intervals->count *
      std::max<int64_t>(1, static_cast<int64_t>((*query)->metrics->first.quantiles.size()));
  if (per_series > kMaxMetricsCells) {
    return c.Fail(Status::InvalidArgument(fmt::format(
        "the query would answer {} values per series, over the limit of {}: fewer quantiles or "
        "a longer step",
        per_series, kMaxMetricsCells)));
  }
  size_t limit = static_cast<size_t>(kMaxMetricsCells / per_series);
  if (*max_series > 0) limit = std::min(limit, *max_series);
  traceql::MetricsEvaluator eval(*(*query)->metrics, *intervals, limit);
  const traceql::Prefilter prefilter = traceql::PrefilterOf(*(*query)->metrics);
  traces::QueryFilter filter(prefilter, std::nullopt);
  // Spans the columns decide are counted as their pages are read; only traces they cannot
  // tell are rebuilt.
  if (traces::QueryFilter::CanCount(*(*query)->metrics, prefilter)) {
    filter.CountInto(*(*query)->metrics, eval);
  }
  auto inspected =
      ForEachTrace(c.tenant, intervals->start_ns, intervals->EndOf(intervals->count - 1), &filter,
                   nullptr, [&](const traceql::Trace& t) {
                     eval.Observe(t);
                     return true;
                   });
  if (!inspected.ok()) return c.Fail(inspected.status());
  const std::vector<traceql::Series> series = eval.Result();
  JsonWriter w;
  w.BeginObject();
  if (!instant || !series.empty()) w.Key("series").BeginArray();
  for (const traceql::Series& s : series) {
    w.BeginObject().Key("labels").BeginArray();
    for (const auto& [key, value] : s.labels) {
      w.BeginObject().Key("key").String(key).Key("value");
      AnyValueJson(w, value);
      w.EndObject();
    }
    w.EndArray();
    // jsonpb leaves zero values out; NaN means no sample.
    if (instant) {
      if (s.values[0] != 0) MetricsValue(w.Key("value"), s.values[0]);
    } else {
      w.Key("samples").BeginArray();
      for (size_t i = 0; i < s.values.size(); ++i) {
        if (std::isnan(s.values[i])) continue;
        w.BeginObject()
            .Key("timestampMs")
            .String(std::to_string(intervals->EndOf(static_cast<int64_t>(i)) / 1'000'000));
        if (s.values[i] != 0) MetricsValue(w.Key("value"), s.values[i]);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  if (!instant || !series.empty()) w.EndArray();
  w.Key("metrics").BeginObject();
  if (inspected->traces > 0) {
    w.Key("inspectedTraces").Int(static_cast<int64_t>(inspected->traces));
  }
  if (inspected->bytes > 0) w.Key("inspectedBytes").String(std::to_string(inspected->bytes));
  w.Key("completedJobs").Int(1).Key("totalJobs").Int(1);
  if (eval.spans_observed() > 0) {
    w.Key("inspectedSpans").String(std::to_string(eval.spans_observed()));
  }
  w.EndObject();
  if (eval.truncated()) {
    w.Key("status").String("PARTIAL");
    w.Key("message").String(
        fmt::format("Response exceeds maximum series limit of {}, a partial response is "
                    "returned. Warning: the accuracy of each individual value is not guaranteed.",
                    limit));
  }
  w.EndObject();
  c.Send(http::Status::ok, std::move(w.str()));
}

}  // namespace strata::api
