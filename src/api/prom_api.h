#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "frontend/frontend.h"
#include "http/server.h"
#include "promql/engine.h"
#include "store/gateway.h"
#include "tsdb/storage.h"

namespace strata::api {

struct ApiOptions {
  promql::EngineOptions engine;
  int64_t max_points_per_series = 11000;  // range queries, as Prometheus
  bool require_tenant = false;            // X-Scope-OrgID required (else "anonymous")
  frontend::SchedulerOptions scheduler;   // query workers and per-tenant queues
  frontend::FrontendOptions frontend;     // splitting, caching and per-tenant limits
};

// PromApi serves Prometheus's HTTP query API (/api/v1/query, query_range, series, labels,
// label values, metadata, query_exemplars, format_query, parse_query, status/tsdb) with
// Prometheus's JSON, byte for byte. Requests wait in per-tenant queues and run on the
// scheduler's workers, never on the HTTP threads; range queries go through the query
// frontend (split, cached, limited). A client that disconnects cancels its query. Tenants
// come from X-Scope-OrgID. Thread-safe; the storage is attached once it is open.
class PromApi {
 public:
  // `cache` holds range-query results (null: none); the scheduler's and frontend's metrics go
  // to `registry` (may be null).
  PromApi(ApiOptions opts, std::unique_ptr<frontend::Cache> cache, prometheus::Registry* registry);
  ~PromApi();

  void Register(http::Server& server);
  // Attaches the storage; until then queries answer 503. Must outlive this object.
  void SetStorage(const tsdb::Storage* storage) {
    storage_.store(storage, std::memory_order_release);
  }
  // Attaches the store gateway, whose blocks are merged with the head. Must outlive this.
  void SetStoreGateway(const store::StoreGateway* gateway) {
    gateway_.store(gateway, std::memory_order_release);
  }

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
  promql::Engine engine_;
  std::atomic<const tsdb::Storage*> storage_{nullptr};
  std::atomic<const store::StoreGateway*> gateway_{nullptr};
  std::unique_ptr<frontend::FairScheduler> scheduler_;
  std::unique_ptr<frontend::QueryFrontend> frontend_;
};

}  // namespace strata::api
