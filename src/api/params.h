#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/server.h"

namespace strata::api {

// Request parameters from the query string and, for POST, an
// application/x-www-form-urlencoded body, as Prometheus's API reads them.
class Params {
 public:
  static Result<Params> FromRequest(const http::Request& req);

  std::optional<std::string> Get(std::string_view key) const;  // the first value
  std::vector<std::string> GetAll(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

// Decodes application/x-www-form-urlencoded pairs ("a=1&b=%20x+y").
Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view s);

// A time as Unix seconds (fractions to milliseconds) or RFC 3339, in milliseconds.
Result<int64_t> ParseTime(std::string_view s);
// A time as Loki's API reads it: float seconds, integer seconds (up to 10 digits) or
// nanoseconds, or RFC 3339 (nanosecond fractions); in nanoseconds.
Result<int64_t> ParseLokiTime(std::string_view s);
// A duration as float seconds or Prometheus duration ("5m"), in nanoseconds (within int64,
// as Prometheus's and Loki's), or in milliseconds.
Result<int64_t> ParseDurationNanos(std::string_view s);
Result<int64_t> ParseDuration(std::string_view s);

}  // namespace strata::api
