#include "promql/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/math.h"
#include "promql/eval.h"

namespace strata::promql {

Status Interrupted(const QueryControl& ctl) {
  if (ctl.cancelled != nullptr && ctl.cancelled->load(std::memory_order_relaxed)) {
    return Status::Cancelled("query was canceled");
  }
  if (std::chrono::steady_clock::now() > ctl.deadline) {
    return Status::DeadlineExceeded("query timed out in query execution");
  }
  return Status::Ok();
}

using internal::EvalError;
using internal::Grid;
using internal::IsPresent;
using internal::StepVector;

namespace {

// Applies the delayed metric-name removal and rejects results where two series end up with
// the same labels.
Status FinishVector(StepVector& v) {
  for (auto& s : v) {
    if (s.drop_name) {
      s.labels = internal::WithoutName(s.labels);
      s.drop_name = false;
    }
  }
  std::vector<const Labels*> sorted;
  sorted.reserve(v.size());
  for (const auto& s : v) sorted.push_back(&s.labels);
  std::sort(sorted.begin(), sorted.end(), [](const Labels* a, const Labels* b) { return *a < *b; });
  for (size_t k = 1; k < sorted.size(); ++k) {
    if (*sorted[k] == *sorted[k - 1]) {
      return Status::Execution("vector cannot contain metrics with the same labelset");
    }
  }
  return Status::Ok();
}

// Walks an expression the way the evaluator does, widening [mint, maxt] by what each
// selector reads when its parent is evaluated at times in [lo, hi].
struct DataRangeWalk {
  int64_t start;  // the query's first and last step: what @ start() and @ end() mean
  int64_t end;
  int64_t lookback;
  int64_t mint = std::numeric_limits<int64_t>::max();
  int64_t maxt = std::numeric_limits<int64_t>::min();

  // The times a node with this @ and offset looks at when evaluated at [lo, hi].
  std::pair<int64_t, int64_t> Shift(const AtModifier& at, int64_t offset, int64_t lo,
                                    int64_t hi) const {
    switch (at.kind) {
      case AtModifier::Kind::kTimestamp:
        lo = hi = at.ts_ms;
        break;
      case AtModifier::Kind::kStart:
        lo = hi = start;
        break;
      case AtModifier::Kind::kEnd:
        lo = hi = end;
        break;
      case AtModifier::Kind::kNone:
        break;
    }
    return {SaturatingSub(lo, offset), SaturatingSub(hi, offset)};
  }

  // A selector reading (window ends [lo, hi], window width `width`).
  void Cover(std::pair<int64_t, int64_t> ends, int64_t width) {
    mint = std::min(mint, SaturatingSub(ends.first, width - 1));
    maxt = std::max(maxt, ends.second);
  }

  void Walk(const Expr& e, int64_t lo, int64_t hi) {
    switch (e.kind) {
      case ExprKind::kNumber:
      case ExprKind::kString:
        return;
      case ExprKind::kVectorSelector: {
        const auto& vs = As<VectorSelector>(e);
        return Cover(Shift(vs.at, vs.offset_ms, lo, hi), lookback);
      }
      case ExprKind::kMatrixSelector: {
        const auto& ms = As<MatrixSelector>(e);
        return Cover(Shift(ms.vs->at, ms.vs->offset_ms, lo, hi), ms.range_ms);
      }
      case ExprKind::kSubquery: {
        const auto& sq = As<SubqueryExpr>(e);
        auto [a, b] = Shift(sq.at, sq.offset_ms, lo, hi);
        return Walk(*sq.expr, SaturatingSub(a, sq.range_ms), b);
      }
      case ExprKind::kCall:
        for (const auto& arg : As<Call>(e).args) Walk(*arg, lo, hi);
        return;
      case ExprKind::kAggregate: {
        const auto& agg = As<AggregateExpr>(e);
        if (agg.param) Walk(*agg.param, lo, hi);
        return Walk(*agg.expr, lo, hi);
      }
      case ExprKind::kBinary:
        Walk(*As<BinaryExpr>(e).lhs, lo, hi);
        return Walk(*As<BinaryExpr>(e).rhs, lo, hi);
      case ExprKind::kUnary:
        return Walk(*As<UnaryExpr>(e).expr, lo, hi);
      case ExprKind::kParen:
        return Walk(*As<ParenExpr>(e).expr, lo, hi);
    }
  }
};

}  // namespace

TimeRange Engine::DataRange(const Expr& expr, int64_t start_ms, int64_t end_ms) const {
  DataRangeWalk w{start_ms, end_ms, opts_.lookback_delta_ms};
  w.Walk(expr, start_ms, end_ms);
  if (w.mint > w.maxt) return {start_ms, end_ms};
  return {w.mint, w.maxt};
}

Result<QueryResult> Engine::Instant(const query::Querier& q, const Expr& expr, int64_t t_ms,
                                    const QueryControl& ctl) const {
  return Exec(q, expr, t_ms, t_ms, 1, true, ctl);
}

Result<QueryResult> Engine::Range(const query::Querier& q, const Expr& expr, int64_t start_ms,
                                  int64_t end_ms, int64_t step_ms, const QueryControl& ctl) const {
  if (step_ms <= 0) {
    return Status::InvalidArgument(
        "zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if (end_ms < start_ms)
    return Status::InvalidArgument("end timestamp must not be before start time");
  ValueType t = expr.Type();
  if (t != ValueType::kScalar && t != ValueType::kVector) {
    return Status::InvalidArgument(fmt::format(
        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
        ValueTypeName(t)));
  }
  return Exec(q, expr, start_ms, end_ms, step_ms, false, ctl);
}

Result<QueryResult> Engine::Exec(const query::Querier& q, const Expr& expr, int64_t start_ms,
                                 int64_t end_ms, int64_t step_ms, bool instant,
                                 const QueryControl& ctl_in) const {
  QueryControl ctl = ctl_in;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(ctl.timeout_ms > 0 ? ctl.timeout_ms : opts_.timeout_ms);
  if (deadline < ctl.deadline) ctl.deadline = deadline;
  EngineOptions opts = opts_;
  if (ctl.max_samples > 0) opts.max_samples = ctl.max_samples;

  Grid g;
  g.start = start_ms;
  g.step = step_ms;
  g.n = static_cast<size_t>((end_ms - start_ms) / step_ms) + 1;

  QueryResult res;
  internal::Evaluator ev(q, opts, ctl, g, res.annotations);
  auto done = [&]() -> Result<QueryResult> {
    res.samples_loaded = ev.samples_loaded();
    std::vector<uint64_t> per_step = ev.samples_per_step();
    res.samples_per_step.reserve(per_step.size());
    for (size_t i = 0; i < per_step.size(); ++i) {
      res.samples_per_step.push_back({g.At(i), per_step[i]});
    }
    res.peak_samples = ev.peak_samples();
    return std::move(res);
  };
  try {
    internal::Value v = ev.Eval(expr, g);
    if (auto* sc = std::get_if<internal::Scalars>(&v)) {
      if (instant) {
        res.type = ValueType::kScalar;
        res.scalar = {start_ms, sc->v[0]};
      } else {
        res.type = ValueType::kMatrix;
        ResultSeries rs;
        for (size_t i = 0; i < g.n; ++i) rs.points.push_back({g.At(i), sc->v[i]});
        res.series.push_back(std::move(rs));
      }
      return done();
    }
    if (auto* str = std::get_if<std::string>(&v)) {
      res.type = ValueType::kString;
      res.str = std::move(*str);
      res.str_t = start_ms;
      return done();
    }
    if (auto* range = std::get_if<internal::RangeArg>(&v)) {
      res.type = ValueType::kMatrix;
      int64_t end = range->window_end[0];
      std::vector<Sample> buf;
      std::vector<histogram::HistogramSample> hbuf;
      std::vector<uint64_t> read(1, 0);
      auto in_window = [&](int64_t t) { return t > end - range->range_ms && t <= end; };
      for (size_t k = 0; k < range->size(); ++k) {
        ResultSeries rs;
        for (const auto& smp : range->Samples(k, buf)) {
          if (in_window(smp.t)) rs.points.push_back(smp);
        }
        for (const auto& smp : range->Histograms(k, hbuf)) {
          if (in_window(smp.t)) rs.histograms.push_back(smp);
        }
        size_t n = rs.points.size() + rs.histograms.size();
        if (n == 0) continue;
        if (range->lazy) read[0] += n;  // a subquery counted its own
        ev.Hold(static_cast<int64_t>(n));
        rs.labels =
            range->drop_name(k) ? internal::WithoutName(range->labels(k)) : range->labels(k);
        res.series.push_back(std::move(rs));
      }
      std::sort(res.series.begin(), res.series.end(),
                [](const ResultSeries& a, const ResultSeries& b) { return a.labels < b.labels; });
      ev.CountAtSteps(g, read);
      return done();
    }
    auto& vec = std::get<StepVector>(v);
    internal::DropEmpty(vec);
    RETURN_IF_ERROR(FinishVector(vec));
    res.type = instant ? ValueType::kVector : ValueType::kMatrix;
    res.series.reserve(vec.size());
    for (auto& s : vec) {
      ResultSeries rs;
      rs.labels = std::move(s.labels);
      for (size_t i = 0; i < g.n; ++i) {
        if (IsPresent(s.v[i])) {
          rs.points.push_back({g.At(i), s.v[i]});
        } else if (s.H(i) != nullptr) {
          rs.histograms.push_back({g.At(i), s.h[i]});
        }
      }
      res.series.push_back(std::move(rs));
    }
    if (!instant) {
      std::sort(res.series.begin(), res.series.end(),
                [](const ResultSeries& a, const ResultSeries& b) { return a.labels < b.labels; });
    }
    return done();
  } catch (const EvalError& e) {
    return e.status;
  }
}

}  // namespace strata::promql
