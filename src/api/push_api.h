#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/metric_family.h"
#include "base/tenant.h"
#include "http/error_response.h"
#include "http/server.h"
#include "ingest/distributor.h"
#include "ingest/log_distributor.h"
#include "ingest/trace_distributor.h"
#include "proto/otlp.h"
#include "rpc/otlp_server.h"

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
  // OTLP/HTTP (protobuf or JSON, optionally gzip) of one signal: metrics translated to
  // Prometheus series (proto/otlp_metrics.h), logs stored as Loki 3 stores them
  // (proto/otlp_logs.h), traces stored by trace (proto/otlp_traces.h). 200 with the
  // Export*ServiceResponse once durable, what was refused as OTLP's partial success; 429 with
  // Retry-After over a tenant's rate (and, for logs, its stream limit); errors as a
  // google.rpc.Status in the request's encoding.
  void HandleOtlpHttp(http::Request& req, const http::Responder& respond, proto::OtlpSignal signal);
  // One OTLP/gRPC Export call (rpc/otlp_server.h's Handler): the same storage, answered OK
  // with the Export*ServiceResponse once durable; INVALID_ARGUMENT when malformed,
  // UNAVAILABLE (retryable) when over a limit or not ready; the tenant from x-scope-orgid.
  void HandleOtlpGrpc(proto::OtlpSignal signal, std::optional<std::string> tenant,
                      const std::string& request, std::function<void(otlpgrpc::Reply)> done);
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

  // Decodes an OTLP request of `signal` (protobuf, borrowed for the call) and hands it to the
  // signal's distributor; `done` gets the outcome (a malformed request: kInvalidArgument).
  void StoreOtlp(proto::OtlpSignal signal, const std::string& tenant, std::string_view raw,
                 const ingest::Distributor::Done& done);

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
  SeriesByLabels<prometheus::Counter> requests_;       // by tenant, code
  SeriesByLabels<prometheus::Counter> grpc_requests_;  // by tenant, code
};

}  // namespace strata::api
