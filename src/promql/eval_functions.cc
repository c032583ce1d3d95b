// PromQL functions: instant-vector math, range-vector functions, labels, time, sorting.

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <ctime>
#include <numbers>
#include <span>

#include "base/parallel.h"
#include "base/regex_template.h"
#include "base/units.h"
#include "promql/eval.h"
#include "promql/functions.h"

namespace strata::promql::internal {

namespace {

// Go's math.Max / math.Min: NaN wins, and ±0 are ordered.
double GoMax(double x, double y) {
  if (std::isinf(x) && x > 0) return x;
  if (std::isinf(y) && y > 0) return y;
  if (std::isnan(x) || std::isnan(y)) return CanonicalNaN();
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}
double GoMin(double x, double y) {
  if (std::isinf(x) && x < 0) return x;
  if (std::isinf(y) && y < 0) return y;
  if (std::isnan(x) || std::isnan(y)) return CanonicalNaN();
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

const Expr& Unparen(const Expr& e) {
  const Expr* x = &e;
  while (x->kind == ExprKind::kParen) x = As<ParenExpr>(*x).expr.get();
  return *x;
}

// Drops native histogram samples, and the series left without samples.
void DropHistograms(StepVector& v) {
  bool any = false;
  for (auto& s : v) {
    any = any || s.has_histograms();
    s.h.clear();
  }
  if (any) DropEmpty(v);
}

// Applies fn to every present float value; the metric name goes, and so do native
// histograms (Prometheus's float functions skip them).
template <typename Fn>
StepVector MapValues(StepVector v, Fn fn) {
  DropHistograms(v);
  for (auto& s : v) {
    for (size_t i = 0; i < s.v.size(); ++i) {
      if (IsPresent(s.v[i])) s.v[i] = fn(s.v[i], i);
    }
    s.drop_name = true;
  }
  return v;
}

// histogram_count(), histogram_sum(), ...: fn of each native histogram; float samples give
// nothing.
template <typename Fn>
StepVector MapHistograms(StepVector in, Fn fn) {
  StepVector out;
  for (auto& s : in) {
    if (!s.has_histograms()) continue;
    for (size_t i = 0; i < s.v.size(); ++i) {
      s.v[i] = s.H(i) != nullptr ? fn(*s.H(i)) : Absent();
    }
    s.h.clear();
    s.drop_name = true;
    out.push_back(std::move(s));
  }
  DropEmpty(out);
  return out;
}

// Prometheus's histogramVariance: the observations' variance, each bucket's observations
// taken at its midpoint (arithmetic for custom buckets, geometric for exponential ones, 0 in
// the zero bucket).
double HistogramVariance(const histogram::FloatHistogram& h) {
  double mean = h.sum / h.count;
  double variance = 0;
  double c = 0;
  for (const histogram::Bucket& b : h.AllBuckets()) {
    if (b.count == 0) continue;
    double val = 0;
    if (h.UsesCustomBuckets()) {
      val = (b.upper + b.lower) / 2.0;
    } else if (!(b.lower <= 0 && b.upper >= 0)) {
      val = std::sqrt(b.upper * b.lower);
      if (b.upper < 0) val = -val;
    }
    double delta = val - mean;
    variance = KahanInc(b.count * delta * delta, variance, &c);
  }
  variance += c;
  return variance / h.count;
}

double MathFn(Fn f, double x) {
  switch (f) {
    case Fn::kAbs:
      return std::fabs(x);
    case Fn::kCeil:
      return std::ceil(x);
    case Fn::kFloor:
      return std::floor(x);
    case Fn::kExp:
      return std::exp(x);
    case Fn::kSqrt:
      return std::sqrt(x);
    case Fn::kLn:
      return std::log(x);
    case Fn::kLog2:
      return std::log2(x);
    case Fn::kLog10:
      return std::log10(x);
    case Fn::kSin:
      return std::sin(x);
    case Fn::kCos:
      return std::cos(x);
    case Fn::kTan:
      return std::tan(x);
    case Fn::kAsin:
      return std::asin(x);
    case Fn::kAcos:
      return std::acos(x);
    case Fn::kAtan:
      return std::atan(x);
    case Fn::kSinh:
      return std::sinh(x);
    case Fn::kCosh:
      return std::cosh(x);
    case Fn::kTanh:
      return std::tanh(x);
    case Fn::kAsinh:
      return std::asinh(x);
    case Fn::kAcosh:
      return std::acosh(x);
    case Fn::kAtanh:
      return std::atanh(x);
    case Fn::kDeg:
      return x * 180 / std::numbers::pi;
    case Fn::kRad:
      return x * std::numbers::pi / 180;
    case Fn::kSgn:
      return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    default:
      return x;
  }
}

double DateFn(Fn f, double secs) {
  auto t = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  switch (f) {
    case Fn::kDayOfMonth:
      return tm.tm_mday;
    case Fn::kDayOfWeek:
      return tm.tm_wday;
    case Fn::kDayOfYear:
      return tm.tm_yday + 1;
    case Fn::kHour:
      return tm.tm_hour;
    case Fn::kMinute:
      return tm.tm_min;
    case Fn::kMonth:
      return tm.tm_mon + 1;
    case Fn::kYear:
      return tm.tm_year + 1900;
    case Fn::kDaysInMonth: {
      static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int y = tm.tm_year + 1900;
      bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
      return tm.tm_mon == 1 && leap ? 29 : kDays[tm.tm_mon];
    }
    default:
      return 0;
  }
}

// Labels for absent()/absent_over_time(): the selector's equality matchers, except names that
// appear in more than one matcher. As in Prometheus, a parenthesized or computed argument
// gives no labels.
Labels AbsentLabels(const Expr& arg) {
  const VectorSelector* vs = nullptr;
  if (arg.kind == ExprKind::kVectorSelector) vs = &As<VectorSelector>(arg);
  if (arg.kind == ExprKind::kMatrixSelector) vs = As<MatrixSelector>(arg).vs.get();
  if (vs == nullptr) return {};
  Labels out;
  std::vector<std::string> has;
  for (const auto& m : vs->matchers) {
    if (m.name() == kMetricNameLabel) continue;
    bool seen = std::find(has.begin(), has.end(), m.name()) != has.end();
    std::erase_if(out, [&](const Label& l) { return l.name == m.name(); });
    if (m.type() == Matcher::Type::kEqual && !seen) out.push_back({m.name(), m.value()});
    has.push_back(m.name());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void SetLabel(StepSeries& s, const std::string& name, std::string value) {
  std::erase_if(s.labels, [&](const Label& l) { return l.name == name; });
  if (!value.empty()) {
    s.labels.push_back({name, std::move(value)});
    std::sort(s.labels.begin(), s.labels.end());
  }
  if (name == kMetricNameLabel) s.drop_name = false;
}

StepVector LabelReplace(Evaluator& ev, const Call& c, const Grid& g) {
  std::string dst = ev.EvalString(*c.args[1], g);
  std::string repl = ev.EvalString(*c.args[2], g);
  std::string src = ev.EvalString(*c.args[3], g);
  std::string regex = ev.EvalString(*c.args[4], g);
  RE2::Options opts;
  opts.set_dot_nl(true);
  opts.set_log_errors(false);
  RE2 re("^(?:" + regex + ")$", opts);
  if (!re.ok()) Fail(fmt::format("invalid regular expression in label_replace(): {}", regex));
  if (dst.empty() || !IsValidUtf8(dst)) {
    Fail(fmt::format("invalid destination label name in label_replace(): {}", dst));
  }
  StepVector v = ev.EvalVector(*c.args[0], g);
  std::vector<re2::StringPiece> groups(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
  for (auto& s : v) {
    std::string_view sv = GetLabel(ViewOf(s.labels), src);
    re2::StringPiece input(sv.data(), sv.size());
    if (!re.Match(input, 0, input.size(), RE2::UNANCHORED, groups.data(),
                  static_cast<int>(groups.size()))) {
      continue;
    }
    SetLabel(s, dst, ExpandRegexTemplate(repl, re, groups));
  }
  return v;
}

StepVector LabelJoin(Evaluator& ev, const Call& c, const Grid& g) {
  std::string dst = ev.EvalString(*c.args[1], g);
  std::string sep = ev.EvalString(*c.args[2], g);
  std::vector<std::string> srcs;
  for (size_t k = 3; k < c.args.size(); ++k) {
    srcs.push_back(ev.EvalString(*c.args[k], g));
    if (!IsValidUtf8(srcs.back())) {
      Fail(fmt::format("invalid source label name in label_join(): {}", srcs.back()));
    }
  }
  if (dst.empty() || !IsValidUtf8(dst)) {
    Fail(fmt::format("invalid destination label name in label_join(): {}", dst));
  }
  StepVector v = ev.EvalVector(*c.args[0], g);
  for (auto& s : v) {
    std::string joined;
    auto views = ViewOf(s.labels);
    for (size_t k = 0; k < srcs.size(); ++k) {
      if (k > 0) joined += sep;
      joined += GetLabel(views, srcs[k]);
    }
    SetLabel(s, dst, std::move(joined));
  }
  return v;
}

// --- Range-vector functions -------------------------------------------------------------

struct Window {
  std::span<const Sample> s;
  int64_t start;   // exclusive
  int64_t end;     // inclusive
  int64_t step_t;  // the evaluation timestamp (before offset and @)
  size_t step;     // grid index
};

// Prometheus's extrapolation of a window's increase (extrapolatedRate) from its first and
// last sample, `intervals` sample gaps apart, to the window's edges, unless they are further
// than 1.1 average gaps away; `zero_fraction` of the sampled interval is the furthest the
// start may move back. Divided by the range for a rate.
double ExtrapolationFactor(const Window& w, int64_t first_t, int64_t last_t, size_t intervals,
                           int64_t range_ms, bool rate, double zero_fraction) {
  double to_start = static_cast<double>(first_t - w.start) / 1000;
  double to_end = static_cast<double>(w.end - last_t) / 1000;
  double sampled = static_cast<double>(last_t - first_t) / 1000;
  double avg_gap = sampled / static_cast<double>(intervals);
  double threshold = avg_gap * 1.1;
  double interval = sampled;
  if (to_start >= threshold) to_start = avg_gap / 2;
  if (zero_fraction != HUGE_VAL) {
    double to_zero = sampled * zero_fraction;
    if (to_zero < to_start) to_start = to_zero;
  }
  interval += to_start;
  if (to_end >= threshold) to_end = avg_gap / 2;
  interval += to_end;
  double factor = interval / sampled;
  if (rate) factor /= static_cast<double>(range_ms) / 1000;
  return factor;
}

// `resets`: indexes into the whole series (whose window starts at `lo`) of samples lower than
// their predecessor, so a window's counter resets are found without rescanning it.
double ExtrapolatedRate(const Window& w, int64_t range_ms, bool counter, bool rate,
                        const std::vector<uint32_t>& resets, size_t lo) {
  const auto& s = w.s;
  if (s.size() < 2) return Absent();
  size_t last = s.size() - 1;
  double result = s[last].v - s[0].v;
  if (counter) {
    auto it = std::upper_bound(resets.begin(), resets.end(), static_cast<uint32_t>(lo));
    for (; it != resets.end() && *it < lo + s.size(); ++it) result += s[*it - lo - 1].v;
  }
  // A counter is not extrapolated below zero: the start moves no further back than where
  // the first sample's value would have been 0.
  double zero_fraction = counter && result > 0 && s[0].v >= 0 ? s[0].v / result : HUGE_VAL;
  return result * ExtrapolationFactor(w, s[0].t, s[last].t, last, range_ms, rate, zero_fraction);
}

double InstantValue(const Window& w, bool rate) {
  const auto& s = w.s;
  if (s.size() < 2) return Absent();
  const Sample& last = s[s.size() - 1];
  const Sample& prev = s[s.size() - 2];
  double r = rate && last.v < prev.v ? last.v : last.v - prev.v;
  if (rate) {
    int64_t dt = last.t - prev.t;
    if (dt == 0) return Absent();
    r /= static_cast<double>(dt) / 1000;
  }
  return r;
}

void LinearRegression(std::span<const Sample> s, int64_t intercept_t, double* slope,
                      double* intercept) {
  double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
  double init = s[0].v;
  bool const_y = true;
  for (size_t k = 0; k < s.size(); ++k) {
    if (const_y && k > 0 && s[k].v != init) const_y = false;
    n += 1;
    double x = static_cast<double>(s[k].t - intercept_t) / 1e3;
    sx = KahanInc(x, sx, &cx);
    sy = KahanInc(s[k].v, sy, &cy);
    sxy = KahanInc(x * s[k].v, sxy, &cxy);
    sx2 = KahanInc(x * x, sx2, &cx2);
  }
  if (const_y) {
    if (std::isinf(init)) {
      *slope = *intercept = CanonicalNaN();
    } else {
      *slope = 0;
      *intercept = init;
    }
    return;
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  double cov = sxy - sx * sy / n;
  double var = sx2 - sx * sx / n;
  *slope = cov / var;
  *intercept = sy / n - *slope * sx / n;
}

using histogram::FloatHistogram;
using HistogramSpan = std::span<const histogram::HistogramSample>;

// Warnings about one series' histograms, with Prometheus's texts; a range function gives at
// most a few, and some paths replace those gathered before, as Prometheus's do.
struct HistogramWarnings {
  std::string_view metric;
  std::vector<std::string> texts;

  void MixedFloats() { Add("encountered a mix of histograms and floats for metric name"); }
  void NotCounter() { Add("this native histogram metric is not a counter:"); }
  void NotGauge() { Add("this native histogram metric is not a gauge:"); }
  void Combine(histogram::CombineError e) {
    Add(e == histogram::CombineError::kMixedSchemas
            ? "vector contains a mix of histograms with exponential and custom buckets schemas "
              "for metric name"
            : "vector contains histograms with incompatible custom buckets for metric name");
  }
  void Add(std::string_view what) { texts.push_back(fmt::format("{} {}", what, GoQuote(metric))); }
  void Report(Annotations& annos, PosRange pos) const {
    for (const auto& t : texts) annos.Warn(t, pos);
  }
};

bool IsGauge(const FloatHistogram& h) { return h.hint == histogram::ResetHint::kGauge; }

// rate(), increase() and delta() over a window of at least two histograms: Prometheus's
// histogramRate, then the window's extrapolation (without the float version's stop at zero).
HistogramPtr HistogramRate(const Window& w, HistogramSpan hw, int64_t range_ms, bool counter,
                           bool rate, HistogramWarnings& warn) {
  const FloatHistogram* prev = hw.front().h.get();
  const FloatHistogram& last = *hw.back().h;
  bool custom = prev->UsesCustomBuckets();
  if (counter && (IsGauge(*prev) || IsGauge(last))) warn.NotCounter();
  FloatHistogram empty;
  if (counter && hw[1].h->DetectReset(*prev)) {
    empty.schema = hw[1].h->schema;
    empty.custom_values = hw[1].h->custom_values;
    custom = hw[1].h->UsesCustomBuckets();
    prev = &empty;
  }
  if (last.UsesCustomBuckets() != custom) {
    warn.Combine(histogram::CombineError::kMixedSchemas);
    return nullptr;
  }
  int32_t min_schema = std::min(prev->schema, last.schema);
  for (size_t k = 1; k + 1 < hw.size() && counter; ++k) {
    const FloatHistogram& curr = *hw[k].h;
    if (IsGauge(curr)) warn.NotCounter();
    min_schema = std::min(min_schema, curr.schema);
    if (curr.UsesCustomBuckets() != custom) {
      warn.texts.clear();
      warn.Combine(histogram::CombineError::kMixedSchemas);
      return nullptr;
    }
  }
  auto h = std::make_shared<FloatHistogram>(last.CopyToSchema(min_schema));
  if (auto e = h->Sub(*prev); e != histogram::CombineError::kNone) {
    warn.texts.clear();
    warn.Combine(e);
    return nullptr;
  }
  if (counter) {
    for (size_t k = 1; k < hw.size(); ++k) {
      const FloatHistogram& curr = *hw[k].h;
      if (curr.DetectReset(*prev)) {
        if (auto e = h->Add(*prev); e != histogram::CombineError::kNone) {
          warn.texts.clear();
          warn.Combine(e);
          return nullptr;
        }
      }
      prev = &curr;
    }
  } else if (!IsGauge(*hw.front().h) || !IsGauge(last)) {
    warn.NotGauge();
  }
  h->hint = histogram::ResetHint::kGauge;
  h->Compact();
  h->Mul(
      ExtrapolationFactor(w, hw.front().t, hw.back().t, hw.size() - 1, range_ms, rate, HUGE_VAL));
  return h;
}

// irate() and idelta() over the last two samples of a window, floats or histograms
// (Prometheus's instantValue); a histogram result goes to `*h`.
double InstantValueMixed(std::span<const Sample> s, HistogramSpan hw, bool rate,
                         HistogramWarnings& warn, HistogramPtr* h) {
  if (s.size() + hw.size() < 2) return Absent();
  struct Point {
    int64_t t;
    double v;
    const histogram::HistogramSample* h;
  };
  std::vector<Point> last;
  for (size_t k = s.size() >= 2 ? s.size() - 2 : 0; k < s.size(); ++k) {
    last.push_back({s[k].t, s[k].v, nullptr});
  }
  for (size_t k = hw.size() >= 2 ? hw.size() - 2 : 0; k < hw.size(); ++k) {
    last.push_back({hw[k].t, 0, &hw[k]});
  }
  std::sort(last.begin(), last.end(), [](const Point& a, const Point& b) { return a.t < b.t; });
  const Point& p0 = last[last.size() - 2];
  const Point& p1 = last.back();
  int64_t dt = p1.t - p0.t;
  if (dt == 0) return Absent();
  if (p0.h == nullptr && p1.h == nullptr) {
    double r = rate && p1.v < p0.v ? p1.v : p1.v - p0.v;
    return rate ? r / (static_cast<double>(dt) / 1000) : r;
  }
  if (p0.h == nullptr || p1.h == nullptr) {
    warn.MixedFloats();
    return Absent();
  }
  const FloatHistogram& h0 = *p0.h->h;
  const FloatHistogram& h1 = *p1.h->h;
  auto out = std::make_shared<FloatHistogram>(h1);
  if (rate && (IsGauge(h1) || IsGauge(h0))) warn.NotCounter();
  if (!rate && (!IsGauge(h1) || !IsGauge(h0))) warn.NotGauge();
  if (!rate || !h1.DetectReset(h0)) {
    if (auto e = out->Sub(h0); e != histogram::CombineError::kNone) {
      warn.Combine(e);
      return Absent();
    }
  }
  out->hint = histogram::ResetHint::kGauge;
  out->Compact();
  if (rate) out->Div(static_cast<double>(dt) / 1000);
  *h = std::move(out);
  return Absent();
}

// sum_over_time() and avg_over_time() of histograms; null (with a warning) when their
// layouts cannot be combined.
HistogramPtr SumOrAvgOverTime(HistogramSpan hw, bool avg, HistogramWarnings& warn) {
  auto acc = std::make_shared<FloatHistogram>(*hw.front().h);
  for (size_t k = 1; k < hw.size(); ++k) {
    histogram::CombineError e = histogram::CombineError::kNone;
    if (avg) {
      // Prometheus's incremental mean: mean += h/n - mean/n.
      double n = static_cast<double>(k + 1);
      FloatHistogram add = *hw[k].h;
      add.Div(n);
      FloatHistogram part = *acc;
      part.Div(n);
      e = add.Sub(part);
      if (e == histogram::CombineError::kNone) e = acc->Add(add);
    } else {
      e = acc->Add(*hw[k].h);
    }
    if (e != histogram::CombineError::kNone) {
      warn.Combine(e);
      return nullptr;
    }
  }
  return acc;
}

// changes() and resets() over floats and histograms in time order: a switch of type counts.
double ChangesOrResets(std::span<const Sample> s, HistogramSpan hw, bool resets) {
  double n = 0;
  size_t i = 0;
  size_t j = 0;
  const Sample* prev_f = nullptr;
  const FloatHistogram* prev_h = nullptr;
  bool first = true;
  while (i < s.size() || j < hw.size()) {
    const Sample* cur_f = nullptr;
    const FloatHistogram* cur_h = nullptr;
    if (j >= hw.size() || (i < s.size() && s[i].t < hw[j].t)) {
      cur_f = &s[i++];
    } else {
      cur_h = hw[j++].h.get();
    }
    if (!first) {
      if (cur_f != nullptr && prev_f != nullptr) {
        double c = cur_f->v, p = prev_f->v;
        if (resets ? c < p : !(c == p || (std::isnan(c) && std::isnan(p)))) ++n;
      } else if (cur_h != nullptr && prev_h != nullptr) {
        if (resets ? cur_h->DetectReset(*prev_h) : !cur_h->Equals(*prev_h)) ++n;
      } else {
        ++n;
      }
    }
    first = false;
    prev_f = cur_f;
    prev_h = cur_h;
  }
  return n;
}

double AvgOverTime(std::span<const Sample> s) {
  double sum = s[0].v, c = 0, mean = 0, count = 1;
  bool incremental = false;
  for (size_t k = 1; k < s.size(); ++k) {
    double f = s[k].v;
    count++;
    if (!incremental) {
      double nc = c;
      double ns = KahanInc(f, sum, &nc);
      if (!std::isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= (count - 1);
    }
    double q = (count - 1) / count;
    c = q * c;
    mean = KahanInc(f / count, q * mean, &c);
  }
  return incremental ? mean + c : sum / count + c / count;
}

double VarianceOverTime(std::span<const Sample> s) {
  double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
  for (const auto& smp : s) {
    count++;
    double delta = smp.v - (mean + cmean);
    mean = KahanInc(delta / count, mean, &cmean);
    aux = KahanInc(delta * (smp.v - (mean + cmean)), aux, &caux);
  }
  return (aux + caux) / count;
}

double MadOverTime(std::span<const Sample> s) {
  std::vector<double> vals;
  vals.reserve(s.size());
  for (const auto& smp : s) vals.push_back(smp.v);
  double median = Quantile(0.5, vals);
  for (double& v : vals) v = std::fabs(v - median);
  return Quantile(0.5, vals);
}

double DoubleExpSmoothing(std::span<const Sample> s, double sf, double tf) {
  if (s.size() < 2) return Absent();
  double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
  for (size_t i = 1; i < s.size(); ++i) {
    double x = sf * s[i].v;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

bool IsCounterName(std::string_view n) {
  auto ends = [&](std::string_view suf) {
    return n.size() >= suf.size() && n.substr(n.size() - suf.size()) == suf;
  };
  return ends("_total") || ends("_sum") || ends("_count") || ends("_bucket");
}

// `sink`: see Evaluator::MapSeries.
// A range function over a window that holds histograms (and maybe floats, in `w.s`), as
// Prometheus 3.5 evaluates it: a float result goes to `*v`, a histogram one to `*h`. False
// when the function is one of floats that has floats to work on: the caller computes it.
bool HistogramWindow(Fn f, const Window& w, HistogramSpan hw, int64_t range_ms,
                     HistogramWarnings& warn, double* v, HistogramPtr* h, Annotations& annos,
                     const Call& c) {
  const auto& s = w.s;
  // Functions of floats only ignore the histograms, and say so when there are floats.
  auto ignored = [&]() {
    annos.Info(fmt::format("ignored histograms in a range containing both floats and histograms "
                           "for metric name {}",
                           GoQuote(warn.metric)),
               c.args[f == Fn::kQuantileOverTime ? 1 : 0]->pos);
  };
  switch (f) {
    case Fn::kRate:
    case Fn::kIncrease:
    case Fn::kDelta:
      if (!s.empty()) {
        warn.MixedFloats();
      } else if (hw.size() >= 2) {
        *h = HistogramRate(w, hw, range_ms, f != Fn::kDelta, f == Fn::kRate, warn);
      }
      return true;
    case Fn::kIrate:
    case Fn::kIdelta:
      *v = InstantValueMixed(s, hw, f == Fn::kIrate, warn, h);
      return true;
    case Fn::kSumOverTime:
    case Fn::kAvgOverTime:
      if (!s.empty()) {
        warn.MixedFloats();
      } else {
        *h = SumOrAvgOverTime(hw, f == Fn::kAvgOverTime, warn);
      }
      return true;
    case Fn::kCountOverTime:
      *v = static_cast<double>(s.size() + hw.size());
      return true;
    case Fn::kPresentOverTime:
      *v = 1;
      return true;
    case Fn::kLastOverTime:
      if (!s.empty() && s.back().t > hw.back().t) {
        *v = s.back().v;
      } else {
        *h = hw.back().h;
      }
      return true;
    case Fn::kFirstOverTime:
      if (!s.empty() && s.front().t < hw.front().t) {
        *v = s.front().v;
      } else {
        *h = hw.front().h;
      }
      return true;
    case Fn::kTsOfLastOverTime:
      *v = static_cast<double>(std::max(s.empty() ? INT64_MIN : s.back().t, hw.back().t)) / 1000;
      return true;
    case Fn::kChanges:
    case Fn::kResets:
      *v = ChangesOrResets(s, hw, f == Fn::kResets);
      return true;
    case Fn::kDeriv:
    case Fn::kPredictLinear:
    case Fn::kDoubleExponentialSmoothing:
      // Regressions need two floats; one float and histograms still tell about the latter.
      if (s.size() == 1) ignored();
      if (s.size() < 2) return true;
      ignored();
      return false;
    default:
      // min, max, ts_of_min/max, stddev, stdvar, mad and quantile _over_time: floats only.
      if (s.empty()) return true;
      ignored();
      return false;
  }
}

StepVector EvalRangeFunction(Evaluator& ev, const Call& c, const Grid& g, const BatchSink* sink) {
  Fn f = c.func->fn;
  size_t mat_idx = f == Fn::kQuantileOverTime ? 1 : 0;
  std::vector<double> arg1, arg2;
  if (f == Fn::kQuantileOverTime) arg1 = ev.EvalScalar(*c.args[0], g);
  if (f == Fn::kPredictLinear) arg1 = ev.EvalScalar(*c.args[1], g);
  if (f == Fn::kDoubleExponentialSmoothing) {
    arg1 = ev.EvalScalar(*c.args[1], g);
    arg2 = ev.EvalScalar(*c.args[2], g);
  }
  RangeArg r = ev.EvalRange(*c.args[mat_idx], g, c.func->name);
  if (f == Fn::kQuantileOverTime && r.size() > 0) {
    for (double q : arg1) {
      if (std::isnan(q) || q < 0 || q > 1) {
        ev.annotations().Warn(
            fmt::format("quantile value should be between 0 and 1, got {}", FormatFloatF(q)),
            c.args[0]->pos);
      }
    }
  }
  if (f == Fn::kAbsentOverTime) {
    // 1 at the steps where no series has a sample in the window.
    std::vector<uint8_t> covered(g.n, 0);
    std::vector<uint64_t> read(g.n, 0);
    std::vector<Sample> buf;
    std::vector<histogram::HistogramSample> hbuf;
    auto cover = [&](const auto& points) {
      size_t lo = 0, hi = 0;
      for (size_t i = 0; i < g.n; ++i) {
        int64_t end = r.window_end[i];
        while (hi < points.size() && points[hi].t <= end) ++hi;
        while (lo < hi && points[lo].t <= end - r.range_ms) ++lo;
        if (lo < hi) covered[i] = 1;
        read[i] += hi - lo;
      }
    };
    for (size_t k = 0; k < r.size(); ++k) {
      ev.CheckInterrupt();
      cover(r.Samples(k, buf));
      cover(r.Histograms(k, hbuf));
    }
    if (r.lazy) ev.CountAtSteps(g, read);  // a subquery counted its own
    StepSeries out;
    out.labels = AbsentLabels(*c.args[0]);
    out.v.assign(g.n, Absent());
    for (size_t i = 0; i < g.n; ++i) {
      if (covered[i] == 0) out.v[i] = 1;
    }
    StepVector v;
    v.push_back(std::move(out));
    DropEmpty(v);
    return v;
  }
  bool keep_name = f == Fn::kLastOverTime;
  // Series are independent: chunks of them are evaluated in parallel, each with its own
  // annotations, which are then joined in series order.
  constexpr size_t kGrain = 128;
  std::vector<Annotations> part_annos((r.size() + kGrain - 1) / kGrain);
  auto process = [&](size_t index, StepVector& out, Annotations& annos,
                     std::vector<uint32_t>& resets, std::vector<Sample>& buf,
                     std::vector<histogram::HistogramSample>& hbuf, std::vector<uint64_t>& read) {
    ev.CheckInterrupt();
    const Labels& labels = r.labels(index);
    std::span<const Sample> smp = r.Samples(index, buf);
    HistogramSpan hs = r.Histograms(index, hbuf);
    std::string_view name = GetLabel(ViewOf(labels), kMetricNameLabel);
    // Only float samples may not be counters by name (histograms say so in their hint).
    if ((f == Fn::kRate || f == Fn::kIncrease) && !smp.empty() && !name.empty() &&
        !IsCounterName(name)) {
      annos.Info(fmt::format("metric might not be a counter, name does not end in "
                             "_total/_sum/_count/_bucket: {}",
                             GoQuote(name)),
                 c.args[0]->pos);
    }
    size_t loaded = smp.size() + hs.size();
    ev.CountLoaded(loaded);
    ev.Hold(static_cast<int64_t>(loaded));
    StepSeries ss;
    ss.v.assign(g.n, Absent());
    resets.clear();
    if (f == Fn::kRate || f == Fn::kIncrease) {
      for (size_t k = 1; k < smp.size(); ++k) {
        if (smp[k].v < smp[k - 1].v) resets.push_back(static_cast<uint32_t>(k));
      }
    }
    size_t lo = 0, hi = 0, hlo = 0, hhi = 0;
    bool any = false;
    HistogramWarnings warn{name, {}};
    for (size_t i = 0; i < g.n; ++i) {
      if ((i & 127) == 127) ev.CheckInterrupt();
      int64_t end = r.window_end[i];
      if (i > 0 && end == r.window_end[i - 1] && f != Fn::kPredictLinear &&
          f != Fn::kQuantileOverTime && f != Fn::kDoubleExponentialSmoothing) {
        ss.v[i] = ss.v[i - 1];
        if (ss.H(i - 1) != nullptr) ss.SetH(i, ss.h[i - 1]);
        read[i] += hi - lo + hhi - hlo;
        continue;
      }
      int64_t start = end - r.range_ms;
      while (hi < smp.size() && smp[hi].t <= end) ++hi;
      while (lo < hi && smp[lo].t <= start) ++lo;
      while (hhi < hs.size() && hs[hhi].t <= end) ++hhi;
      while (hlo < hhi && hs[hlo].t <= start) ++hlo;
      read[i] += hi - lo + hhi - hlo;
      if (lo >= hi && hlo >= hhi) continue;
      Window w{std::span<const Sample>(smp.data() + lo, hi - lo), start, end, g.At(i), i};
      const auto& s = w.s;
      double v = Absent();
      if (hlo < hhi) {
        warn.texts.clear();
        HistogramPtr h;
        bool done =
            HistogramWindow(f, w, hs.subspan(hlo, hhi - hlo), r.range_ms, warn, &v, &h, annos, c);
        warn.Report(annos, c.args[0]->pos);
        if (h != nullptr) {
          ss.SetH(i, std::move(h));
          any = true;
          continue;
        }
        if (done) {
          ss.v[i] = v;
          any |= IsPresent(v);
          continue;
        }
      }
      switch (f) {
        case Fn::kRate:
          v = ExtrapolatedRate(w, r.range_ms, true, true, resets, lo);
          break;
        case Fn::kIncrease:
          v = ExtrapolatedRate(w, r.range_ms, true, false, resets, lo);
          break;
        case Fn::kDelta:
          v = ExtrapolatedRate(w, r.range_ms, false, false, resets, lo);
          break;
        case Fn::kIrate:
          v = InstantValue(w, true);
          break;
        case Fn::kIdelta:
          v = InstantValue(w, false);
          break;
        case Fn::kDeriv:
          if (s.size() >= 2) {
            double slope = 0, icpt = 0;
            LinearRegression(s, s[0].t, &slope, &icpt);
            v = slope;
          }
          break;
        case Fn::kPredictLinear:
          if (s.size() >= 2) {
            double slope = 0, icpt = 0;
            LinearRegression(s, w.step_t, &slope, &icpt);
            v = slope * arg1[i] + icpt;
          }
          break;
        case Fn::kAvgOverTime:
          v = AvgOverTime(s);
          break;
        case Fn::kSumOverTime: {
          double sum = 0, comp = 0;
          for (const auto& x : s) sum = KahanInc(x.v, sum, &comp);
          v = std::isinf(sum) ? sum : sum + comp;
          break;
        }
        case Fn::kCountOverTime:
          v = static_cast<double>(s.size());
          break;
        case Fn::kMinOverTime:
        case Fn::kMaxOverTime: {
          bool is_max = f == Fn::kMaxOverTime;
          v = s[0].v;
          for (const auto& x : s) {
            if ((is_max ? x.v > v : x.v < v) || std::isnan(v)) v = x.v;
          }
          break;
        }
        case Fn::kTsOfMinOverTime:
        case Fn::kTsOfMaxOverTime: {
          bool is_max = f == Fn::kTsOfMaxOverTime;
          double best = s[0].v;
          int64_t t = s[0].t;
          for (const auto& x : s) {
            if ((is_max ? x.v >= best : x.v <= best) || std::isnan(best)) {
              best = x.v;
              t = x.t;
            }
          }
          v = static_cast<double>(t) / 1000;
          break;
        }
        case Fn::kLastOverTime:
          v = s.back().v;
          break;
        case Fn::kFirstOverTime:
          v = s.front().v;
          break;
        case Fn::kTsOfLastOverTime:
          v = static_cast<double>(s.back().t) / 1000;
          break;
        case Fn::kPresentOverTime:
          v = 1;
          break;
        case Fn::kStddevOverTime:
          v = std::sqrt(VarianceOverTime(s));
          break;
        case Fn::kStdvarOverTime:
          v = VarianceOverTime(s);
          break;
        case Fn::kMadOverTime:
          v = MadOverTime(s);
          break;
        case Fn::kQuantileOverTime: {
          std::vector<double> vals;
          vals.reserve(s.size());
          for (const auto& x : s) vals.push_back(x.v);
          v = Quantile(arg1[i], vals);
          break;
        }
        case Fn::kChanges: {
          double n = 0;
          for (size_t k = 1; k < s.size(); ++k) {
            double cur = s[k].v, prev = s[k - 1].v;
            if (!(cur == prev || (std::isnan(cur) && std::isnan(prev)))) n++;
          }
          v = n;
          break;
        }
        case Fn::kResets: {
          double n = 0;
          for (size_t k = 1; k < s.size(); ++k) {
            if (s[k].v < s[k - 1].v) n++;
          }
          v = n;
          break;
        }
        case Fn::kDoubleExponentialSmoothing: {
          double sf = arg1[i], tf = arg2[i];
          if (sf <= 0 || sf >= 1) {
            Fail(fmt::format("invalid smoothing factor. Expected: 0 < sf < 1, got: {:f}", sf));
          }
          if (tf <= 0 || tf >= 1) {
            Fail(fmt::format("invalid trend factor. Expected: 0 < tf < 1, got: {:f}", tf));
          }
          v = DoubleExpSmoothing(s, sf, tf);
          break;
        }
        default:
          break;
      }
      ss.v[i] = v;
      any |= IsPresent(v);
    }
    ev.Hold(-static_cast<int64_t>(loaded));
    if (!any) return;
    ev.Hold(static_cast<int64_t>(g.n));
    ss.labels = labels;
    ss.drop_name = r.drop_name(index) || !keep_name;
    out.push_back(std::move(ss));
  };
  StepVector out =
      ev.MapSeries(r.size(), kGrain, g, sink, [&](size_t begin, size_t end, StepVector& part) {
        std::vector<uint32_t> resets;
        std::vector<Sample> buf;
        std::vector<histogram::HistogramSample> hbuf;
        std::vector<uint64_t> read(g.n, 0);  // points in the windows, per step
        for (size_t k = begin; k < end; ++k) {
          process(k, part, part_annos[begin / kGrain], resets, buf, hbuf, read);
        }
        if (r.lazy) ev.CountAtSteps(g, read);  // a subquery counted its own
      });
  for (const auto& annos : part_annos) ev.annotations().Merge(annos);
  return out;
}

bool IsRangeFunction(Fn f) {
  switch (f) {
    case Fn::kRate:
    case Fn::kIncrease:
    case Fn::kDelta:
    case Fn::kIrate:
    case Fn::kIdelta:
    case Fn::kDeriv:
    case Fn::kPredictLinear:
    case Fn::kAvgOverTime:
    case Fn::kSumOverTime:
    case Fn::kCountOverTime:
    case Fn::kMinOverTime:
    case Fn::kMaxOverTime:
    case Fn::kTsOfMinOverTime:
    case Fn::kTsOfMaxOverTime:
    case Fn::kLastOverTime:
    case Fn::kFirstOverTime:
    case Fn::kTsOfLastOverTime:
    case Fn::kPresentOverTime:
    case Fn::kStddevOverTime:
    case Fn::kStdvarOverTime:
    case Fn::kMadOverTime:
    case Fn::kQuantileOverTime:
    case Fn::kChanges:
    case Fn::kResets:
    case Fn::kDoubleExponentialSmoothing:
    case Fn::kAbsentOverTime:
      return true;
    default:
      return false;
  }
}

// Natural order ("a2" < "a10"), as the natsort package Prometheus uses: digit runs compare as
// integers, other runs as strings.
bool NaturalLess(std::string_view a, std::string_view b) {
  auto chunks = [](std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
      bool digit = std::isdigit(static_cast<unsigned char>(s[i])) != 0;
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) != 0) == digit) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  };
  auto as_int = [](std::string_view c, long long* v) {
    if (c.empty() || c.size() > 18 || std::isdigit(static_cast<unsigned char>(c[0])) == 0) {
      return false;
    }
    *v = std::stoll(std::string(c));
    return true;
  };
  auto ca = chunks(a);
  auto cb = chunks(b);
  for (size_t i = 0; i < ca.size(); ++i) {
    if (i >= cb.size()) return false;
    long long x = 0, y = 0;
    bool equal = ca[i] == cb[i];
    if (as_int(ca[i], &x) && as_int(cb[i], &y)) {
      if (x != y) return x < y;
      equal = true;
    }
    if (equal) {
      if (i == ca.size() - 1) return true;
      if (i == cb.size() - 1) return false;
      continue;
    }
    return ca[i] < cb[i];
  }
  return false;
}

// sort(), sort_desc(), sort_by_label(): only instant queries have an order to change.
StepVector Sort(Evaluator& ev, const Call& c, const Grid& g) {
  StepVector v = ev.EvalVector(*c.args[0], g);
  Fn f = c.func->fn;
  if (f == Fn::kSort || f == Fn::kSortDesc) DropHistograms(v);  // they sort floats only
  if (g.n != 1) return v;
  if (f == Fn::kSort || f == Fn::kSortDesc) {
    bool desc = f == Fn::kSortDesc;
    std::stable_sort(v.begin(), v.end(), [desc](const StepSeries& a, const StepSeries& b) {
      double x = a.v[0], y = b.v[0];
      if (std::isnan(x)) return false;
      if (std::isnan(y)) return true;
      return desc ? x > y : x < y;
    });
    return v;
  }
  std::vector<std::string> names;
  for (size_t k = 1; k < c.args.size(); ++k) names.push_back(ev.EvalString(*c.args[k], g));
  bool desc = f == Fn::kSortByLabelDesc;
  std::stable_sort(v.begin(), v.end(), [&](const StepSeries& a, const StepSeries& b) {
    auto av = ViewOf(a.labels), bv = ViewOf(b.labels);
    for (const auto& n : names) {
      std::string_view x = GetLabel(av, n), y = GetLabel(bv, n);
      if (x == y) continue;
      return desc ? NaturalLess(y, x) : NaturalLess(x, y);
    }
    return desc ? b.labels < a.labels : a.labels < b.labels;
  });
  return v;
}

}  // namespace

void MergeSameLabels(StepVector& v);

bool EvalCallBatches(Evaluator& ev, const Call& c, const Grid& g, const BatchSink& sink) {
  Fn f = c.func->fn;
  // absent_over_time's one series depends on every input series.
  if (!IsRangeFunction(f) || f == Fn::kAbsentOverTime) return false;
  EvalRangeFunction(ev, c, g, &sink);
  return true;
}

Value EvalCall(Evaluator& ev, const Call& c, const Grid& g) {
  Fn f = c.func->fn;
  if (IsRangeFunction(f)) return EvalRangeFunction(ev, c, g, nullptr);
  switch (f) {
    case Fn::kTime: {
      Scalars s;
      s.v.resize(g.n);
      for (size_t i = 0; i < g.n; ++i) s.v[i] = static_cast<double>(g.At(i)) / 1000;
      return s;
    }
    case Fn::kPi:
      return Scalars{std::vector<double>(g.n, std::numbers::pi)};
    case Fn::kVector: {
      StepSeries s;
      s.v = ev.EvalScalar(*c.args[0], g);
      StepVector out;
      out.push_back(std::move(s));
      return out;
    }
    case Fn::kScalar: {
      StepVector v = ev.EvalVector(*c.args[0], g);
      Scalars out{std::vector<double>(g.n, CanonicalNaN())};
      for (size_t i = 0; i < g.n; ++i) {
        int found = 0;
        for (const auto& s : v) {
          if (IsPresent(s.v[i]) && ++found == 1) out.v[i] = s.v[i];
        }
        if (found != 1) out.v[i] = CanonicalNaN();
      }
      return out;
    }
    case Fn::kTimestamp: {
      const Expr& arg = Unparen(*c.args[0]);
      StepVector v;
      if (arg.kind == ExprKind::kVectorSelector) {
        v = ev.EvalSelectorTimestamps(As<VectorSelector>(arg), g);
      } else {
        v = ev.EvalVector(arg, g);
        for (auto& s : v) {
          for (size_t i = 0; i < g.n; ++i) {
            if (s.Has(i)) s.v[i] = static_cast<double>(g.At(i)) / 1000;
          }
          s.h.clear();
        }
      }
      for (auto& s : v) s.drop_name = true;
      return v;
    }
    case Fn::kAbsent: {
      StepVector v = ev.EvalVector(*c.args[0], g);
      StepSeries out;
      out.labels = AbsentLabels(*c.args[0]);
      out.v.assign(g.n, 1.0);
      for (const auto& s : v) {
        for (size_t i = 0; i < g.n; ++i) {
          if (s.Has(i)) out.v[i] = Absent();
        }
      }
      StepVector res;
      res.push_back(std::move(out));
      DropEmpty(res);
      return res;
    }
    case Fn::kRound: {
      std::vector<double> to(g.n, 1.0);
      if (c.args.size() > 1) to = ev.EvalScalar(*c.args[1], g);
      return MapValues(ev.EvalVector(*c.args[0], g), [&](double x, size_t i) {
        double inv = 1.0 / to[i];
        return std::floor(x * inv + 0.5) / inv;
      });
    }
    case Fn::kClamp: {
      auto lo = ev.EvalScalar(*c.args[1], g);
      auto hi = ev.EvalScalar(*c.args[2], g);
      StepVector v = MapValues(ev.EvalVector(*c.args[0], g), [&](double x, size_t i) {
        return hi[i] < lo[i] ? Absent() : GoMax(lo[i], GoMin(hi[i], x));
      });
      DropEmpty(v);
      return v;
    }
    case Fn::kClampMax: {
      auto hi = ev.EvalScalar(*c.args[1], g);
      return MapValues(ev.EvalVector(*c.args[0], g),
                       [&](double x, size_t i) { return GoMin(hi[i], x); });
    }
    case Fn::kClampMin: {
      auto lo = ev.EvalScalar(*c.args[1], g);
      return MapValues(ev.EvalVector(*c.args[0], g),
                       [&](double x, size_t i) { return GoMax(lo[i], x); });
    }
    case Fn::kDaysInMonth:
    case Fn::kDayOfMonth:
    case Fn::kDayOfWeek:
    case Fn::kDayOfYear:
    case Fn::kHour:
    case Fn::kMinute:
    case Fn::kMonth:
    case Fn::kYear: {
      StepVector v;
      if (c.args.empty()) {
        StepSeries s;
        s.v.resize(g.n);
        for (size_t i = 0; i < g.n; ++i) s.v[i] = static_cast<double>(g.At(i)) / 1000;
        v.push_back(std::move(s));
      } else {
        v = ev.EvalVector(*c.args[0], g);
      }
      return MapValues(std::move(v), [f](double x, size_t) {
        if (std::isnan(x) || std::isinf(x)) return x;
        return DateFn(f, x);
      });
    }
    case Fn::kLabelReplace: {
      StepVector v = LabelReplace(ev, c, g);
      MergeSameLabels(v);
      return v;
    }
    case Fn::kLabelJoin: {
      StepVector v = LabelJoin(ev, c, g);
      MergeSameLabels(v);
      return v;
    }
    case Fn::kSort:
    case Fn::kSortDesc:
    case Fn::kSortByLabel:
    case Fn::kSortByLabelDesc:
      return Sort(ev, c, g);
    case Fn::kHistogramQuantile: {
      auto phi = ev.EvalScalar(*c.args[0], g);
      return HistogramQuantile(ev, c, phi, ev.EvalVector(*c.args[1], g), g);
    }
    case Fn::kHistogramFraction: {
      auto lower = ev.EvalScalar(*c.args[0], g);
      auto upper = ev.EvalScalar(*c.args[1], g);
      return HistogramFraction(ev, c, lower, upper, ev.EvalVector(*c.args[2], g), g);
    }
    case Fn::kHistogramAvg:
      return MapHistograms(ev.EvalVector(*c.args[0], g),
                           [](const histogram::FloatHistogram& h) { return h.sum / h.count; });
    case Fn::kHistogramCount:
      return MapHistograms(ev.EvalVector(*c.args[0], g),
                           [](const histogram::FloatHistogram& h) { return h.count; });
    case Fn::kHistogramSum:
      return MapHistograms(ev.EvalVector(*c.args[0], g),
                           [](const histogram::FloatHistogram& h) { return h.sum; });
    case Fn::kHistogramStddev:
      return MapHistograms(ev.EvalVector(*c.args[0], g), [](const histogram::FloatHistogram& h) {
        return std::sqrt(HistogramVariance(h));
      });
    case Fn::kHistogramStdvar:
      return MapHistograms(ev.EvalVector(*c.args[0], g), HistogramVariance);
    case Fn::kInfo:
      return EvalInfo(ev, c, g);
    default:
      return MapValues(ev.EvalVector(*c.args[0], g),
                       [f](double x, size_t) { return MathFn(f, x); });
  }
}

}  // namespace strata::promql::internal
