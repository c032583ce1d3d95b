#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace strata {

// Milliseconds since the Unix epoch, the timestamp unit of metrics.
int64_t NowMillis();
// The wall clock in Unix nanoseconds.
int64_t NowNanos();

// Prometheus duration syntax: one or more <number><unit> with units ms, s, m, h, d, w, y in
// decreasing order ("1h30m", "500ms"); a bare "0" is zero. Returns milliseconds; errors in
// Prometheus's words ("unknown unit \"minutes\" in duration \"5minutes\"").
Result<int64_t> ParseDurationMillis(std::string_view s);
// The inverse, in Prometheus's canonical form ("1h30m", "90d", "0s").
std::string FormatDurationMillis(int64_t ms);
// Unix nanoseconds as RFC 3339 in UTC, to the second ("2024-01-02T15:04:05Z"), as Go's
// time.RFC3339 prints them (Loki's error messages).
std::string FormatRfc3339(int64_t unix_ns);

// A time as RFC 3339 writes it: the instant and the zone offset written with it.
struct Rfc3339Time {
  int64_t unix_s = 0;
  int32_t nanos = 0;     // digits past the ninth are dropped
  int32_t offset_s = 0;  // the written offset
  bool utc = false;      // written as Z (or +00:00)
};
// Parses RFC 3339 with an optional fraction (2015-07-01T20:10:51.781Z, ...+02:00) as Go's
// time.Parse(time.RFC3339Nano) does: days checked against their month, seconds 0-59;
// "t" and "z" are taken for "T" and "Z".
bool ParseRfc3339(std::string_view s, Rfc3339Time* t);

// Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, no exponent; "NaN",
// "+Inf", "-Inf". Prometheus prints number literals and count_values labels this way.
std::string FormatFloatF(double v);

// Go's fmt.Sprint of a float64 (strconv 'g' with the shortest digits: an exponent once the
// value reaches 1e6 with few digits, or falls below 1e-4): "1", "0.5", "1e+06". Loki prints
// LogQL number literals this way.
std::string FormatFloatG(double v);

// A byte size: a plain integer or one with a suffix KB, MB, GB (powers of 1000) or
// KiB, MiB, GiB (powers of 1024).
Result<uint64_t> ParseBytes(std::string_view s);

// Go's time.ParseDuration ("1.5s", "250ms", "1h30m"), in nanoseconds; false when `s` is not
// a duration.
bool ParseGoDuration(std::string_view s, int64_t* ns);
// Prometheus's model.ParseDuration, in nanoseconds; on failure `err` holds Prometheus's
// message.
bool ParsePromDuration(std::string_view s, int64_t* ns, std::string* err);
// Prometheus's syntax tried first, then Go's (d, w and y besides Go's units; fractions), as
// Loki parses LogQL durations and Tempo TraceQL's. Nanoseconds.
bool ParsePromOrGoDuration(std::string_view s, int64_t* ns);
// Go's time.Duration.String(): "1h0m0s", "1.5s", "500ms", "0s".
std::string FormatGoDuration(int64_t ns);
// Prometheus's model.Duration.String(): "1h30m", "0s".
std::string FormatPromDuration(int64_t ns);
// Go's strconv.ParseFloat; on failure `err` holds Go's message ("strconv.ParseFloat: parsing
// \"x\": invalid syntax").
bool ParseGoFloat(std::string_view s, double* out, std::string* err);

}  // namespace strata
