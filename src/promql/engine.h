#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/sample.h"
#include "base/status.h"
#include "promql/annotations.h"
#include "promql/ast.h"
#include "query/querier.h"

namespace strata::promql {

struct EngineOptions {
  int64_t lookback_delta_ms = int64_t{5} * 60 * 1000;
  // Step of subqueries written without one (`x[1h:]`): Prometheus's global evaluation interval.
  int64_t default_subquery_step_ms = int64_t{60} * 1000;
  // Samples a query may hold in memory at once (loaded plus intermediate results).
  uint64_t max_samples = 50'000'000;
  int64_t timeout_ms = int64_t{2} * 60 * 1000;
  // LogQL's arithmetic: division by zero gives NaN rather than an infinity.
  bool nan_on_division_by_zero = false;
};

// Per-query controls beyond the engine defaults.
struct QueryControl {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancelled = nullptr;  // set by the caller to abandon the query
  int64_t timeout_ms = 0;    // 0: EngineOptions::timeout_ms (a tenant's own limit otherwise)
  uint64_t max_samples = 0;  // 0: EngineOptions::max_samples
  // Called at every interrupt check, from any evaluating thread; may block for a while to
  // let other tenants' queries run first (the query frontend's scheduler).
  std::function<void()> yield;
};

// Cancelled (the client left) or DeadlineExceeded (past ctl.deadline), or OK: what a query
// checks between pieces of work. Does not call ctl.yield.
Status Interrupted(const QueryControl& ctl);

// One series of a result: a single point for instant vectors, many for matrices.
struct ResultSeries {
  Labels labels;
  std::vector<Sample> points;
  std::vector<histogram::HistogramSample> histograms;  // native histogram points
};

struct QueryResult {
  ValueType type = ValueType::kVector;
  std::vector<ResultSeries> series;  // vector: one point each; matrix: sorted by labels
  Sample scalar{};                   // type == kScalar
  std::string str;                   // type == kString
  int64_t str_t = 0;
  Annotations annotations;
  uint64_t samples_loaded = 0;  // samples decoded from storage
  uint64_t peak_samples = 0;    // the most samples held at once
  // Prometheus's totalQueryableSamplesPerStep: per step (its time), the samples read for it
  // (a point selected, or the points in a range window); their sum is totalQueryableSamples.
  std::vector<std::pair<int64_t, uint64_t>> samples_per_step;
};

// Sample times, inclusive.
struct TimeRange {
  int64_t mint = 0;
  int64_t maxt = 0;
};

// Engine evaluates parsed PromQL expressions against a Querier. It holds only options and is
// safe to use from many threads; each call evaluates independently. Errors carry Prometheus's
// messages; codes: InvalidArgument (bad query parameters), Execution (evaluation failed),
// LimitExceeded (max samples), DeadlineExceeded, Cancelled.
class Engine {
 public:
  explicit Engine(EngineOptions opts = {}) : opts_(opts) {}

  Result<QueryResult> Instant(const query::Querier& q, const Expr& expr, int64_t t_ms,
                              const QueryControl& ctl = {}) const;
  Result<QueryResult> Range(const query::Querier& q, const Expr& expr, int64_t start_ms,
                            int64_t end_ms, int64_t step_ms, const QueryControl& ctl = {}) const;

  // The sample times evaluating `expr` at steps in [start_ms, end_ms] reads (start == end
  // for an instant query): what a querier for the evaluation must cover (Prometheus's
  // FindMinMaxTime). [start_ms, end_ms] for an expression without selectors.
  TimeRange DataRange(const Expr& expr, int64_t start_ms, int64_t end_ms) const;

  const EngineOptions& options() const { return opts_; }

 private:
  Result<QueryResult> Exec(const query::Querier& q, const Expr& expr, int64_t start_ms,
                           int64_t end_ms, int64_t step_ms, bool instant,
                           const QueryControl& ctl) const;

  EngineOptions opts_;
};

}  // namespace strata::promql
