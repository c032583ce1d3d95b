#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// JsonWriter builds a JSON document into a string, encoding as Go's encoding/json does (so
// responses match Prometheus byte for byte): <, > and & escaped, invalid UTF-8 replaced.
// Not thread-safe.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view s);
  JsonWriter& Bool(bool b);
  JsonWriter& Int(int64_t v);
  // A finite double as a JSON number, as Go's encoding/json writes float64 (timings).
  JsonWriter& Number(double v);
  JsonWriter& Null();
  // A sample value as Prometheus writes it: a string, "NaN", "+Inf", shortest digits.
  JsonWriter& SampleValue(double v);
  // Milliseconds as seconds with up to three decimals (1435781451.781).
  JsonWriter& Timestamp(int64_t ms);

  std::string& str() { return out_; }

 private:
  void Separate();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// Appends s as a JSON string, as Go's encoding/json writes it: invalid UTF-8 as \ufffd and,
// when `html_safe`, <, >, &, U+2028 and U+2029 escaped too (without: only what JSON requires,
// as go-logfmt quotes a value).
void AppendJsonString(std::string& out, std::string_view s, bool html_safe = true);

// Go's strconv.FormatFloat as Prometheus formats sample values.
std::string FormatSampleValue(double v);

}  // namespace strata
