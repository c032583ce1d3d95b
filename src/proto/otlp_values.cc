#include "proto/otlp_values.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "base/json.h"
#include "base/units.h"
#include "proto/wire.h"

namespace strata::proto {

namespace {

void AnyValueToJson(std::string_view any, JsonWriter& w);

// A double as ECMAScript prints numbers (how OTLP attribute values become strings).
std::string FormatAttributeDouble(double v) {
  if (std::isnan(v) || std::isinf(v)) return FormatFloatF(v);
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    std::string out(buf, p);
    // ECMAScript's exponent has no leading zeros: 1e-7, 1.5e+21.
    size_t e = out.find('e');
    size_t digits = e + 2;
    while (digits + 1 < out.size() && out[digits] == '0') out.erase(digits, 1);
    return out;
  }
  return FormatFloatF(v);
}

// A map as Go's json.Marshal writes one: keys sorted, a repeated key's last value.
void KeyValuesToJson(std::string_view list, JsonWriter& w) {
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  WireReader r(list);
  std::string_view kv;
  while (r.NextField()) {
    if (r.field() != 1 || !r.ReadBytes(&kv)) {
      r.Skip();
      continue;
    }
    WireReader kr(kv);
    std::string_view key, value;
    while (kr.NextField()) {
      if (kr.field() == 1) {
        kr.ReadBytes(&key);
      } else if (kr.field() == 2) {
        kr.ReadBytes(&value);
      } else {
        kr.Skip();
      }
    }
    entries.emplace_back(key, value);
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  w.BeginObject();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) continue;
    w.Key(entries[i].first);
    AnyValueToJson(entries[i].second, w);
  }
  w.EndObject();
}

void AnyValueToJson(std::string_view any, JsonWriter& w) {
  WireReader r(any);
  bool wrote = false;
  while (r.NextField()) {
    uint64_t u;
    std::string_view b;
    double d;
    switch (r.field()) {
      case 1:
        if (r.ReadBytes(&b)) w.String(b), wrote = true;
        break;
      case 2:
        if (r.ReadVarint(&u)) w.Bool(u != 0), wrote = true;
        break;
      case 3:
        if (r.ReadVarint(&u)) w.Int(static_cast<int64_t>(u)), wrote = true;
        break;
      case 4:
        if (r.ReadDouble(&d)) {
          std::isfinite(d) ? w.Number(d) : w.String(FormatFloatF(d));
          wrote = true;
        }
        break;
      case 5:
        if (r.ReadBytes(&b)) {
          w.BeginArray();
          WireReader ar(b);
          std::string_view elem;
          while (ar.NextField()) {
            if (ar.field() == 1 && ar.ReadBytes(&elem)) {
              AnyValueToJson(elem, w);
            } else {
              ar.Skip();
            }
          }
          w.EndArray();
          wrote = true;
        }
        break;
      case 6:
        if (r.ReadBytes(&b)) KeyValuesToJson(b, w), wrote = true;
        break;
      case 7:
        if (r.ReadBytes(&b)) w.String(Base64Encode(b)), wrote = true;
        break;
      default:
        r.Skip();
    }
  }
  if (!wrote) w.Null();
}

}  // namespace

std::string AnyValueString(std::string_view any) {
  WireReader r(any);
  std::string out;
  while (r.NextField()) {
    uint64_t u;
    std::string_view b;
    double d;
    switch (r.field()) {
      case 1:
        if (r.ReadBytes(&b)) out = std::string(b);
        break;
      case 2:
        if (r.ReadVarint(&u)) out = u ? "true" : "false";
        break;
      case 3:
        if (r.ReadVarint(&u)) out = std::to_string(static_cast<int64_t>(u));
        break;
      case 4:
        if (r.ReadDouble(&d)) out = FormatAttributeDouble(d);
        break;
      case 5:
      case 6: {
        JsonWriter w;
        AnyValueToJson(any, w);
        return std::move(w.str());
      }
      case 7:
        if (r.ReadBytes(&b)) out = Base64Encode(b);
        break;
      default:
        r.Skip();
    }
  }
  return out;
}

void DecodeAttribute(std::string_view kv, std::vector<OtlpAttribute>& out) {
  WireReader r(kv);
  OtlpAttribute a;
  while (r.NextField()) {
    std::string_view b;
    if (r.field() == 1 && r.ReadBytes(&b)) {
      a.key = std::string(b);
    } else if (r.field() == 2 && r.ReadBytes(&b)) {
      a.value = AnyValueString(b);
    } else {
      r.Skip();
    }
  }
  out.push_back(std::move(a));
}

namespace {

void Flatten(std::string_view prefix, std::string_view kv, std::vector<OtlpAttribute>& out,
             int depth) {
  WireReader r(kv);
  std::string_view key, value;
  while (r.NextField()) {
    if (r.field() == 1) {
      r.ReadBytes(&key);
    } else if (r.field() == 2) {
      r.ReadBytes(&value);
    } else {
      r.Skip();
    }
  }
  std::string name =
      prefix.empty() ? std::string(key) : std::string(prefix) + "_" + std::string(key);
  // A kvlist (AnyValue field 6) nests; its KeyValueList holds `values` (field 1).
  WireReader v(value);
  std::string_view list;
  bool is_map = false;
  while (v.NextField()) {
    if (v.field() == 6 && v.ReadBytes(&list)) {
      is_map = true;
    } else {
      v.Skip();
    }
  }
  if (!is_map || depth > 64) {
    out.push_back({std::move(name), AnyValueString(value)});
    return;
  }
  WireReader l(list);
  std::string_view inner;
  while (l.NextField()) {
    if (l.field() == 1 && l.ReadBytes(&inner)) {
      Flatten(name, inner, out, depth + 1);
    } else {
      l.Skip();
    }
  }
}

}  // namespace

void SplitResourceMessage(std::string_view msg, std::string_view* resource,
                          std::vector<std::string_view>* scopes) {
  WireReader r(msg);
  while (r.NextField()) {
    std::string_view b;
    if (r.field() == 1 && r.ReadBytes(&b)) {
      *resource = b;
    } else if (r.field() == 2 && r.ReadBytes(&b)) {
      scopes->push_back(b);
    } else {
      r.Skip();
    }
  }
}

void FlattenAttribute(std::string_view kv, std::vector<OtlpAttribute>& out) {
  Flatten("", kv, out, 0);
}

}  // namespace strata::proto
