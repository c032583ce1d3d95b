#pragma once

// OTLP's common values (opentelemetry.proto.common.v1): AnyValue and KeyValue, as the
// metrics and logs translations read them.

#include <string>
#include <string_view>
#include <vector>

namespace strata::proto {

struct OtlpAttribute {
  std::string key;
  std::string value;
};

// The AnyValue's string form, as OpenTelemetry's pdata AsString: strings as they are, numbers
// and booleans printed, bytes in base64, arrays and maps as JSON. Nesting must be bounded
// (ScanOtlp checks it, at most 64 levels).
std::string AnyValueString(std::string_view any);

// Appends a KeyValue message's key and stringified value.
void DecodeAttribute(std::string_view kv, std::vector<OtlpAttribute>& out);

// Appends a KeyValue as Loki stores attributes: a map value becomes one attribute per entry,
// its keys joined to the parent's with '_' (recursively), anything else its string form.
void FlattenAttribute(std::string_view kv, std::vector<OtlpAttribute>& out);

// A Resource{Metrics,Logs,Spans} message: its Resource (field 1) and its Scope* messages
// (field 2).
void SplitResourceMessage(std::string_view msg, std::string_view* resource,
                          std::vector<std::string_view>* scopes);

}  // namespace strata::proto
