#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "frontend/results_cache.h"
#include "frontend/scheduler.h"
#include "limits/limits.h"
#include "promql/engine.h"
#include "query/querier.h"
#include "query/queryable.h"

namespace strata::frontend {

struct FrontendOptions {
  int64_t split_interval_ms = 86'400'000;  // range queries split at multiples of this; 0: never
  size_t max_parallel_splits = 0;          // sub-queries of one query at once; 0: workers
  int64_t max_freshness_ms = 600'000;      // results newer than now - this are never cached
  int64_t slow_query_ms = 10'000;          // queries slower than this are logged; 0: none
};

// What the frontend did for one query, for stats=all and the slow-query log.
struct QueryStats {
  size_t splits = 0;               // sub-queries the range was cut into
  size_t cached_splits = 0;        // answered entirely from the results cache
  size_t partial_splits = 0;       // answered partly from the cache
  size_t subqueries = 0;           // engine evaluations (adjacent uncached steps are run together)
  uint64_t samples = 0;            // samples loaded by evaluation (none for cached parts)
  uint64_t peak_samples = 0;       // the most one sub-query held at once
  uint64_t series = 0;             // series in the result
  int64_t step_ms = 0;             // the step evaluated (wider than asked when adapted)
  std::vector<std::string> infos;  // for the response's infos: what the frontend changed
  std::chrono::nanoseconds exec{0};
  // Of one evaluation: the samples read per step (QueryResult::samples_per_step).
  std::vector<std::pair<int64_t, uint64_t>> samples_per_step;
};

struct RangeQuery {
  std::string tenant;
  std::string text;  // as written: annotation positions refer to it
  const promql::Expr* expr = nullptr;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t step_ms = 0;
  query::ReadHints hints;        // how to read (the time range is set per sub-query)
  std::optional<bool> adaptive;  // the request's choice; unset: the tenant's
  promql::QueryControl ctl;      // deadline and client cancellation
};

// An evaluation's answer over the steps [first, last] as an extent; what it read goes to
// `stats`.
Extent TakeExtent(int64_t first, int64_t last, promql::QueryResult r, QueryStats& stats);

// One range query as a frontend hands it to the RangeRunner, in whatever language.
struct RangeJob {
  std::string tenant;
  std::string text;  // as written, for the slow-query log
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t step_ms = 0;
  // Whether steps may be evaluated apart (no `@ start()` or `@ end()`).
  bool splittable = true;
  // Everything the answer depends on but the time range (language, normalized query, read
  // options); empty: never cached.
  std::string cache_key;
  // How long after their time samples may still arrive: steps newer than now minus the
  // larger of this and frontend.max_freshness are never cached.
  int64_t settle_ms = 0;
  promql::QueryControl ctl;  // under the tenant's limits (RangeRunner::ControlFor)
  // Evaluates the steps in [first, last] and adds what it read to `stats`.
  std::function<Result<Extent>(int64_t first, int64_t last, const promql::QueryControl& ctl,
                               QueryStats& stats)>
      eval;
  // Annotation positions to their cached form and back (unset: kept as they are).
  std::function<promql::Annotations(const promql::Annotations&)> to_cache;
  std::function<promql::Annotations(const promql::Annotations&)> from_cache;
};

// RangeRunner runs the range queries of every query language: it cuts a query into splits
// aligned to multiples of split_interval, answers their settled parts from the results
// cache, evaluates the rest in about as many pieces as the scheduler has workers, in the
// tenant's turns, and joins the answers. Results are identical to one evaluation of the
// whole range. One per server, so that PromQL and LogQL share the cache. Thread-safe.
class RangeRunner {
 public:
  // `cache` may be null (no results cache); so may `registry` (no metrics). `scheduler`
  // outlives this.
  RangeRunner(FrontendOptions opts, FairScheduler& scheduler, std::unique_ptr<Cache> cache,
              prometheus::Registry* registry = nullptr);

  Result<promql::QueryResult> Run(const RangeJob& job, QueryStats& stats) const;
  // The tenant's limits and scheduler yields on top of the request's control.
  promql::QueryControl ControlFor(const std::string& tenant, const limits::QueryLimits& l,
                                  promql::QueryControl ctl) const;

 private:
  struct Split {
    int64_t first;  // step timestamps, inclusive
    int64_t last;
    int64_t bucket;  // start of the split interval it lies in
  };
  std::vector<Split> Splits(int64_t start, int64_t end, int64_t step) const;

  const FrontendOptions opts_;
  FairScheduler& scheduler_;
  std::unique_ptr<Cache> cache_;
  prometheus::Family<prometheus::Counter>* splits_ = nullptr;
};

// QueryFrontend sits in front of the PromQL engine: it applies per-tenant limits, runs range
// queries through the RangeRunner and, when asked, widens the step of a query too large for
// the tenant's budget, saying so in the result's infos. Thread-safe.
class QueryFrontend {
 public:
  // Each evaluation reads through a querier from `queryable` for the time range it reads.
  // Per-tenant query limits come from `limits` (the `query` section). `limits`, `queryable`,
  // `engine` and `runner` outlive this.
  QueryFrontend(const limits::TenantOverrides& limits, const query::Queryable& queryable,
                const promql::Engine& engine, const RangeRunner& runner);

  // A range query. InvalidArgument for limits the request breaks (range too long),
  // LimitExceeded for limits hit while running; engine errors otherwise.
  Result<promql::QueryResult> Range(const RangeQuery& q, QueryStats* stats) const;
  // An instant query under the tenant's limits.
  Result<promql::QueryResult> Instant(const std::string& tenant, const promql::Expr& expr,
                                      int64_t t_ms, const query::ReadHints& hints,
                                      const promql::QueryControl& ctl) const;

 private:
  // A querier over what evaluating q.expr at steps in [first, last] reads.
  Result<std::unique_ptr<query::Querier>> QuerierFor(const std::string& tenant,
                                                     const promql::Expr& expr,
                                                     query::ReadHints hints, int64_t first,
                                                     int64_t last) const;
  Result<Extent> Eval(const RangeQuery& q, int64_t first, int64_t last,
                      const promql::QueryControl& ctl, QueryStats& stats) const;

  const limits::TenantOverrides& limits_;
  const query::Queryable& queryable_;
  const promql::Engine& engine_;
  const RangeRunner& runner_;
};

}  // namespace strata::frontend
