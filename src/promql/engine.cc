#include "promql/engine.h"

#include <fmt/format.h>

#include <algorithm>

#include "promql/eval.h"

namespace strata::promql {

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

}  // namespace

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
      std::vector<uint64_t> read(1, 0);
      for (size_t k = 0; k < range->size(); ++k) {
        ResultSeries rs;
        for (const auto& smp : range->Samples(k, buf)) {
          if (smp.t > end - range->range_ms && smp.t <= end) rs.points.push_back(smp);
        }
        if (rs.points.empty()) continue;
        if (range->lazy) read[0] += rs.points.size();  // a subquery counted its own
        ev.Hold(static_cast<int64_t>(rs.points.size()));
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
        if (IsPresent(s.v[i])) rs.points.push_back({g.At(i), s.v[i]});
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
