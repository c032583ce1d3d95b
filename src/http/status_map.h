#pragma once

#include <string_view>

#include "base/status.h"
#include "http/server.h"

namespace strata::http {

// The one mapping of a Status to what an HTTP client sees: the response status and, for
// Prometheus's API, its errorType. Every handler (server and agent, every protocol) answers
// errors through it, so a code means the same thing on every endpoint.
struct ErrorClass {
  Status status;                // HTTP status
  std::string_view error_type;  // Prometheus API errorType
};
ErrorClass Classify(const strata::Status& st);

// Classify(st).status.
inline Status StatusFor(const strata::Status& st) { return Classify(st).status; }

}  // namespace strata::http
