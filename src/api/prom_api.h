#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "base/tenant.h"
#include "frontend/frontend.h"
#include "http/server.h"
#include "limits/limits.h"
#include "promql/engine.h"
#include "query/metrics_queryable.h"

namespace strata::api {

struct ApiOptions {
  promql::EngineOptions engine;
  int64_t max_points_per_series = 11000;  // range queries, as Prometheus
  TenantPolicy tenants;                   // X-Scope-OrgID required, or else the default tenant
  frontend::SchedulerOptions scheduler;   // query workers and per-tenant queues (all APIs')
  frontend::FrontendOptions frontend;     // splitting, caching and per-tenant limits
};

// PromApi serves Prometheus's HTTP query API (/api/v1/query, query_range, series, labels,
// label values, metadata, query_exemplars, format_query, parse_query, status/tsdb) with
// Prometheus's JSON, byte for byte. Requests wait in per-tenant queues and run on the
// scheduler's workers, never on the HTTP threads; range queries go through the query
// frontend (split, cached, limited). A client that disconnects cancels its query. Tenants
// come from X-Scope-OrgID. Storage is seen only through a Queryable. Thread-safe.
class PromApi {
 public:
  // `queryable`, `limits` (the tenants' query limits), `scheduler` (the query threads,
  // shared with the other query APIs; stopped before this object goes) and `runner` (range
  // queries, shared with them too) outlive this object.
  PromApi(ApiOptions opts, const query::MetricsQueryable& queryable,
          const limits::TenantOverrides& limits, frontend::FairScheduler& scheduler,
          const frontend::RangeRunner& runner);
  ~PromApi();

  void Register(http::Server& server);

 public:
  struct Call;  // one request on its way through a query thread (defined in prom_api.cc)

 private:
  using Body = std::function<void(Call&)>;

  // Parses parameters and the tenant, then runs `body` on a query thread.
  void Run(http::Request& req, const http::Responder& respond, Body body);

  using Runner =
      std::function<Result<promql::QueryResult>(const promql::Expr&, const promql::QueryControl&)>;
  // Reads query, timeout, limit and stats, runs the query and writes its result or error;
  // `fst` (range queries) adds the frontend's part to the stats.
  void Evaluate(Call& c, const Runner& run, const frontend::QueryStats* fst = nullptr);
  void Query(Call& c);
  void QueryRange(Call& c);
  void Series(Call& c);
  void LabelNames(Call& c);
  void LabelValues(Call& c);
  void Metadata(Call& c);
  void QueryExemplars(Call& c);
  void FormatQuery(Call& c);
  void ParseQuery(Call& c);
  void TsdbStatus(Call& c);

  const ApiOptions opts_;
  const query::MetricsQueryable& queryable_;
  promql::Engine engine_;
  frontend::FairScheduler& scheduler_;
  std::unique_ptr<frontend::QueryFrontend> frontend_;
};

}  // namespace strata::api
