#include "http/status_map.h"

namespace strata::http {

ErrorClass Classify(const strata::Status& st) {
  using Code = strata::Status::Code;
  switch (st.code()) {
    case Code::kOk:
      return {Status::ok, ""};
    case Code::kInvalidArgument:
      return {Status::bad_request, "bad_data"};
    case Code::kNotFound:
      return {Status::not_found, "not_found"};
    case Code::kUnauthenticated:
      return {Status::unauthorized, "bad_data"};
    case Code::kTooLarge:
      return {Status::payload_too_large, "bad_data"};
    case Code::kUnsupported:
      return {Status::unsupported_media_type, "bad_data"};
    // A rate or queue limit: the sender retries after Retry-After.
    case Code::kResourceExhausted:
      return {Status::too_many_requests, "unavailable"};
    // Prometheus answers query limits (too many samples) as execution errors.
    case Code::kExecution:
    case Code::kLimitExceeded:
      return {Status::unprocessable_entity, "execution"};
    // Transient: data not acknowledged is retried by every sender on 503.
    case Code::kUnavailable:
    case Code::kIOError:
      return {Status::service_unavailable, "unavailable"};
    case Code::kDeadlineExceeded:
      return {Status::service_unavailable, "timeout"};
    case Code::kCancelled:
      return {static_cast<Status>(499), "canceled"};  // the client closed the request (nginx)
    case Code::kCorruption:
      break;
  }
  return {Status::internal_server_error, "internal"};
}

}  // namespace strata::http
