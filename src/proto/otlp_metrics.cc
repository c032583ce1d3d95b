#include "proto/otlp_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "base/encoding.h"
#include "base/histogram.h"
#include "base/json.h"
#include "base/labels.h"
#include "base/units.h"
#include "proto/otlp.h"
#include "proto/otlp_values.h"
#include "proto/wire.h"

namespace strata::proto {

namespace {

// Reasons quoted in the response; the count covers all of them.
constexpr size_t kMaxDropReasons = 5;
constexpr uint32_t kNoRecordedValue = 1;  // DataPointFlags.FLAG_NO_RECORDED_VALUE
constexpr uint64_t kCumulative = 2;       // AggregationTemporality

std::string_view MainUnitWord(std::string_view unit) {
  static const std::map<std::string_view, std::string_view> kUnits = {
      {"d", "days"},
      {"h", "hours"},
      {"min", "minutes"},
      {"s", "seconds"},
      {"ms", "milliseconds"},
      {"us", "microseconds"},
      {"ns", "nanoseconds"},
      {"By", "bytes"},
      {"KiBy", "kibibytes"},
      {"MiBy", "mebibytes"},
      {"GiBy", "gibibytes"},
      {"TiBy", "tibibytes"},
      {"KBy", "kilobytes"},
      {"MBy", "megabytes"},
      {"GBy", "gigabytes"},
      {"TBy", "terabytes"},
      {"m", "meters"},
      {"V", "volts"},
      {"A", "amperes"},
      {"J", "joules"},
      {"W", "watts"},
      {"g", "grams"},
      {"Cel", "celsius"},
      {"Hz", "hertz"},
      {"1", ""},
      {"%", "percent"},
  };
  auto it = kUnits.find(unit);
  return it == kUnits.end() ? unit : it->second;
}

std::string_view PerUnitWord(std::string_view unit) {
  static const std::map<std::string_view, std::string_view> kPerUnits = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"},
  };
  auto it = kPerUnits.find(unit);
  return it == kPerUnits.end() ? unit : it->second;
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Characters outside [a-zA-Z0-9] -> "_", leading and trailing "_" trimmed.
std::string CleanUnitWord(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(IsAlnum(c) ? c : '_');
  size_t b = out.find_first_not_of('_');
  if (b == std::string::npos) return {};
  size_t e = out.find_last_not_of('_');
  return out.substr(b, e - b + 1);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The unit as Prometheus words: {main, per}; either may be empty.
std::pair<std::string, std::string> UnitWords(std::string_view unit) {
  std::string_view main = unit, per;
  if (size_t slash = unit.find('/'); slash != std::string_view::npos) {
    main = unit.substr(0, slash);
    per = unit.substr(slash + 1);
  }
  main = Trim(main);
  per = Trim(per);
  auto word = [](std::string_view u, bool is_per) -> std::string {
    if (u.empty() || u.find_first_of("{}") != std::string_view::npos) return {};
    return CleanUnitWord(is_per ? PerUnitWord(u) : MainUnitWord(u));
  };
  return {word(main, false), word(per, true)};
}

// Label name -> value, sorted by name (what Labels requires).
using LabelMap = std::map<std::string, std::string>;

// Attributes as labels: sanitized names; values of colliding names joined with ";" in the order
// of the original keys.
void AddAttributeLabels(std::vector<OtlpAttribute> attrs, LabelMap& out) {
  std::sort(attrs.begin(), attrs.end(),
            [](const OtlpAttribute& a, const OtlpAttribute& b) { return a.key < b.key; });
  for (auto& a : attrs) {
    if (a.key.empty()) continue;
    std::string name = PrometheusLabelName(a.key);
    auto [it, inserted] = out.try_emplace(name, a.value);
    if (!inserted) it->second += ";" + a.value;
  }
}

struct ResourceInfo {
  std::string job, instance;
  std::vector<OtlpAttribute> others;  // for target_info
};

ResourceInfo DecodeResource(std::string_view resource) {
  ResourceInfo info;
  std::vector<OtlpAttribute> attrs;
  WireReader r(resource);
  while (r.NextField()) {
    std::string_view kv;
    if (r.field() == 1 && r.ReadBytes(&kv)) {
      DecodeAttribute(kv, attrs);
    } else {
      r.Skip();
    }
  }
  std::string service, ns;
  for (auto& a : attrs) {
    if (a.key == "service.name") {
      service = a.value;
    } else if (a.key == "service.namespace") {
      ns = a.value;
    } else if (a.key == "service.instance.id") {
      info.instance = a.value;
    } else {
      info.others.push_back(std::move(a));
    }
  }
  if (!service.empty()) info.job = ns.empty() ? service : ns + "/" + service;
  return info;
}

struct Point {
  std::vector<OtlpAttribute> attrs;
  int64_t t_ms = 0;
  double value = 0;    // number points
  uint64_t count = 0;  // histogram and summary points
  double sum = 0;
  bool has_sum = false;
  std::vector<uint64_t> bucket_counts;
  std::vector<double> bounds;
  std::vector<std::pair<double, double>> quantiles;
  uint32_t flags = 0;
  std::vector<Exemplar> exemplars;  // sums' and histograms'
};

int64_t NanosToMillis(uint64_t ns) { return static_cast<int64_t>(ns / 1'000'000); }

// An Exemplar as Prometheus's OTLP translator turns it into one: trace_id and span_id in hex
// (when not empty or all zero), then the filtered attributes, unless with them the labels
// would hold more than 128 characters; the value as_double or as_int, the time in ms. False
// for one without a value (Prometheus refuses those).
bool DecodeExemplar(std::string_view data, Exemplar& e) {
  std::string_view trace, span;
  std::vector<OtlpAttribute> attrs;
  bool has_value = false;
  WireReader r(data);
  while (r.NextField()) {
    const uint32_t f = r.field();
    if (r.wire_type() == 1) {
      uint64_t bits;
      if (!r.ReadFixed64(&bits)) break;
      if (f == 2) {
        e.t = NanosToMillis(bits);
      } else if (f == 3) {
        e.value = std::bit_cast<double>(bits);
        has_value = true;
      } else if (f == 6) {
        e.value = static_cast<double>(static_cast<int64_t>(bits));
        has_value = true;
      }
    } else if (r.wire_type() == 2) {
      std::string_view b;
      if (!r.ReadBytes(&b)) break;
      if (f == 4) {
        span = b;
      } else if (f == 5) {
        trace = b;
      } else if (f == 7) {
        DecodeAttribute(b, attrs);
      }
    } else {
      r.Skip();
    }
  }
  auto all_zero = [](std::string_view id) {
    return std::all_of(id.begin(), id.end(), [](char c) { return c == 0; });
  };
  size_t runes = 0;
  auto add = [&](std::string name, std::string value) {
    runes += Utf8Runes(name) + Utf8Runes(value);
    e.labels.push_back({std::move(name), std::move(value)});
  };
  if (!all_zero(trace)) add("trace_id", HexEncode(trace));
  if (!all_zero(span)) add("span_id", HexEncode(span));
  const size_t ids = e.labels.size();
  for (auto& a : attrs) add(std::move(a.key), std::move(a.value));
  if (runes > kMaxExemplarLabelRunes) e.labels.resize(ids);
  std::sort(e.labels.begin(), e.labels.end());
  return has_value;
}

// Decodes a NumberDataPoint (kind gauge/counter), HistogramDataPoint or SummaryDataPoint.
// `exemplars`: keep its exemplars (sums' and histograms', not gauges' or summaries').
Point DecodePoint(std::string_view data, OtlpMetricKind kind, bool exemplars) {
  Point p;
  const bool number = kind == OtlpMetricKind::kGauge || kind == OtlpMetricKind::kCounter;
  const bool histogram = kind == OtlpMetricKind::kHistogram;
  // attributes are field 7 (number, summary) or 9 (histogram); flags 8 or 10; exemplars 5
  // (number) or 8 (histogram).
  const uint32_t attrs_field = histogram ? 9 : 7;
  const uint32_t flags_field = histogram ? 10 : 8;
  const uint32_t exemplars_field = histogram ? 8 : 5;
  WireReader r(data);
  while (r.NextField()) {
    const uint32_t f = r.field();
    switch (static_cast<WireType>(r.wire_type())) {
      case WireType::kVarint: {
        uint64_t u;
        if (r.ReadVarint(&u) && f == flags_field) p.flags = static_cast<uint32_t>(u);
        break;
      }
      case WireType::kFixed64: {
        double d;
        if (!r.ReadDouble(&d)) break;
        const auto bits = std::bit_cast<uint64_t>(d);
        if (f == 3) {
          p.t_ms = NanosToMillis(bits);
        } else if (number && f == 4) {
          p.value = d;
        } else if (number && f == 6) {  // as_int, sfixed64
          p.value = static_cast<double>(static_cast<int64_t>(bits));
        } else if (!number && f == 4) {
          p.count = bits;
        } else if (!number && f == 5) {
          p.sum = d;
          p.has_sum = true;
        } else if (histogram && f == 6) {  // unpacked bucket count
          p.bucket_counts.push_back(bits);
        } else if (histogram && f == 7) {  // unpacked bound
          p.bounds.push_back(d);
        }
        break;
      }
      case WireType::kLen: {
        std::string_view b;
        if (!r.ReadBytes(&b)) break;
        if (f == attrs_field) {
          DecodeAttribute(b, p.attrs);
        } else if (exemplars && f == exemplars_field) {
          Exemplar e;
          if (DecodeExemplar(b, e)) p.exemplars.push_back(std::move(e));
        } else if (histogram && (f == 6 || f == 7)) {
          for (size_t i = 0; i + 8 <= b.size(); i += 8) {
            uint64_t bits;
            std::memcpy(&bits, b.data() + i, 8);
            if (f == 6) {
              p.bucket_counts.push_back(bits);
            } else {
              p.bounds.push_back(std::bit_cast<double>(bits));
            }
          }
        } else if (kind == OtlpMetricKind::kSummary && f == 6) {
          WireReader q(b);
          double quantile = 0, value = 0;
          while (q.NextField()) {
            if (q.field() == 1 && q.wire_type() == 1) {
              q.ReadDouble(&quantile);
            } else if (q.field() == 2 && q.wire_type() == 1) {
              q.ReadDouble(&value);
            } else {
              q.Skip();
            }
          }
          p.quantiles.emplace_back(quantile, value);
        }
        break;
      }
      default:
        r.Skip();
    }
  }
  return p;
}

// An ExponentialHistogramDataPoint as Prometheus's translator makes it a native histogram
// (exponentialToNativeHistogram): scale above 8 merged down to schema 8, OTel bucket k
// (base^k, base^(k+1)] at Prometheus index k+1, spans split at gaps of over two empty buckets,
// the zero threshold always 1e-128 (the point's own is not read, as in Prometheus), and
// NoRecordedValue a stale marker. (Delta ones are dropped before, as Prometheus does by
// default.)
struct ExpPoint {
  std::vector<OtlpAttribute> attrs;
  int64_t t_ms = 0;
  uint64_t count = 0;
  double sum = 0;
  bool has_sum = false;
  int32_t scale = 0;
  uint64_t zero_count = 0;
  int32_t offsets[2] = {0, 0};  // positive, negative
  std::vector<uint64_t> counts[2];
  uint32_t flags = 0;
  std::vector<Exemplar> exemplars;
};

ExpPoint DecodeExpPoint(std::string_view data) {
  ExpPoint p;
  WireReader r(data);
  while (r.NextField()) {
    const uint32_t f = r.field();
    uint64_t u = 0;
    std::string_view b;
    if (r.wire_type() == static_cast<uint8_t>(WireType::kFixed64) && r.ReadFixed64(&u)) {
      if (f == 3) p.t_ms = NanosToMillis(u);
      if (f == 4) p.count = u;
      if (f == 5) p.sum = std::bit_cast<double>(u), p.has_sum = true;
      if (f == 7) p.zero_count = u;
    } else if (r.wire_type() == static_cast<uint8_t>(WireType::kVarint) && r.ReadVarint(&u)) {
      if (f == 6) p.scale = DecodeSInt32(u);
      if (f == 10) p.flags = static_cast<uint32_t>(u);
    } else if (r.wire_type() == static_cast<uint8_t>(WireType::kLen) && r.ReadBytes(&b)) {
      if (f == 1) DecodeAttribute(b, p.attrs);
      if (f == 11) {
        Exemplar e;
        if (DecodeExemplar(b, e)) p.exemplars.push_back(std::move(e));
      }
      if (f == 8 || f == 9) {  // Buckets: offset 1 (sint32), bucket_counts 2 (uint64)
        const int side = f == 8 ? 0 : 1;
        WireReader q(b);
        while (q.NextField()) {
          uint64_t v = 0;
          if (q.field() == 1 && q.wire_type() == 0 && q.ReadVarint(&v)) {
            p.offsets[side] = DecodeSInt32(v);
          } else if (q.field() == 2) {
            ReadRepeatedVarint(q, [&](uint64_t c) {
              p.counts[side].push_back(c);
              return true;
            });
          } else {
            q.Skip();
          }
        }
      }
    } else {
      r.Skip();
    }
  }
  return p;
}

// Prometheus's convertBucketsLayout: OTel bucket counts from `offset`, merged 2^scale_down at
// a time, as Prometheus spans and delta-encoded counts. Index arithmetic is done in 64 bits;
// false (the point is dropped) for indexes or counts a histogram cannot hold.
bool ConvertBucketsLayout(const std::vector<uint64_t>& counts, int32_t offset, int32_t scale_down,
                          std::vector<histogram::Span>& spans, std::vector<int64_t>& deltas) {
  if (counts.empty()) return true;
  const int shift = std::min(scale_down, 62);
  auto index = [&](int64_t i) { return ((i + offset) >> shift) + 1; };
  bool ok = true;
  auto span = [&](int64_t off) {
    ok = ok && off >= -histogram::kMaxBucketIndex && off <= histogram::kMaxBucketIndex;
    spans.push_back({static_cast<int32_t>(ok ? off : 0), 0});
  };
  int64_t count = 0;
  int64_t prev = 0;
  auto append = [&](int64_t c) {
    ++spans.back().length;
    deltas.push_back(c - prev);  // both in [0, INT64_MAX]
    prev = c;
  };
  auto add = [&](uint64_t c) {
    ok = ok && c <= static_cast<uint64_t>(INT64_MAX) &&
         !__builtin_add_overflow(count, static_cast<int64_t>(c), &count);
  };
  int64_t bucket_idx = index(0);
  span(bucket_idx);
  const auto n = static_cast<int64_t>(counts.size());
  for (int64_t i = 0; i < n && ok; ++i) {
    const uint64_t c = counts[static_cast<size_t>(i)];
    int64_t next = index(i);
    if (bucket_idx == next) {
      add(c);
      continue;
    }
    if (count == 0) {
      add(c);
      continue;
    }
    int64_t gap = next - bucket_idx - 1;
    if (gap > 2) {
      span(gap);
    } else {
      for (int64_t j = 0; j < gap; ++j) append(0);
    }
    append(count);
    count = 0;
    add(c);
    bucket_idx = next;
  }
  int64_t gap = index(n - 1) - bucket_idx;
  if (gap > 2) {
    span(gap);
  } else {
    for (int64_t j = 0; j < gap; ++j) append(0);
  }
  append(count);
  return ok;
}

class Translator {
 public:
  explicit Translator(OtlpTranslation& out) : out_(out) {}

  void Resource(std::string_view resource_metrics) {
    std::string_view resource;
    std::vector<std::string_view> scopes;
    SplitResourceMessage(resource_metrics, &resource, &scopes);
    res_ = DecodeResource(resource);
    max_t_ = INT64_MIN;
    for (auto scope : scopes) Scope(scope);
    if ((!res_.job.empty() || !res_.instance.empty()) && !res_.others.empty() &&
        max_t_ != INT64_MIN) {
      LabelMap labels;
      AddAttributeLabels(res_.others, labels);
      Emit("target_info", labels, {}, {}, max_t_, 1.0);
    }
  }

 private:
  void Scope(std::string_view scope_metrics) {
    WireReader r(scope_metrics);
    while (r.NextField()) {
      std::string_view b;
      if (r.field() == 2 && r.ReadBytes(&b)) {
        Metric(b);
      } else {
        r.Skip();
      }
    }
  }

  void Drop(uint64_t n, std::string reason) {
    out_.dropped += n;
    if (out_.drop_reasons.size() < kMaxDropReasons) out_.drop_reasons.push_back(std::move(reason));
  }

  void Metric(std::string_view metric) {
    std::string_view name, help, unit, data;
    uint32_t data_field = 0;
    WireReader r(metric);
    while (r.NextField()) {
      std::string_view b;
      uint32_t f = r.field();
      if (r.wire_type() != 2 || !r.ReadBytes(&b)) {
        r.Skip();
        continue;
      }
      if (f == 1) name = b;
      if (f == 2) help = b;
      if (f == 3) unit = b;
      if (f == 5 || f == 7 || f == 9 || f == 10 || f == 11) data = b, data_field = f;
    }
    // The data message: data_points = 1, aggregation_temporality = 2, is_monotonic = 3.
    std::vector<std::string_view> points;
    uint64_t temporality = 0, monotonic = 0;
    WireReader d(data);
    while (d.NextField()) {
      std::string_view b;
      if (d.field() == 1 && d.ReadBytes(&b)) {
        points.push_back(b);
      } else if (d.field() == 2 && d.wire_type() == 0) {
        d.ReadVarint(&temporality);
      } else if (d.field() == 3 && d.wire_type() == 0) {
        d.ReadVarint(&monotonic);
      } else {
        d.Skip();
      }
    }
    out_.points += points.size();
    if (points.empty()) return;
    OtlpMetricKind kind;
    MetricType type;
    switch (data_field) {
      case 5:
        kind = OtlpMetricKind::kGauge, type = MetricType::kGauge;
        break;
      case 7:
        if (temporality != kCumulative) {
          return Drop(
              points.size(),
              fmt::format("metric {}: sums with delta temporality are not supported", name));
        }
        kind = monotonic ? OtlpMetricKind::kCounter : OtlpMetricKind::kGauge;
        type = monotonic ? MetricType::kCounter : MetricType::kGauge;
        break;
      case 9:
        if (temporality != kCumulative) {
          return Drop(
              points.size(),
              fmt::format("metric {}: histograms with delta temporality are not supported", name));
        }
        kind = OtlpMetricKind::kHistogram, type = MetricType::kHistogram;
        break;
      case 11:
        kind = OtlpMetricKind::kSummary, type = MetricType::kSummary;
        break;
      default:  // 10: exponential histograms
        if (temporality != kCumulative) {
          return Drop(points.size(),
                      fmt::format("metric {}: exponential histograms with delta temporality are "
                                  "not supported",
                                  name));
        }
        kind = OtlpMetricKind::kHistogram, type = MetricType::kHistogram;
        break;
    }
    std::string family = PrometheusMetricName(name, unit, kind);
    if (family.empty()) {
      return Drop(points.size(), fmt::format("metric \"{}\": no valid Prometheus name", name));
    }
    out_.request.metadata.push_back({type, family, std::string(help), UnitWords(unit).first});
    if (data_field == 10) {
      for (auto pd : points) EmitNative(family, name, DecodeExpPoint(pd));
      return;
    }
    // Prometheus keeps the exemplars of sums and histograms, not of gauges.
    const bool exemplars = data_field != 5;
    for (auto pd : points) Emit(family, kind, DecodePoint(pd, kind, exemplars));
  }

  // An exponential histogram point as one native histogram sample, with its exemplars.
  void EmitNative(const std::string& family, std::string_view name, ExpPoint p) {
    if (p.scale < histogram::kExponentialSchemaMin) {
      return Drop(
          1, fmt::format("metric {}: exponential histogram scale {} is below -4", name, p.scale));
    }
    const int32_t scale_down = std::max(0, p.scale - histogram::kExponentialSchemaMax);
    histogram::IntHistogram h;
    h.schema = std::min(p.scale, histogram::kExponentialSchemaMax);
    h.zero_threshold = 1e-128;
    h.zero_count = p.zero_count;
    if (!ConvertBucketsLayout(p.counts[0], p.offsets[0], scale_down, h.positive_spans,
                              h.positive_deltas) ||
        !ConvertBucketsLayout(p.counts[1], p.offsets[1], scale_down, h.negative_spans,
                              h.negative_deltas)) {
      return Drop(1, fmt::format("metric {}: exponential histogram buckets out of range", name));
    }
    if ((p.flags & kNoRecordedValue) != 0) {
      h.sum = StaleNaN();
      h.count = kStaleNaNBits;
    } else {
      h.sum = p.has_sum ? p.sum : 0;
      h.count = p.count;
    }
    if (Status st = h.Validate(); !st.ok()) {
      return Drop(1, fmt::format("metric {}: exponential histogram point is invalid: {}", name,
                                 st.message()));
    }
    LabelMap labels;
    AddAttributeLabels(std::move(p.attrs), labels);
    max_t_ = std::max(max_t_, p.t_ms);
    TimeSeries& ts = NewSeries(family, labels, {}, {});
    ts.histograms.push_back(
        {p.t_ms, std::make_shared<const histogram::FloatHistogram>(h.ToFloat())});
    ts.exemplars = std::move(p.exemplars);
  }

  void Emit(const std::string& family, OtlpMetricKind kind, Point p) {
    LabelMap labels;
    AddAttributeLabels(std::move(p.attrs), labels);
    max_t_ = std::max(max_t_, p.t_ms);
    const bool stale = (p.flags & kNoRecordedValue) != 0;
    auto value = [&](double v) { return stale ? StaleNaN() : v; };
    switch (kind) {
      case OtlpMetricKind::kGauge:
      case OtlpMetricKind::kCounter:
        Emit(family, labels, {}, {}, p.t_ms, value(p.value));
        out_.request.series.back().exemplars = std::move(p.exemplars);
        break;
      case OtlpMetricKind::kHistogram: {
        if (p.has_sum) Emit(family + "_sum", labels, {}, {}, p.t_ms, value(p.sum));
        Emit(family + "_count", labels, {}, {}, p.t_ms, value(static_cast<double>(p.count)));
        if (p.bucket_counts.empty()) break;
        uint64_t cumulative = 0;
        // Each exemplar goes to the first bucket whose bound is at or above its value.
        const size_t buckets = std::min(p.bounds.size(), p.bucket_counts.size());
        auto take_exemplars = [&](std::optional<double> bound) {
          auto& mine = out_.request.series.back().exemplars;
          std::erase_if(p.exemplars, [&](Exemplar& e) {
            if (bound && !(e.value <= *bound)) return false;
            mine.push_back(std::move(e));
            return true;
          });
        };
        for (size_t i = 0; i < buckets; ++i) {
          cumulative += p.bucket_counts[i];
          Emit(family + "_bucket", labels, "le", FormatFloatF(p.bounds[i]), p.t_ms,
               value(static_cast<double>(cumulative)));
          take_exemplars(p.bounds[i]);
        }
        Emit(family + "_bucket", labels, "le", "+Inf", p.t_ms, value(static_cast<double>(p.count)));
        take_exemplars(std::nullopt);
        break;
      }
      case OtlpMetricKind::kSummary:
        // A summary's sum is a plain double (absent means 0), so it is always written.
        Emit(family + "_sum", labels, {}, {}, p.t_ms, value(p.sum));
        Emit(family + "_count", labels, {}, {}, p.t_ms, value(static_cast<double>(p.count)));
        for (const auto& [q, v] : p.quantiles) {
          Emit(family, labels, "quantile", FormatFloatF(q), p.t_ms, value(v));
        }
        break;
    }
  }

  // A new series of the request: `labels` + job/instance + __name__ + an optional extra label.
  TimeSeries& NewSeries(const std::string& name, const LabelMap& labels,
                        std::string_view extra_name, const std::string& extra_value) {
    LabelMap all = labels;
    if (!res_.job.empty()) all["job"] = res_.job;
    if (!res_.instance.empty()) all["instance"] = res_.instance;
    all[std::string(kMetricNameLabel)] = name;
    if (!extra_name.empty()) all[std::string(extra_name)] = extra_value;
    TimeSeries& ts = out_.request.series.emplace_back();
    ts.labels.reserve(all.size());
    for (auto& [k, val] : all) {
      if (!val.empty()) ts.labels.push_back({k, std::move(val)});
    }
    return ts;
  }

  // One series with one sample.
  void Emit(const std::string& name, const LabelMap& labels, std::string_view extra_name,
            const std::string& extra_value, int64_t t, double v) {
    NewSeries(name, labels, extra_name, extra_value).samples.push_back({t, v});
  }

  OtlpTranslation& out_;
  ResourceInfo res_;
  int64_t max_t_ = INT64_MIN;
};

}  // namespace

std::string PrometheusMetricName(std::string_view name, std::string_view unit,
                                 OtlpMetricKind kind) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : name) {
    if (IsAlnum(c) || c == ':') {
      cur.push_back(c);
    } else if (!cur.empty()) {
      tokens.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  auto has = [&](std::string_view t) {
    return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
  };
  auto remove = [&](std::string_view t) {
    tokens.erase(std::remove(tokens.begin(), tokens.end(), t), tokens.end());
  };
  auto [main, per] = UnitWords(unit);
  if (!main.empty() && !has(main)) tokens.push_back(main);
  if (!per.empty() && !has(per)) {
    tokens.emplace_back("per");
    tokens.push_back(per);
  }
  if (kind == OtlpMetricKind::kCounter) {
    remove("total");
    tokens.emplace_back("total");
  }
  if (unit == "1" && kind == OtlpMetricKind::kGauge) {
    remove("ratio");
    tokens.emplace_back("ratio");
  }
  std::string out;
  for (const auto& t : tokens) {
    if (!out.empty()) out.push_back('_');
    out += t;
  }
  if (!out.empty() && out[0] >= '0' && out[0] <= '9') out.insert(0, "_");
  return out;
}

std::string PrometheusLabelName(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) out.push_back(IsAlnum(c) || c == '_' ? c : '_');
  if (out.empty()) return out;
  if (out[0] >= '0' && out[0] <= '9') {
    out.insert(0, "key_");
  } else if (out[0] == '_' && (out.size() < 2 || out[1] != '_')) {
    out.insert(0, "key");
  }
  return out;
}

Result<OtlpTranslation> TranslateOtlpMetrics(std::string_view data) {
  RETURN_IF_ERROR(ScanOtlp(OtlpSignal::kMetrics, data).status());
  OtlpTranslation out;
  Translator t(out);
  WireReader r(data);
  while (r.NextField()) {
    std::string_view b;
    if (r.field() == 1 && r.ReadBytes(&b)) {
      t.Resource(b);
    } else {
      r.Skip();
    }
  }
  return out;
}

}  // namespace strata::proto
