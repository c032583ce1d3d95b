#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/tenant.h"
#include "http/error_response.h"
#include "http/server.h"
#include "ingest/distributor.h"
#include "ingest/log_distributor.h"
#include "ingest/trace_distributor.h"
#include "proto/otlp.h"

namespace strata::api {

struct PushOptions {
  TenantPolicy tenants;
  uint64_t max_decompressed_body_bytes = 64u << 20;
};

// PushApi is the HTTP face of ingestion: Prometheus remote write (POST /api/v1/push,
// /api/v1/write), OTLP/HTTP metrics, logs and traces (POST /otlp/v1/metrics, /otlp/v1/logs,
// /otlp/v1/traces and /v1/traces) and Loki push (POST /loki/api/v1/push). It resolves the tenant,
// decodes the body, hands the batch to the signal's distributor and answers in the protocol's terms
// once the distributor reports: errors through http/status_map.h, 429 with Retry-After, OTLP's
// partial success. Thread-safe.
class PushApi {
 public:
  PushApi(PushOptions opts, ingest::Distributor& distributor, ingest::LogDistributor& logs,
          ingest::TraceDistributor& traces, prometheus::Registry& registry);

  void Register(http::Server& server);

  void HandleRemoteWrite(http::Request& req, const http::Responder& respond);
  // OTLP metrics (protobuf or JSON, optionally gzip), translated to Prometheus series
  // (proto/otlp_metrics.h); points with no Prometheus form are the partial success.
  void HandleOtlp(http::Request& req, const http::Responder& respond);
  // OTLP logs (protobuf or JSON, optionally gzip), stored as Loki 3 stores them
  // (proto/otlp_logs.h); 200 once durable, refusals as OTLP's partial success, 429 when over a
  // tenant's limit.
  void HandleOtlpLogs(http::Request& req, const http::Responder& respond);
  // OTLP traces (protobuf or JSON, optionally gzip), stored by trace (proto/otlp_traces.h);
  // 200 once durable, spans refused by a per-trace limit or without valid IDs as OTLP's
  // partial success, 429 with Retry-After over the tenant's rate.
  void HandleOtlpTraces(http::Request& req, const http::Responder& respond);
  // Loki push: snappy-compressed protobuf PushRequest, or JSON (Content-Type application/json),
  // either optionally gzip; 204 once durable, 400 naming what was refused (the rest is
  // stored), 429 over the rate or stream limit.
  void HandleLokiPush(http::Request& req, const http::Responder& respond);

 private:
  // Answers `error` in `format` and counts it.
  void Fail(const http::Request& req, const http::Responder& respond, const std::string& tenant,
            const Status& error, http::ErrorFormat format = http::ErrorFormat::kText);
  // Sends `res` and counts it.
  void Send(const http::Responder& respond, const std::string& tenant, http::Response res);

  // An OTLP/HTTP request's tenant and body, as protobuf.
  struct OtlpBody {
    std::string tenant;
    std::string raw;
    bool json = false;  // the request was JSON: so is the answer
    http::ErrorFormat errors() const {
      return json ? http::ErrorFormat::kOtlpJson : http::ErrorFormat::kOtlpProtobuf;
    }
  };
  // Reads the tenant, Content-Type and body; answers and returns nullopt when unusable.
  std::optional<OtlpBody> ReadOtlp(http::Request& req, const http::Responder& respond,
                                   proto::OtlpSignal signal);
  // The Export*ServiceResponse (200), with OTLP's partial success when some were rejected.
  static void SendOtlpResponse(const http::Responder& respond, const http::Request& head,
                               proto::OtlpSignal signal, bool json, uint64_t rejected,
                               std::string_view message);

  const PushOptions opts_;
  ingest::Distributor& distributor_;
  ingest::LogDistributor& logs_;
  ingest::TraceDistributor& traces_;
  prometheus::Family<prometheus::Counter>& requests_;
};

}  // namespace strata::api
