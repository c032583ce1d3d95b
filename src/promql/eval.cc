#include "promql/eval.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <exception>
#include <optional>

#include "base/math.h"
#include "base/mutex.h"
#include "base/parallel.h"

namespace strata::promql::internal {

void Fail(std::string msg) { throw EvalError{Status::Execution(std::move(msg))}; }

double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return CanonicalNaN();
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  std::sort(values.begin(), values.end());
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

Labels WithoutName(const Labels& ls) {
  Labels out;
  out.reserve(ls.size());
  for (const auto& l : ls) {
    if (l.name != kMetricNameLabel) out.push_back(l);
  }
  return out;
}

void DropEmpty(StepVector& v) {
  std::erase_if(v, [](const StepSeries& s) {
    return std::all_of(s.v.begin(), s.v.end(), [](double x) { return IsAbsent(x); }) &&
           std::all_of(s.h.begin(), s.h.end(), [](const HistogramPtr& x) { return !x; });
  });
}

uint64_t PrometheusLabelsHash(const Labels& ls) {
  XXH64_state_t* st = XXH64_createState();
  XXH64_reset(st, 0);
  static constexpr char kSep = '\xff';
  for (const auto& l : ls) {
    XXH64_update(st, l.name.data(), l.name.size());
    XXH64_update(st, &kSep, 1);
    XXH64_update(st, l.value.data(), l.value.size());
    XXH64_update(st, &kSep, 1);
  }
  uint64_t h = XXH64_digest(st);
  XXH64_freeState(st);
  return h;
}

void Evaluator::CheckInterrupt() const {
  if (ctl_.yield) ctl_.yield();
  // The clock is read on every 64th call.
  if ((interrupt_counter_.fetch_add(1, std::memory_order_relaxed) & 63) != 0) return;
  if (Status st = Interrupted(ctl_); !st.ok()) throw EvalError{std::move(st)};
}

void Evaluator::Hold(int64_t samples) {
  int64_t now = held_.fetch_add(samples, std::memory_order_relaxed) + samples;
  if (samples > 0 && now > 0 && static_cast<uint64_t>(now) > opts_.max_samples) {
    held_.fetch_sub(samples, std::memory_order_relaxed);
    throw EvalError{Status::LimitExceeded(
        "query processing would load too many samples into memory in query execution")};
  }
  int64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void Evaluator::ParallelChunks(size_t n, size_t grain,
                               const std::function<void(size_t, size_t)>& fn) {
  Mutex mu;
  std::exception_ptr error;
  ParallelFor(n, grain, [&](size_t begin, size_t end) {
    try {
      fn(begin, end);
    } catch (const EvalError&) {
      MutexLock lk(mu);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

void Evaluator::CountAtSteps(const Grid& g, const std::vector<uint64_t>& counts) {
  const bool own = g.start == query_.start && g.step == query_.step && g.n == query_.n;
  MutexLock lk(per_step_mu_);
  if (own) {
    for (size_t i = 0; i < counts.size(); ++i) per_step_[i] += counts[i];
  } else {
    for (uint64_t n : counts) per_step_.back() += n;
  }
}

std::vector<uint64_t> Evaluator::samples_per_step() const {
  MutexLock lk(per_step_mu_);
  return per_step_;
}

std::span<const Sample> RangeArg::Samples(size_t i, std::vector<Sample>& buf) const {
  if (!lazy) return series[i].samples;
  lazy->Samples(i, buf);
  std::erase_if(buf, [](const Sample& smp) { return IsStaleNaN(smp.v); });
  for (auto& smp : buf) {
    if (std::isnan(smp.v)) smp.v = CanonicalNaN();
  }
  return buf;
}

std::span<const histogram::HistogramSample> RangeArg::Histograms(
    size_t i, std::vector<histogram::HistogramSample>& buf) const {
  if (!lazy) return series[i].histograms;
  lazy->Histograms(i, buf);
  std::erase_if(buf, [](const histogram::HistogramSample& s) { return histogram::IsStale(*s.h); });
  return buf;
}

std::vector<int64_t> Evaluator::EffectiveTimes(const AtModifier& at, int64_t offset_ms,
                                               const Grid& g) const {
  std::vector<int64_t> eff(g.n);
  for (size_t i = 0; i < g.n; ++i) {
    int64_t t = g.At(i);
    switch (at.kind) {
      case AtModifier::Kind::kTimestamp:
        t = at.ts_ms;
        break;
      case AtModifier::Kind::kStart:
        t = query_.start;
        break;
      case AtModifier::Kind::kEnd:
        t = query_.end();
        break;
      case AtModifier::Kind::kNone:
        break;
    }
    eff[i] = SaturatingSub(t, offset_ms);  // offsets may be as large as durations parse
  }
  return eff;
}

std::unique_ptr<query::SeriesSet> Evaluator::Load(const VectorSelector& vs, int64_t mint,
                                                  int64_t maxt, std::string_view func,
                                                  int64_t range_ms, int64_t step_ms) {
  CheckInterrupt();
  query::SelectParams p;
  p.mint = mint;
  p.maxt = maxt;
  p.func = func;
  p.range_ms = range_ms;
  p.step_ms = step_ms;
  auto r = q_.Select(p, vs.matchers);
  if (!r.ok()) throw EvalError{r.status()};
  return std::move(r).value();
}

StepVector Evaluator::MapSeries(size_t n, size_t grain, const Grid& g, const BatchSink* sink,
                                const SeriesFn& fn) {
  // A batch is a whole number of chunks, about kBatchValues values of output at most.
  constexpr size_t kBatchValues = size_t{4} << 20;
  size_t batch = n;
  if (sink != nullptr) batch = std::max<size_t>(1, kBatchValues / g.n / grain) * grain;
  StepVector out;
  for (size_t b = 0; b < n; b += batch) {
    size_t e = std::min(n, b + batch);
    std::vector<StepVector> parts((e - b + grain - 1) / grain);
    ParallelChunks(e - b, grain,
                   [&](size_t begin, size_t end) { fn(b + begin, b + end, parts[begin / grain]); });
    size_t total = 0;
    for (const auto& p : parts) total += p.size();
    out.clear();
    out.reserve(total);
    for (auto& p : parts) {
      for (auto& s : p) out.push_back(std::move(s));
    }
    if (sink == nullptr) continue;
    (*sink)(out);
    out.clear();
    Hold(-static_cast<int64_t>(total * g.n));
  }
  return out;
}

StepVector Evaluator::EvalSelector(const VectorSelector& vs, const Grid& g, bool timestamps,
                                   const BatchSink* sink) {
  std::vector<int64_t> eff = EffectiveTimes(vs.at, vs.offset_ms, g);
  int64_t lookback = opts_.lookback_delta_ms;
  auto set = Load(vs, eff.front() - lookback + 1, eff.back(), {}, 0, g.n > 1 ? g.step : 0);
  // Each series is decoded, turned into one value per step and dropped.
  return MapSeries(set->size(), 256, g, sink, [&](size_t begin, size_t end, StepVector& out) {
    std::vector<Sample> smp;
    std::vector<histogram::HistogramSample> hs;
    std::vector<uint64_t> selected(g.n, 0);  // points chosen per step
    for (size_t k = begin; k < end; ++k) {
      CheckInterrupt();
      set->Samples(k, smp);
      set->Histograms(k, hs);
      size_t loaded = smp.size() + hs.size();
      CountLoaded(loaded);
      Hold(static_cast<int64_t>(loaded));
      StepSeries ss;
      ss.v.assign(g.n, Absent());
      bool any = false;
      size_t j = 0;   // first sample with t > eff[i]
      size_t jh = 0;  // first histogram with t > eff[i]
      for (size_t i = 0; i < g.n; ++i) {
        while (j < smp.size() && smp[j].t <= eff[i]) ++j;
        while (jh < hs.size() && hs[jh].t <= eff[i]) ++jh;
        // The newer of the last float and the last histogram is the series' last sample.
        if (jh > 0 && (j == 0 || hs[jh - 1].t > smp[j - 1].t)) {
          const histogram::HistogramSample& last = hs[jh - 1];
          if (last.t <= eff[i] - lookback || histogram::IsStale(*last.h)) continue;
          if (timestamps) {
            ss.v[i] = static_cast<double>(last.t) / 1000.0;
          } else {
            ss.SetH(i, last.h);
          }
        } else {
          if (j == 0) continue;
          const Sample& last = smp[j - 1];
          if (last.t <= eff[i] - lookback || IsStaleNaN(last.v)) continue;
          double v = std::isnan(last.v) ? CanonicalNaN() : last.v;
          ss.v[i] = timestamps ? static_cast<double>(last.t) / 1000.0 : v;
        }
        ++selected[i];
        any = true;
      }
      Hold(-static_cast<int64_t>(loaded));
      if (!any) continue;
      ss.labels = set->labels(k);
      Hold(static_cast<int64_t>(g.n));
      out.push_back(std::move(ss));
    }
    CountAtSteps(g, selected);
  });
}

StepVector Evaluator::EvalSelectorTimestamps(const VectorSelector& vs, const Grid& g) {
  return EvalSelector(vs, g, true, nullptr);
}

bool Evaluator::EvalVectorBatches(const Expr& e, const Grid& g, const BatchSink& sink) {
  const Expr* x = &e;
  while (x->kind == ExprKind::kParen) x = As<ParenExpr>(*x).expr.get();
  if (x->kind == ExprKind::kVectorSelector) {
    EvalSelector(As<VectorSelector>(*x), g, false, &sink);
    return true;
  }
  return x->kind == ExprKind::kCall && EvalCallBatches(*this, As<Call>(*x), g, sink);
}

RangeArg Evaluator::EvalRange(const Expr& e, const Grid& g, std::string_view func) {
  const Expr* x = &e;
  while (x->kind == ExprKind::kParen) x = As<ParenExpr>(*x).expr.get();
  RangeArg out;
  if (x->kind == ExprKind::kMatrixSelector) {
    const auto& ms = As<MatrixSelector>(*x);
    out.range_ms = ms.range_ms;
    out.window_end = EffectiveTimes(ms.vs->at, ms.vs->offset_ms, g);
    out.lazy = Load(*ms.vs, out.window_end.front() - ms.range_ms + 1, out.window_end.back(), func,
                    ms.range_ms, g.n > 1 ? g.step : 0);
    return out;
  }
  if (x->kind != ExprKind::kSubquery) Fail("expected a range vector");
  const auto& sq = As<SubqueryExpr>(*x);
  out.range_ms = sq.range_ms;
  out.window_end = EffectiveTimes(sq.at, sq.offset_ms, g);
  int64_t step = sq.step_ms > 0 ? sq.step_ms : opts_.default_subquery_step_ms;
  int64_t lo = out.window_end.front() - sq.range_ms;
  Grid inner;
  inner.step = step;
  inner.start = step * (lo / step);
  if (inner.start <= lo) inner.start += step;
  int64_t hi = out.window_end.back();
  if (hi < inner.start) return out;
  inner.n = static_cast<size_t>((hi - inner.start) / step) + 1;
  if (inner.n > opts_.max_samples) {
    throw EvalError{Status::LimitExceeded(
        "query processing would load too many samples into memory in query execution")};
  }
  StepVector v = EvalVector(*sq.expr, inner);
  out.series.reserve(v.size());
  for (auto& s : v) {
    RawSeries rs;
    rs.labels = std::move(s.labels);
    rs.drop_name = s.drop_name;
    for (size_t i = 0; i < inner.n; ++i) {
      if (IsPresent(s.v[i])) {
        rs.samples.push_back({inner.At(i), s.v[i]});
      } else if (s.H(i) != nullptr) {
        rs.histograms.push_back({inner.At(i), s.h[i]});
      }
    }
    if (!rs.samples.empty() || !rs.histograms.empty()) out.series.push_back(std::move(rs));
  }
  return out;
}

StepVector Evaluator::EvalVector(const Expr& e, const Grid& g) {
  Value v = Eval(e, g);
  if (auto* sv = std::get_if<StepVector>(&v)) return std::move(*sv);
  Fail(fmt::format("expected instant vector, got {}", e.String()));
}

std::vector<double> Evaluator::EvalScalar(const Expr& e, const Grid& g) {
  Value v = Eval(e, g);
  if (auto* sv = std::get_if<Scalars>(&v)) return std::move(sv->v);
  Fail(fmt::format("expected scalar, got {}", e.String()));
}

std::string Evaluator::EvalString(const Expr& e, const Grid& g) {
  Value v = Eval(e, g);
  if (auto* s = std::get_if<std::string>(&v)) return std::move(*s);
  Fail(fmt::format("expected string, got {}", e.String()));
}

Value Evaluator::Eval(const Expr& e, const Grid& g) {
  CheckInterrupt();
  switch (e.kind) {
    case ExprKind::kNumber:
      return Scalars{std::vector<double>(g.n, As<NumberLiteral>(e).val)};
    case ExprKind::kString:
      return As<StringLiteral>(e).val;
    case ExprKind::kParen:
      return Eval(*As<ParenExpr>(e).expr, g);
    case ExprKind::kVectorSelector:
      return EvalSelector(As<VectorSelector>(e), g, false, nullptr);
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return EvalRange(e, g);
    case ExprKind::kUnary:
      if (As<UnaryExpr>(e).expr->Type() == ValueType::kScalar) {
        auto v = EvalScalar(*As<UnaryExpr>(e).expr, g);
        for (double& x : v) x = -x;
        return Scalars{std::move(v)};
      }
      return EvalUnary(As<UnaryExpr>(e), g);
    case ExprKind::kBinary:
      return EvalBinary(As<BinaryExpr>(e), g);
    case ExprKind::kAggregate:
      return EvalAggregate(*this, As<AggregateExpr>(e), g);
    case ExprKind::kCall:
      return EvalCall(*this, As<Call>(e), g);
  }
  Fail("unknown expression");
}

StepVector Evaluator::EvalUnary(const UnaryExpr& u, const Grid& g) {
  StepVector v = EvalVector(*u.expr, g);
  for (auto& s : v) {
    for (double& x : s.v) {
      if (IsPresent(x)) x = -x;
    }
    for (HistogramPtr& h : s.h) {
      if (h == nullptr) continue;
      auto neg = std::make_shared<histogram::FloatHistogram>(*h);
      neg->Mul(-1);
      h = std::move(neg);
    }
    s.drop_name = true;
  }
  return v;
}

double ApplyOp(BinOp op, double l, double r, bool* keep, bool nan_div) {
  *keep = true;
  switch (op) {
    case BinOp::kAdd:
      return l + r;
    case BinOp::kSub:
      return l - r;
    case BinOp::kMul:
      return l * r;
    case BinOp::kDiv:
      return nan_div && r == 0 ? std::numeric_limits<double>::quiet_NaN() : l / r;
    case BinOp::kPow:
      return std::pow(l, r);
    case BinOp::kMod:
      return std::fmod(l, r);
    case BinOp::kAtan2:
      return std::atan2(l, r);
    case BinOp::kEql:
      *keep = l == r;
      return l;
    case BinOp::kNeq:
      *keep = l != r;
      return l;
    case BinOp::kGtr:
      *keep = l > r;
      return l;
    case BinOp::kLss:
      *keep = l < r;
      return l;
    case BinOp::kGte:
      *keep = l >= r;
      return l;
    case BinOp::kLte:
      *keep = l <= r;
      return l;
    default:
      *keep = false;
      return 0;
  }
}

Value Evaluator::EvalBinary(const BinaryExpr& b, const Grid& g) {
  ValueType lt = b.lhs->Type();
  ValueType rt = b.rhs->Type();
  if (lt == ValueType::kScalar && rt == ValueType::kScalar) {
    auto l = EvalScalar(*b.lhs, g);
    auto r = EvalScalar(*b.rhs, g);
    for (size_t i = 0; i < g.n; ++i) {
      bool keep = false;
      double v = ApplyOp(b.op, l[i], r[i], &keep, opts_.nan_on_division_by_zero);
      l[i] = IsComparison(b.op) ? (keep ? 1.0 : 0.0) : v;  // the parser demands `bool` here
    }
    return Scalars{std::move(l)};
  }
  if (lt == ValueType::kVector && rt == ValueType::kVector) {
    StepVector l = EvalVector(*b.lhs, g);
    StepVector r = EvalVector(*b.rhs, g);
    return VectorBinary(*this, b, std::move(l), std::move(r), g);
  }
  // Vector and scalar: the vector's elements survive a comparison with their own value.
  bool scalar_left = lt == ValueType::kScalar;
  std::vector<double> s = EvalScalar(scalar_left ? *b.lhs : *b.rhs, g);
  StepVector v = EvalVector(scalar_left ? *b.rhs : *b.lhs, g);
  bool cmp = IsComparison(b.op);
  BinopProblems problems(g.n);
  for (auto& ser : v) {
    for (size_t i = 0; i < g.n; ++i) {
      if (ser.H(i) != nullptr) {
        const HistogramPtr none;
        double f = 0;
        HistogramPtr h;
        auto outcome = scalar_left
                           ? HistogramBinop(b.op, s[i], none, 0, ser.h[i], i, &f, &h, problems)
                           : HistogramBinop(b.op, 0, ser.h[i], s[i], none, i, &f, &h, problems);
        // Comparisons with a scalar are errors for histograms, so only arithmetic gets here.
        ser.Clear(i);
        if (outcome != BinopOutcome::kKept) continue;
        if (b.return_bool) {
          ser.v[i] = 1.0;
        } else {
          ser.SetH(i, std::move(h));
        }
        continue;
      }
      double x = ser.v[i];
      if (IsAbsent(x)) continue;
      bool keep = false;
      double r = scalar_left ? ApplyOp(b.op, s[i], x, &keep, opts_.nan_on_division_by_zero)
                             : ApplyOp(b.op, x, s[i], &keep, opts_.nan_on_division_by_zero);
      if (cmp && !b.return_bool) {
        ser.v[i] = keep ? x : Absent();
      } else if (b.return_bool) {
        ser.v[i] = keep ? 1.0 : 0.0;
      } else {
        ser.v[i] = r;
      }
    }
    if (!cmp || b.return_bool) ser.drop_name = true;
  }
  problems.Report(*this, b);
  DropEmpty(v);
  return v;
}

}  // namespace strata::promql::internal
