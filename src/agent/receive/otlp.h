#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/receive/intake.h"
#include "http/server.h"
#include "proto/otlp.h"

namespace strata::agent {

// One OTLP request decoded for queueing, shared by the HTTP and gRPC receivers.
struct OtlpBatch {
  std::vector<QueueRecord> variants;  // empty when nothing is left to queue
  Budget budget = Budget::kSamples;
  double amount = 0;      // what the tenant's rate limit counts
  uint64_t rejected = 0;  // metric points no remote-write backend can take
  std::string rejected_message;
};

// Validates a serialized Export*ServiceRequest and builds its queue records: the request as
// received for OTLP exporters, and for metrics, when a remote_write exporter exists, its
// Prometheus translation (untranslatable points are counted in `rejected`).
Result<OtlpBatch> PrepareOtlp(Intake& intake, proto::OtlpSignal signal, const std::string& tenant,
                              std::string_view protobuf);

// POST /v1/metrics, /v1/logs, /v1/traces: protobuf or JSON, optionally gzip. Answers 200 with
// an Export*ServiceResponse in the request's encoding once durable; errors carry a
// google.rpc.Status. Requests without X-Scope-OrgID get `default_tenant`. `receiver` names
// the receiver in metrics (and to the intake); empty: otlp_http_<signal>.
void HandleOtlpHttp(Intake& intake, proto::OtlpSignal signal, uint64_t max_decompressed_bytes,
                    const std::string& default_tenant, http::Request& req,
                    const http::Responder& respond, std::string receiver = {});

}  // namespace strata::agent
