#include "base/status.h"

#include <fmt/format.h>

namespace strata {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalidArgument:
      return "invalid argument";
    case Status::Code::kNotFound:
      return "not found";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kIOError:
      return "io error";
    case Status::Code::kResourceExhausted:
      return "resource exhausted";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kDeadlineExceeded:
      return "deadline exceeded";
    case Status::Code::kUnauthenticated:
      return "unauthenticated";
    case Status::Code::kTooLarge:
      return "too large";
    case Status::Code::kExecution:
      return "execution";
    case Status::Code::kCancelled:
      return "cancelled";
    case Status::Code::kLimitExceeded:
      return "limit exceeded";
    case Status::Code::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return fmt::format("{}: {}", CodeName(code_), message_);
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, fmt::format("{}: {}", context, message_));
}

}  // namespace strata
