#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/tenant.h"
#include "frontend/scheduler.h"
#include "http/server.h"
#include "traceql/trace.h"
#include "traces/queryable.h"

namespace strata::api {

// TempoApi serves Tempo's HTTP query API as Grafana's Tempo data source calls it:
// GET /api/traces/<id> (tempopb.Trace as jsonpb writes it, IDs in base64 and the resource
// spans under "batches", or protobuf when Accept names application/protobuf; 404 when no
// span of the trace is stored), GET /api/v2/traces/<id> (TraceByIDResponse: the trace and
// metrics), GET /api/search (a TraceQL search, or Tempo's older tags= search: the matching
// traces newest first with their spansets, as SearchResponse), the tag names and values
// Grafana's query builder offers (/api/search/tags, /api/v2/search/tags,
// /api/search/tag/<tag>/values, /api/v2/search/tag/<tag>/values), TraceQL metrics
// (/api/metrics/query_range, /api/metrics/query: QueryRangeResponse and
// QueryInstantResponse), /api/echo and /api/status/buildinfo. Lookups wait in the tenant's turn on
// the query scheduler. Errors are plain text, as Tempo's. Thread-safe.
class TempoApi {
 public:
  // Everything passed outlives this.
  TempoApi(TenantPolicy tenants, const traces::Queryable& queryable,
           frontend::FairScheduler& scheduler)
      : tenants_(std::move(tenants)), queryable_(queryable), scheduler_(scheduler) {}

  void Register(http::Server& server);

 private:
  struct Call;
  void TraceById(Call& c, bool v2);
  void Search(Call& c);
  void SearchTags(Call& c, bool v2);
  void SearchTagValues(Call& c, bool v2);
  void MetricsQuery(Call& c, bool instant);
  // What a read of a tenant's traces went through: traces and their stored bytes.
  struct Inspected {
    uint64_t traces = 0, bytes = 0;
  };
  // Gives `fn` each of the tenant's traces with spans in [start_ns, end_ns] that `filter`
  // (if any) lets through, decoded, until `fn` returns false. Past the search's byte budget
  // it fails, or with `truncated` stops and sets it.
  Result<Inspected> ForEachTrace(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                                 traces::block::TraceFilter* filter, bool* truncated,
                                 const std::function<bool(const traceql::Trace&)>& fn);
  // Calls `fn` with each span of the tenant's traces in the call's time range (the last hour
  // without start and end) that the first filter of the call's `q` matches, as Tempo narrows
  // tag lookups; until `fn` returns false. Past the search's byte budget, only what was read
  // (the head, then the newest blocks). The bytes of stored traces read, or the error.
  Result<uint64_t> ForEachTagSpan(
      Call& c, const std::function<bool(const traceql::Trace&, const traceql::Span&)>& fn);

  const TenantPolicy tenants_;
  const traces::Queryable& queryable_;
  frontend::FairScheduler& scheduler_;
};

// The TraceQL query of Tempo's older search parameter `tags`: logfmt pairs (`a=b c="d e"`),
// each a condition some span of the trace must meet on an attribute (span's, then
// resource's; `name` is the span name).
Result<std::string> TagsQuery(std::string_view tags);

// A trace ID as Tempo reads it from a path: hex digits of either case, an odd count
// taking a leading 0, at most 128 bits, left-padded with zero bytes to 16. Errors are
// Tempo's texts.
Result<std::string> ParseTraceId(std::string_view hex);

}  // namespace strata::api
