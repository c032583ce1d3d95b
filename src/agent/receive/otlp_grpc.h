#pragma once

#include <string>

#include "agent/receive/intake.h"
#include "rpc/otlp_server.h"

namespace strata::agent {

// The agent's OTLP/gRPC receiver: what each Export call on the shared OTLP/gRPC server
// (rpc/otlp_server.h, default port 4317) does. The request goes through the same decoding as
// OTLP/HTTP and is answered OK with the Export*ServiceResponse once durable; INVALID_ARGUMENT
// for malformed requests; UNAVAILABLE (retryable) for back-pressure and rate limits. The
// tenant comes from the x-scope-orgid metadata, else `default_tenant`.
otlpgrpc::Handler OtlpGrpcHandler(Intake& intake, std::string default_tenant);

}  // namespace strata::agent
