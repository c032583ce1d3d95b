#include "base/units.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <string>
#include <utility>

#include "base/labels.h"
#include "base/math.h"

namespace strata {

int64_t NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t NowNanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
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

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

struct GoUnit {
  std::string_view name;
  int64_t ns;
};
constexpr std::array<GoUnit, 8> kGoUnits = {{{"ns", 1},
                                             {"us", 1'000},
                                             {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
                                             {"\xCE\xBCs", 1'000},  // U+03BC Greek mu
                                             {"ms", 1'000'000},
                                             {"s", 1'000'000'000},
                                             {"m", 60'000'000'000},
                                             {"h", 3'600'000'000'000}}};

}  // namespace

Result<int64_t> ParseDurationMillis(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format("not a valid duration string: \"{}\"", s));
  };
  if (s == "0") return int64_t{0};
  if (s.empty()) return Status::InvalidArgument("empty duration string");
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
    size_t unit_end = i;
    while (unit_end < s.size() && (s[unit_end] < '0' || s[unit_end] > '9')) ++unit_end;
    std::string_view unit = s.substr(i, unit_end - i);
    if (unit.empty()) return bad();
    size_t unit_idx = kUnits.size();
    for (size_t u = 0; u < kUnits.size(); ++u) {
      if (kUnits[u].suffix == unit) unit_idx = u;
    }
    if (unit_idx == kUnits.size()) {
      return Status::InvalidArgument(
          fmt::format("unknown unit \"{}\" in duration \"{}\"", unit, s));
    }
    if (unit_idx + 1 <= last_unit) return bad();
    last_unit = unit_idx + 1;
    i = unit_end;
    if (n > (INT64_MAX - total) / kUnits[unit_idx].ms) {
      return Status::InvalidArgument("duration out of range");
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
    // As Prometheus: years and weeks only when they divide the rest ("90d", not "12w6d").
    bool exact_only = u.suffix == "y" || u.suffix == "w";
    if (ms >= u.ms && (!exact_only || ms % u.ms == 0)) {
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

std::string FormatFloatG(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // The shortest round-trip digits and decimal exponent, from the scientific form.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  bool neg = sci.front() == '-';
  if (neg) sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  int nd = static_cast<int>(digits.size());
  int dp = exp + 1;  // digits before the decimal point
  // strconv's %g with the shortest precision: the exponent form when exp < -4 or exp >= eprec.
  int eprec = 6;
  if (eprec > nd && nd >= dp) eprec = nd;
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= eprec) {
    out += digits[0];
    if (nd > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
    return out;
  }
  if (dp <= 0) return out + "0." + std::string(static_cast<size_t>(-dp), '0') + digits;
  if (dp >= nd) return out + digits + std::string(static_cast<size_t>(dp - nd), '0');
  return out + digits.substr(0, static_cast<size_t>(dp)) + "." +
         digits.substr(static_cast<size_t>(dp));
}

namespace {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool ParseRfc3339(std::string_view s, Rfc3339Time* t) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return false;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t digits = 0;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits) {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
    }
    if (digits == 0) return false;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int offset = 0;
  bool utc = false;
  if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    utc = true;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh, om;
    if (!Digits(s, pos + 1, 2, oh) || !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return false;
    }
    offset = (oh * 60 + om) * 60 * (s[pos] == '-' ? -1 : 1);
    utc = offset == 0;
  } else {
    return false;
  }
  t->unix_s = DaysFromCivil(year, month, day) * 86400 + int64_t{hour} * 3600 +
              int64_t{minute} * 60 + second - offset;
  t->nanos = static_cast<int32_t>(nanos);
  t->offset_s = offset;
  t->utc = utc;
  return true;
}

std::string FormatRfc3339(int64_t unix_ns) {
  int64_t seconds = FloorDiv(unix_ns, 1'000'000'000);
  std::tm tm{};
  auto t = static_cast<std::time_t>(seconds);
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_ns) + "ns";
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tm);
}

bool ParsePromDuration(std::string_view s, int64_t* ns, std::string* err) {
  auto ms = ParseDurationMillis(s);
  if (!ms.ok()) {
    *err = std::string(ms.status().message());
    return false;
  }
  // Prometheus bounds durations by time.Duration: int64 nanoseconds.
  if (*ms > INT64_MAX / 1'000'000) {
    *err = "duration out of range";
    return false;
  }
  *ns = *ms * 1'000'000;
  return true;
}

bool ParsePromOrGoDuration(std::string_view s, int64_t* ns) {
  std::string err;
  return ParsePromDuration(s, ns, &err) || ParseGoDuration(s, ns);
}

bool ParseGoDuration(std::string_view s, int64_t* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *out = 0;
    return true;
  }
  if (s.empty()) return false;
  uint64_t total = 0;
  while (!s.empty()) {
    if (!IsAsciiDigit(s[0]) && s[0] != '.') return false;
    uint64_t whole = 0;
    size_t i = 0;
    bool any = false;
    for (; i < s.size() && IsAsciiDigit(s[i]); ++i) {
      if (whole > (uint64_t{1} << 63) / 10) return false;
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      any = true;
    }
    uint64_t frac = 0;
    double scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      for (; i < s.size() && IsAsciiDigit(s[i]); ++i) {
        any = true;
        if (frac > (uint64_t{1} << 62) / 10) continue;  // Go drops digits beyond precision
        frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
        scale *= 10;
      }
    }
    if (!any) return false;
    size_t u = i;
    while (u < s.size() && !IsAsciiDigit(s[u]) && s[u] != '.') ++u;
    std::string_view unit = s.substr(i, u - i);
    if (unit.empty()) return false;
    int64_t mult = 0;
    for (const auto& gu : kGoUnits) {
      if (gu.name == unit) mult = gu.ns;
    }
    if (mult == 0) return false;
    auto m = static_cast<uint64_t>(mult);
    if (whole > (uint64_t{1} << 63) / m) return false;
    uint64_t v = whole * m;
    if (frac > 0)
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(m) / scale));
    total += v;
    if (total > (uint64_t{1} << 63)) return false;
    s.remove_prefix(u);
  }
  if (total > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    if (!neg || total != (uint64_t{1} << 63)) return false;
    *out = std::numeric_limits<int64_t>::min();
    return true;
  }
  *out = neg ? -static_cast<int64_t>(total) : static_cast<int64_t>(total);
  return true;
}

bool ParseGoFloat(std::string_view s, double* out, std::string* err) {
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  bool hex = body.size() > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X');
  // Go accepts '_' only between digits of a prefixed literal, and hex only with a p exponent.
  bool ok = body.find('_') == std::string_view::npos &&
            (!hex || body.find_first_of("pP") != std::string_view::npos);
  std::string text(s);
  if (ok) {
    if (hex) {
      char* end = nullptr;
      *out = std::strtod(text.c_str(), &end);
      ok = end == text.c_str() + text.size();
    } else {
      std::string_view t = text;
      if (!t.empty() && t[0] == '+') t.remove_prefix(1);
      auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
      ok =
          ptr == t.data() + t.size() && (ec == std::errc() || ec == std::errc::result_out_of_range);
      if (ok && ec == std::errc::result_out_of_range) {
        *err = fmt::format("strconv.ParseFloat: parsing {}: value out of range", GoQuote(s));
        return false;
      }
    }
  }
  if (!ok) {
    *err = fmt::format("strconv.ParseFloat: parsing {}: invalid syntax", GoQuote(s));
    return false;
  }
  return true;
}

std::string FormatGoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  bool neg = ns < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  // The fraction of v / 10^prec without trailing zeros (and no point when it is zero).
  auto frac = [](uint64_t v, int prec, std::string* out) {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      auto d = static_cast<char>('0' + v % 10);
      print = print || d != '0';
      if (print) digits.insert(digits.begin(), d);
      v /= 10;
    }
    if (print) *out = "." + digits;
    return v;
  };
  std::string out;
  std::string fraction;
  if (u < 1'000'000'000) {
    std::string unit;
    int prec = 0;
    if (u < 1'000) {
      unit = "ns";
    } else if (u < 1'000'000) {
      unit = "\xC2\xB5s";
      prec = 3;
    } else {
      unit = "ms";
      prec = 6;
    }
    uint64_t whole = frac(u, prec, &fraction);
    out = std::to_string(whole) + fraction + unit;
  } else {
    uint64_t secs = frac(u, 9, &fraction);
    out = std::to_string(secs % 60) + fraction + "s";
    uint64_t mins = secs / 60;
    if (mins > 0) {
      out = std::to_string(mins % 60) + "m" + out;
      uint64_t hours = mins / 60;
      if (hours > 0) out = std::to_string(hours) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

std::string FormatPromDuration(int64_t ns) { return FormatDurationMillis(ns / 1'000'000); }

}  // namespace strata
