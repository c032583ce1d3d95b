#pragma once

#include <cstdint>
#include <string>

#include "agent/receive/intake.h"
#include "http/server.h"

namespace strata::agent {

// POST /loki/api/v1/push: snappy-compressed logproto.PushRequest (application/x-protobuf, as
// Promtail, Alloy and the Loki clients send it) or JSON (application/json, optionally gzip).
// The request is validated in full, queued as protobuf and answered 204 once durable.
// Requests without X-Scope-OrgID get `default_tenant`.
void HandleLokiPush(Intake& intake, uint64_t max_decompressed_bytes,
                    const std::string& default_tenant, http::Request& req,
                    const http::Responder& respond);

}  // namespace strata::agent
