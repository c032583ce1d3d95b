#include "base/units.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <utility>

#include "base/math.h"

namespace strata {

int64_t NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};
// Ordered from largest to smallest; "ms" precedes "m" and "s" when matching.
constexpr std::array<Unit, 7> kUnits = {{{"y", 365LL * 24 * 3600 * 1000},
                                         {"w", 7LL * 24 * 3600 * 1000},
                                         {"d", 24LL * 3600 * 1000},
                                         {"h", 3600LL * 1000},
                                         {"m", 60LL * 1000},
                                         {"s", 1000},
                                         {"ms", 1}}};

}  // namespace

Result<int64_t> ParseDurationMillis(std::string_view s) {
  auto bad = [&] { return Status::InvalidArgument(fmt::format("invalid duration \"{}\"", s)); };
  if (s == "0") return int64_t{0};
  if (s.empty()) return bad();
  int64_t total = 0;
  size_t last_unit = 0;  // index into kUnits + 1 of the previous unit, to enforce order
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return bad();
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + i, n);
    if (ec != std::errc() || ptr != s.data() + i) return bad();
    size_t unit_idx = kUnits.size();
    if (s.substr(i, 2) == "ms") {
      unit_idx = 6;
    } else {
      for (size_t u = 0; u < 6; ++u) {
        if (i < s.size() && s[i] == kUnits[u].suffix[0]) unit_idx = u;
      }
    }
    if (unit_idx == kUnits.size() || unit_idx + 1 <= last_unit) return bad();
    last_unit = unit_idx + 1;
    i += kUnits[unit_idx].suffix.size();
    if (n > (INT64_MAX - total) / kUnits[unit_idx].ms) {
      return Status::InvalidArgument(fmt::format("duration \"{}\" is out of range", s));
    }
    total += n * kUnits[unit_idx].ms;
  }
  return total;
}

std::string FormatDurationMillis(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out.push_back('-');
    ms = -ms;
  }
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      out += fmt::format("{}{}", ms / u.ms, u.suffix);
      ms %= u.ms;
    }
  }
  return out;
}

Result<uint64_t> ParseBytes(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 6> kSuffixes = {{
      {"KiB", 1ULL << 10},
      {"MiB", 1ULL << 20},
      {"GiB", 1ULL << 30},
      {"KB", 1000ULL},
      {"MB", 1000ULL * 1000},
      {"GB", 1000ULL * 1000 * 1000},
  }};
  uint64_t mult = 1;
  std::string_view digits = s;
  for (const auto& [suffix, m] : kSuffixes) {
    if (s.size() > suffix.size() && s.ends_with(suffix)) {
      mult = m;
      digits = s.substr(0, s.size() - suffix.size());
      break;
    }
  }
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty()) {
    return Status::InvalidArgument(fmt::format("invalid byte size \"{}\"", s));
  }
  if (n > UINT64_MAX / mult) {
    return Status::InvalidArgument(fmt::format("byte size \"{}\" is out of range", s));
  }
  return n * mult;
}

std::string FormatFloatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::string FormatRfc3339(int64_t unix_ns) {
  int64_t seconds = FloorDiv(unix_ns, 1'000'000'000);
  std::tm tm{};
  auto t = static_cast<std::time_t>(seconds);
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_ns) + "ns";
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tm);
}

}  // namespace strata
