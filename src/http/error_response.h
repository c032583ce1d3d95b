#pragma once

#include <cstdint>
#include <string>

#include "http/server.h"

namespace strata::http {

// How an endpoint words an error body: plain text, or OTLP/HTTP's google.rpc.Status in the
// request's encoding (protobuf or JSON), as the OTLP specification requires of every 4xx and
// 5xx answer.
enum class ErrorFormat : uint8_t { kText, kOtlpProtobuf, kOtlpJson };

// The google.rpc.Code OTLP/HTTP error bodies carry for an HTTP status.
int32_t RpcCode(Status code);

// An error answer with status `code` and `message` in `format`.
Response ErrorResponse(unsigned version, bool keep_alive, ErrorFormat format, Status code,
                       const std::string& message);

}  // namespace strata::http
