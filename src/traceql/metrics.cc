#include "traceql/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

namespace strata::traceql {

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Labels = std::vector<std::pair<std::string, Static>>;

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// What *_over_time measures of a value: numbers as they are, durations in seconds; NaN for
// anything else (the span is left out).
double Measure(const Static& v) {
  switch (v.type) {
    case StaticType::kInt:
      return static_cast<double>(v.i);
    case StaticType::kFloat:
      return v.f;
    case StaticType::kDuration:
      return static_cast<double>(v.i) / kSecond;
    default:
      return kNaN;
  }
}

// Tempo's log2 bucket of a value: the smallest power of two at or above it, for ints and
// durations of at least 2 (a duration's bucket in seconds); nullopt for other values.
std::optional<double> Log2Bucket(const Static& v) {
  if ((v.type != StaticType::kInt && v.type != StaticType::kDuration) || v.i < 2) {
    return std::nullopt;
  }
  const auto shift = 64 - std::countl_zero(static_cast<uint64_t>(v.i) - 1);
  const auto bucket = static_cast<double>(uint64_t{1} << shift);
  return v.type == StaticType::kDuration ? bucket / kSecond : bucket;
}

struct Bucket {
  double max;
  int64_t count;
};

// The `q` quantile of log2 buckets (ascending, counts > 0), as Tempo interpolates it: the
// bucket holding the ceil(q*N)th value, exponentially between its bounds; 0 without values.
double Log2Quantile(double q, const std::vector<Bucket>& buckets) {
  int64_t total_count = 0;
  for (const Bucket& b : buckets) total_count += b.count;
  if (total_count == 0 || std::isnan(q) || q < 0 || q > 1) return 0;
  const auto want =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(total_count))));
  int64_t total = 0;
  size_t at = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    at = i;
    if (total + buckets[i].count > want) break;
    total += buckets[i].count;
    if (total == want) return buckets[i].max;
  }
  const double interp = static_cast<double>(want - total) / static_cast<double>(buckets[at].count);
  const double max_v = std::log2(buckets[at].max);
  const double min_v = at > 0 ? std::log2(buckets[at - 1].max) : max_v - 1;
  return std::pow(2, min_v + (max_v - min_v) * interp);
}

// A label value as protobuf's text format writes an AnyValue: what Tempo orders them by.
std::string CompactText(const Static& v) {
  switch (v.type) {
    case StaticType::kBoolean:
      return v.i != 0 ? "bool_value:true " : "bool_value:false ";
    case StaticType::kFloat:
      return fmt::format("double_value:{} ", v.f);
    case StaticType::kInt:
      return fmt::format("int_value:{} ", v.i);
    default: {
      const std::string s = v.type == StaticType::kString ? v.s : v.String();
      std::string out = "string_value:\"";
      for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
          out += fmt::format("\\{:03o}", c);
        } else {
          out += static_cast<char>(c);
        }
      }
      return out + "\" ";
    }
  }
}

std::string EncodeLabels(const Labels& ls) {
  std::string out;
  for (const auto& [k, v] : ls) {
    out += k;
    out += '\0';
    out += CompactText(v);
    out += '\0';
  }
  return out;
}

bool LabelsLess(const Labels& a, const Labels& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first) return a[i].first < b[i].first;
    if (a[i].second != b[i].second) return LabelValueLess(a[i].second, b[i].second);
  }
  return false;
}

bool Compare(Op op, double a, double b) {
  switch (op) {
    case Op::kEq:
      return a == b;
    case Op::kNeq:
      return a != b;
    case Op::kGt:
      return a > b;
    case Op::kGte:
      return a >= b;
    case Op::kLt:
      return a < b;
    case Op::kLte:
      return a <= b;
    default:
      return false;
  }
}

double Arithmetic(Op op, double a, double b) {
  switch (op) {
    case Op::kAdd:
      return a + b;
    case Op::kSub:
      return a - b;
    case Op::kMult:
      return a * b;
    case Op::kDiv:
      return b == 0 ? kNaN : a / b;  // Tempo's: division by zero has no value
    default:
      return kNaN;
  }
}

// A series' labels but `__name__`, encoded: what arithmetic between queries matches series by.
std::string MatchKey(const Labels& ls) {
  Labels key;
  for (const auto& l : ls) {
    if (l.first != "__name__") key.push_back(l);
  }
  return EncodeLabels(key);
}

const Static* NameOf(const Labels& ls) {
  for (const auto& [k, v] : ls) {
    if (k == "__name__") return &v;
  }
  return nullptr;
}

// `lhs op rhs` as Tempo's applyBinaryOp: series are matched by their labels but `__name__`; a
// side's series without labels applies to every series of the other side. A pair's labels are
// the left's and then the right's others, `__name__` joined as "(a op b)" when both sides are
// named and left out otherwise.
std::vector<Series> Combine(Op op, const std::vector<Series>& lhs, const std::vector<Series>& rhs) {
  std::map<std::string, const Series*> left, right;
  for (const Series& s : lhs) left.emplace(MatchKey(s.labels), &s);
  for (const Series& s : rhs) right.emplace(MatchKey(s.labels), &s);
  const std::string none = EncodeLabels({});
  auto match = [&none](const std::map<std::string, const Series*>& side, const std::string& key) {
    auto it = side.find(key);
    if (it == side.end()) it = side.find(none);
    return it == side.end() ? nullptr : it->second;
  };
  // The keys of the right side, unless it has a series without labels to apply to the left's.
  const auto& target = right.count(none) ? left : right;
  std::vector<Series> out;
  for (const auto& [key, unused] : target) {
    const Series* l = match(left, key);
    const Series* r = match(right, key);
    if (l == nullptr || r == nullptr) continue;
    Series& s = out.emplace_back();
    s.labels = l->labels;
    for (const auto& label : r->labels) {
      const bool present = std::any_of(s.labels.begin(), s.labels.end(),
                                       [&label](const auto& x) { return x.first == label.first; });
      if (label.first != "__name__" && !present) s.labels.push_back(label);
    }
    const Static* ln = NameOf(l->labels);
    const Static* rn = NameOf(r->labels);
    if (ln != nullptr && rn != nullptr && ln->type == StaticType::kString &&
        rn->type == StaticType::kString) {
      for (auto& [k, v] : s.labels) {
        if (k == "__name__") v = Static::Str(fmt::format("({} {} {})", ln->s, OpString(op), rn->s));
      }
    } else {
      std::erase_if(s.labels, [](const auto& x) { return x.first == "__name__"; });
    }
    const size_t n = std::min(l->values.size(), r->values.size());
    s.values.resize(n);
    for (size_t i = 0; i < n; ++i) s.values[i] = Arithmetic(op, l->values[i], r->values[i]);
  }
  return out;
}

// topk/bottomk: at each interval, only the `limit` highest (lowest) values stay, ties going
// to the series whose labels sort first; nothing changes when there are no more series.
void KeepExtremes(std::vector<Series>& series, size_t limit, bool top) {
  if (series.size() <= limit) return;
  const size_t n = series.empty() ? 0 : series[0].values.size();
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) {
    order.clear();
    for (size_t s = 0; s < series.size(); ++s) {
      if (!std::isnan(series[s].values[i])) order.push_back(s);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const double x = series[a].values[i], y = series[b].values[i];
      if (x != y) return top ? x > y : x < y;
      return LabelsLess(series[a].labels, series[b].labels);
    });
    for (size_t k = limit; k < order.size(); ++k) series[order[k]].values[i] = kNaN;
  }
}

}  // namespace

bool LabelValueLess(const Static& a, const Static& b) { return CompactText(a) < CompactText(b); }

Intervals Intervals::Range(int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  int64_t start = FloorDiv(start_ns, step_ns) * step_ns;
  const int64_t end = -FloorDiv(-end_ns, step_ns) * step_ns;
  if (start > step_ns) start -= step_ns;
  return {start, step_ns, (end - start) / step_ns};
}

Intervals Intervals::Instant(int64_t start_ns, int64_t end_ns) {
  return {start_ns, end_ns - start_ns, 1};
}

int64_t Intervals::Of(int64_t t_ns) const {
  if (t_ns <= start_ns || t_ns > start_ns + count * step_ns) return -1;
  return (t_ns - start_ns - 1) / step_ns;
}

int64_t DefaultStep(int64_t start_ns, int64_t end_ns) {
  const int64_t delta = end_ns - start_ns;
  const int64_t baseline = delta / 240;
  if (delta < 60 * kSecond) {
    constexpr int64_t kFine = 50'000'000;
    return baseline > kFine ? baseline / kFine * kFine : kFine;
  }
  for (int64_t g : {3600 * kSecond, 300 * kSecond, 60 * kSecond, 15 * kSecond, 5 * kSecond}) {
    if (baseline > g) return baseline / g * g;
  }
  return baseline > kSecond ? baseline / kSecond * kSecond : kSecond;
}

MetricsEvaluator::MetricsEvaluator(const MetricsExpr& query, Intervals intervals, size_t max_series)
    : query_(query), intervals_(intervals), max_series_(max_series), pipeline_(query.pipeline) {
  for (const Attribute& a : query.first.by) by_names_.push_back(a.String());
  if (query.kind == MetricsExpr::Kind::kMath) {
    lhs_ = std::make_unique<MetricsEvaluator>(*query.lhs, intervals, max_series);
    rhs_ = std::make_unique<MetricsEvaluator>(*query.rhs, intervals, max_series);
  }
}

MetricsEvaluator::~MetricsEvaluator() = default;

bool MetricsEvaluator::truncated() const {
  return truncated_ || (lhs_ && (lhs_->truncated() || rhs_->truncated()));
}

uint64_t MetricsEvaluator::spans_observed() const {
  return spans_ + (lhs_ ? lhs_->spans_observed() + rhs_->spans_observed() : 0);
}

void MetricsEvaluator::Observe(const Trace& t) {
  if (lhs_) {
    lhs_->Observe(t);
    rhs_->Observe(t);
    return;
  }
  std::vector<bool> seen(t.spans.size());
  for (const Spanset& ss : pipeline_.Eval(t)) {
    for (int32_t i : ss.spans) {
      if (seen[static_cast<size_t>(i)]) continue;
      seen[static_cast<size_t>(i)] = true;
      const Span& s = t.spans[static_cast<size_t>(i)];
      if (query_.first.op == MetricsOp::kCompare) {
        if (const int64_t at = intervals_.Of(s.start_ns); at >= 0) AddCompared(t, s, at);
        continue;
      }
      AddSpan(s.start_ns, [&](const Attribute& a) { return Lookup(t, s, a, -1, -1); });
    }
  }
}

void MetricsEvaluator::AddSpan(int64_t start_ns,
                               const std::function<Static(const Attribute&)>& lookup) {
  const int64_t at = intervals_.Of(start_ns);
  if (at < 0) return;
  const MetricsAggregate& m = query_.first;
  Labels labels;
  for (size_t i = 0; i < m.by.size(); ++i) {
    Static v = lookup(m.by[i]);
    if (v.type != StaticType::kNil) labels.emplace_back(by_names_[i], std::move(v));
  }
  // A span without any by() value is grouped under the first, as nil.
  if (!m.by.empty() && labels.empty()) labels.emplace_back(by_names_[0], Static::Nil());
  double value = 1;
  switch (m.op) {
    case MetricsOp::kRate:
    case MetricsOp::kCountOverTime:
      break;
    case MetricsOp::kMinOverTime:
    case MetricsOp::kMaxOverTime:
    case MetricsOp::kAvgOverTime:
    case MetricsOp::kSumOverTime:
      value = Measure(lookup(*m.attr));
      if (std::isnan(value)) return;
      break;
    case MetricsOp::kQuantileOverTime:
    case MetricsOp::kHistogramOverTime: {
      std::optional<double> bucket = Log2Bucket(lookup(*m.attr));
      if (!bucket) return;
      labels.emplace_back("__bucket", Static::Float(*bucket));
      break;
    }
    case MetricsOp::kCompare:
      return;  // counted by AddCompared
  }
  // Without by(), a series is named by its function (histograms only by their buckets).
  if (m.by.empty() && m.op != MetricsOp::kQuantileOverTime &&
      m.op != MetricsOp::kHistogramOverTime) {
    labels.emplace_back("__name__", Static::Str(std::string(MetricsName(m.op))));
  }
  Acc* acc = SeriesFor(std::move(labels));
  if (acc == nullptr) return;
  ++spans_;
  Cell& c = acc->cells[static_cast<size_t>(at)];
  if (c.n == 0) {
    c.min = c.max = value;
  } else {
    c.min = std::min(c.min, value);
    c.max = std::max(c.max, value);
  }
  ++c.n;
  const double sum = c.sum + value;
  c.comp += std::abs(c.sum) >= std::abs(value) ? (c.sum - sum) + value : (value - sum) + c.sum;
  c.sum = sum;
}

void MetricsEvaluator::AddCompared(const Trace& t, const Span& s, int64_t at) {
  const MetricsAggregate& m = query_.first;
  const bool in_window = (m.compare_start == 0 && m.compare_end == 0) ||
                         (s.start_ns > m.compare_start && s.start_ns <= m.compare_end);
  CompareSide& side = in_window && pipeline_.SpanMatches(t, *m.compare, s) ? selection_ : baseline_;
  ++spans_;
  auto count = [&](const std::string& name, const Static& v) {
    // Durations and IDs are never compared: their values are nearly all distinct.
    if (v.type == StaticType::kNil || v.type == StaticType::kDuration) return;
    // An attribute's total and each value count as a series against max_series_; a total is
    // counted whenever its attribute is, so totals stay whole when values are left out.
    const auto n = static_cast<size_t>(intervals_.count);
    auto total = side.totals.find(name);
    if (total == side.totals.end()) {
      if (compared_ >= max_series_) {
        truncated_ = true;
        return;
      }
      ++compared_;
      total = side.totals.emplace(name, std::vector<double>(n)).first;
    }
    total->second[static_cast<size_t>(at)] += 1;
    auto& values = side.values[name];
    std::string key = CompactText(v);
    auto it = values.find(key);
    if (it == values.end()) {
      if (compared_ >= max_series_) {
        truncated_ = true;
        return;
      }
      ++compared_;
      it = values.emplace(std::move(key), std::pair(v, std::vector<double>(n))).first;
    }
    it->second.second[static_cast<size_t>(at)] += 1;
  };
  auto scoped = [&](Scope scope, const Attrs& attrs) {
    Attribute a;
    a.scope = scope;
    for (const auto& [key, v] : attrs) {
      a.name = key;
      count(a.String(), v);
    }
  };
  // What Tempo's storage hands compare() of a span: its trace's root, its resource, its
  // instrumentation scope, its own intrinsics and attributes, its events' and links'.
  if (!t.root_service.empty()) count("rootServiceName", Static::Str(t.root_service));
  if (!t.root_name.empty()) count("rootName", Static::Str(t.root_name));
  scoped(Scope::kResource, t.resources[s.resource]);
  const InstrumentationScope& scope = t.scopes[s.scope];
  if (!scope.name.empty()) count("instrumentation:name", Static::Str(scope.name));
  if (!scope.version.empty()) count("instrumentation:version", Static::Str(scope.version));
  scoped(Scope::kInstrumentation, scope.attrs);
  count("name", Static::Str(s.name));
  count("kind", Static::Kind(s.kind));
  count("status", Static::Status(s.status));
  if (!s.status_message.empty()) count("statusMessage", Static::Str(s.status_message));
  scoped(Scope::kSpan, s.attrs);
  for (const SpanEvent& e : s.events) {
    count("event:name", Static::Str(e.name));
    scoped(Scope::kEvent, e.attrs);
  }
  for (const SpanLink& l : s.links) scoped(Scope::kLink, l.attrs);
}

MetricsEvaluator::Acc* MetricsEvaluator::SeriesFor(Labels labels) {
  // Spans come in runs of one series (a trace's spans of one service): the last one first.
  if (last_ != nullptr && last_->labels == labels) return last_;
  std::string key = EncodeLabels(labels);
  auto it = series_.find(key);
  if (it != series_.end()) {
    last_ = it->second.get();
    return last_;
  }
  if (series_.size() >= max_series_) {
    truncated_ = true;
    return nullptr;
  }
  auto acc = std::make_unique<Acc>();
  acc->labels = std::move(labels);
  acc->cells.resize(static_cast<size_t>(intervals_.count));
  last_ = series_.emplace(std::move(key), std::move(acc)).first->second.get();
  return last_;
}

std::vector<Series> MetricsEvaluator::Compared() const {
  std::vector<Series> out;
  const auto top = static_cast<size_t>(query_.first.compare_top);
  auto add = [&](std::string_view type, const CompareSide& side) {
    for (const auto& [name, values] : side.values) {
      // The attribute's `top` values with the most spans over the whole range (ties to the
      // value sorting first).
      std::vector<std::pair<double, const std::pair<Static, std::vector<double>>*>> ranked;
      for (const auto& [key, v] : values) {
        double sum = 0;
        for (double c : v.second) sum += c;
        ranked.emplace_back(sum, &v);
      }
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t i = 0; i < ranked.size() && i < top; ++i) {
        out.push_back(
            {{{"__meta_type", Static::Str(std::string(type))}, {name, ranked[i].second->first}},
             ranked[i].second->second});
      }
    }
    for (const auto& [name, counts] : side.totals) {
      out.push_back(
          {{{"__meta_type", Static::Str(std::string(type) + "_total")}, {name, Static::Nil()}},
           counts});
    }
  };
  add("baseline", baseline_);
  add("selection", selection_);
  return out;
}

std::vector<Series> MetricsEvaluator::FirstStage() const {
  const MetricsAggregate& m = query_.first;
  const size_t n = static_cast<size_t>(intervals_.count);
  if (m.op == MetricsOp::kCompare) return Compared();
  std::vector<Series> out;
  if (m.op == MetricsOp::kQuantileOverTime) {
    // Each group's buckets (its labels without __bucket, which comes last), ascending.
    std::map<std::string, std::pair<Labels, std::vector<std::pair<double, const Acc*>>>> groups;
    for (const auto& [key, acc] : series_) {
      Labels group(acc->labels.begin(), acc->labels.end() - 1);
      auto& g = groups[EncodeLabels(group)];
      g.first = std::move(group);
      g.second.emplace_back(acc->labels.back().second.f, acc.get());
    }
    for (auto& [key, g] : groups) {
      std::sort(g.second.begin(), g.second.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (double q : m.quantiles) {
        Series s;
        s.labels = g.first;
        s.labels.emplace_back("p", Static::Float(q));
        s.values.resize(n);
        std::vector<Bucket> buckets;
        for (size_t i = 0; i < n; ++i) {
          buckets.clear();
          for (const auto& [max, acc] : g.second) {
            if (acc->cells[i].n > 0) buckets.push_back({max, acc->cells[i].n});
          }
          s.values[i] = Log2Quantile(q, buckets);
        }
        out.push_back(std::move(s));
      }
    }
    return out;
  }
  const double step_seconds = static_cast<double>(intervals_.step_ns) / kSecond;
  for (const auto& [key, acc] : series_) {
    Series s;
    s.labels = acc->labels;
    s.values.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Cell& c = acc->cells[i];
      double v = kNaN;
      switch (m.op) {
        case MetricsOp::kRate:
          v = static_cast<double>(c.n) / step_seconds;
          break;
        case MetricsOp::kCountOverTime:
        case MetricsOp::kHistogramOverTime:
          v = static_cast<double>(c.n);
          break;
        case MetricsOp::kMinOverTime:
          if (c.n > 0) v = c.min;
          break;
        case MetricsOp::kMaxOverTime:
          if (c.n > 0) v = c.max;
          break;
        case MetricsOp::kSumOverTime:
          if (c.n > 0) v = c.sum + c.comp;
          break;
        case MetricsOp::kAvgOverTime:
          if (c.n > 0) v = (c.sum + c.comp) / static_cast<double>(c.n);
          break;
        case MetricsOp::kQuantileOverTime:
        case MetricsOp::kCompare:
          break;
      }
      s.values[i] = v;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Series> MetricsEvaluator::Result() const {
  std::vector<Series> series =
      lhs_ ? Combine(query_.op, lhs_->Result(), rhs_->Result()) : FirstStage();
  for (const SecondStage& st : query_.stages) {
    switch (st.kind) {
      case SecondStage::Kind::kTopK:
      case SecondStage::Kind::kBottomK:
        KeepExtremes(series, static_cast<size_t>(st.limit), st.kind == SecondStage::Kind::kTopK);
        break;
      case SecondStage::Kind::kFilter:
        for (Series& s : series) {
          for (double& v : s.values) {
            if (!std::isnan(v) && !Compare(st.op, v, st.value)) v = kNaN;
          }
        }
        break;
      case SecondStage::Kind::kScalarOp:
        for (Series& s : series) {
          for (double& v : s.values) {
            if (!std::isnan(v)) {
              v = st.scalar_on_left ? Arithmetic(st.op, st.value, v)
                                    : Arithmetic(st.op, v, st.value);
            }
          }
        }
        break;
    }
  }
  std::erase_if(series, [](const Series& s) {
    return std::all_of(s.values.begin(), s.values.end(), [](double v) { return std::isnan(v); });
  });
  std::stable_sort(series.begin(), series.end(),
                   [](const Series& a, const Series& b) { return LabelsLess(a.labels, b.labels); });
  return series;
}

}  // namespace strata::traceql
