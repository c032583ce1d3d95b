#include "api/params.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "base/encoding.h"
#include "base/math.h"
#include "base/units.h"

namespace strata::api {

namespace bhttp = boost::beast::http;

Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  auto decode = [](std::string_view in, std::string* dst) {
    return PercentDecode(in, /*plus_as_space=*/true, dst);
  };
  size_t pos = 0;
  while (pos < s.size()) {
    size_t amp = s.find('&', pos);
    if (amp == std::string_view::npos) amp = s.size();
    std::string_view pair = s.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string k, v;
    bool ok = decode(pair.substr(0, eq), &k);
    if (ok && eq != std::string_view::npos) ok = decode(pair.substr(eq + 1), &v);
    if (!ok) return Status::InvalidArgument(fmt::format("invalid URL escape in \"{}\"", pair));
    out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

Result<Params> Params::FromRequest(const http::Request& req) {
  Params p;
  std::string_view target(req.target().data(), req.target().size());
  size_t q = target.find('?');
  if (q != std::string_view::npos) {
    ASSIGN_OR_RETURN(p.kv_, ParseForm(target.substr(q + 1)));
  }
  if (req.method() == bhttp::verb::post) {
    auto ct = req[bhttp::field::content_type];
    if (std::string_view(ct.data(), ct.size()).starts_with("application/x-www-form-urlencoded")) {
      ASSIGN_OR_RETURN(auto body, ParseForm(req.body()));
      // Form values come before query-string values, as in Go's Request.Form.
      body.insert(body.end(), p.kv_.begin(), p.kv_.end());
      p.kv_ = std::move(body);
    }
  }
  return p;
}

std::optional<std::string> Params::Get(std::string_view key) const {
  for (const auto& [k, v] : kv_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Params::GetAll(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : kv_) {
    if (k == key) out.push_back(v);
  }
  return out;
}

namespace {

bool ParseFloatStrict(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return end != nullptr && *end == '\0';
}

// RFC 3339 (base's parser) as Unix nanoseconds, when they fit.
bool ParseRfc3339Nanos(std::string_view s, int64_t* ns) {
  Rfc3339Time t;
  if (!ParseRfc3339(s, &t)) return false;
  if (t.unix_s > INT64_MAX / 1'000'000'000 - 1 || t.unix_s < INT64_MIN / 1'000'000'000 + 1) {
    return false;
  }
  *ns = t.unix_s * 1'000'000'000 + t.nanos;
  return true;
}

}  // namespace

Result<int64_t> ParseTime(std::string_view s) {
  double f = 0;
  if (ParseFloatStrict(s, &f)) {
    // Bounded to what Prometheus's min and max times allow.
    if (!std::isfinite(f) || std::fabs(f) > 9.2e15) {
      return Status::InvalidArgument(fmt::format("cannot parse \"{}\" to a valid timestamp", s));
    }
    double whole = std::trunc(f);
    double frac = std::round((f - whole) * 1000);
    return static_cast<int64_t>(whole) * 1000 + static_cast<int64_t>(frac);
  }
  int64_t ns = 0;
  if (ParseRfc3339Nanos(s, &ns)) return ns / 1'000'000;
  return Status::InvalidArgument(fmt::format("cannot parse \"{}\" to a valid timestamp", s));
}

Result<int64_t> ParseLokiTime(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format("cannot parse \"{}\" to a valid timestamp", s));
  };
  // Loki: float seconds when there is a point, else an integer (seconds up to 10 digits,
  // nanoseconds beyond), else RFC 3339.
  if (s.find('.') != std::string_view::npos) {
    double f = 0;
    if (ParseFloatStrict(s, &f)) {
      if (!std::isfinite(f) || std::fabs(f) > 9.2e9) return bad();
      double whole = std::trunc(f);
      double frac = std::round((f - whole) * 1000) / 1000;
      return static_cast<int64_t>(whole) * 1'000'000'000 + static_cast<int64_t>(frac * 1e9);
    }
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size()) {
    if (s.size() <= 10) return SaturatingMul(n, int64_t{1'000'000'000});
    return n;
  }
  int64_t ns = 0;
  if (ParseRfc3339Nanos(s, &ns)) return ns;
  return bad();
}

Result<int64_t> ParseDurationNanos(std::string_view s) {
  double f = 0;
  if (ParseFloatStrict(s, &f)) {
    double ns = f * 1e9;
    if (!std::isfinite(ns) || std::fabs(ns) >= 9.223372036854775807e18) {
      return Status::InvalidArgument(
          fmt::format("cannot parse \"{}\" to a valid duration. It overflows int64", s));
    }
    return static_cast<int64_t>(ns);
  }
  auto d = ParseDurationMillis(s);
  if (d.ok() && std::abs(*d) <= INT64_MAX / 1'000'000) return *d * 1'000'000;
  return Status::InvalidArgument(fmt::format("cannot parse \"{}\" to a valid duration", s));
}

Result<int64_t> ParseDuration(std::string_view s) {
  ASSIGN_OR_RETURN(int64_t ns, ParseDurationNanos(s));
  return ns / 1'000'000;
}

}  // namespace strata::api
