#pragma once

#include <cstdint>
#include <memory>

#include "base/tenant.h"
#include "frontend/frontend.h"
#include "http/server.h"
#include "limits/limits.h"
#include "logql/engine.h"
#include "logs/follow.h"
#include "logs/querier.h"

namespace strata::api {

struct LokiApiOptions {
  promql::EngineOptions engine;
  TenantPolicy tenants;
  int64_t max_points_per_series = 11000;  // metric range queries, as Loki
};

// LokiApi serves Loki's HTTP query API as Grafana's Loki data source and logcli call it:
// /loki/api/v1/query, query_range (streams and matrix results, direction, limit, step),
// labels, label/<name>/values, series, index/stats, index/volume(_range), detected_labels,
// detected_fields, detected_field/<name>/values, patterns, tail (WebSocket), format_query and
// status/buildinfo, with
// Loki's JSON,
// status codes and error texts (plain text, as Loki), the categorize-labels response form,
// and gzip. Requests run on the shared query scheduler, per tenant (X-Scope-OrgID), never on
// the HTTP threads; a client that disconnects cancels its query. Thread-safe.
class LokiApi {
 public:
  // `queryable`, `followers` (the live tails), `limits` (per tenant: timeout, max_samples,
  // max_entries_limit_per_query), `scheduler` and `runner` (range metric queries: split, cached,
  // shared with PromQL) outlive this object; the scheduler is stopped before it goes.
  LokiApi(LokiApiOptions opts, const logs::Queryable& queryable, logs::Followers& followers,
          const limits::TenantOverrides& limits, frontend::FairScheduler& scheduler,
          const frontend::RangeRunner& runner);
  // Ends the live tails and joins their threads.
  ~LokiApi();

  void Register(http::Server& server);

  struct Call;  // one request on its way through a query thread (defined in loki_api.cc)

 private:
  void Query(Call& c);
  void QueryRange(Call& c);
  void LabelNames(Call& c);
  void LabelValues(Call& c);
  void Series(Call& c);
  void FormatQuery(Call& c);
  // loki_index.cc
  void IndexStats(Call& c);
  void Volume(Call& c, bool range);
  void VolumeInstant(Call& c) { Volume(c, false); }
  void VolumeRange(Call& c) { Volume(c, true); }
  void DetectedLabels(Call& c);
  void DetectedFields(Call& c);  // and detected_field/<name>/values
  void Patterns(Call& c);
  // loki_tail.cc
  void Tail(Call& c);
  struct TailRequest;
  void RunTail(const TailRequest& req, http::WebSocket& ws);

  const LokiApiOptions opts_;
  // The tenant's query limits as the engine takes them.
  promql::QueryControl Control(const Call& c) const;

  const logs::Queryable& queryable_;
  logs::Followers& followers_;
  const limits::TenantOverrides& limits_;
  frontend::FairScheduler& scheduler_;
  const frontend::RangeRunner& runner_;
  logql::Engine engine_;
  struct Tails;  // the live tails' threads
  std::unique_ptr<Tails> tails_;
};

}  // namespace strata::api
