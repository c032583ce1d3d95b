#pragma once

#include <cstdint>
#include <string>

#include "agent/receive/intake.h"
#include "http/server.h"

namespace strata::agent {

// Receives Prometheus remote write 1.0 (POST /api/v1/write and /api/v1/push): checks the
// encoding, decompresses within `max_decompressed_bytes` and decodes the whole request, so
// nothing malformed is queued, then queues the body as received. Answers 204 once durable.
// Requests without X-Scope-OrgID get `default_tenant`.
void HandleRemoteWrite(Intake& intake, uint64_t max_decompressed_bytes,
                       const std::string& default_tenant, http::Request& req,
                       const http::Responder& respond);

}  // namespace strata::agent
