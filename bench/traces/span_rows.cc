// The spans span_push sends (the same --traces, --seed, --start-ns and --window), as rows of
// Jaeger's ClickHouse `spans` table (jaeger internal/storage/v2/clickhouse/sql, the native
// backend's initial schema) in ClickHouse's JSONEachRow, on stdout. Adapted to Debian's
// ClickHouse 18.16 as bench/traces/run.py's DDL says: times are Int64 nanoseconds, booleans
// UInt8, and the attributes of events and links are arrays of arrays in the event and link
// Nested columns. IDs are lowercase hex; kinds and status codes are OpenTelemetry's names
// (pdata's String()).
//
// Usage: span_rows --start-ns NS [--traces 100000] [--window 60] [--seed 1]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "base/json.h"
#include "bench/tool_main.h"
#include "testing/synthetic_traces.h"
#include "traceql/trace.h"

namespace strata {
namespace {

using traceql::Attrs;
using traceql::StaticType;

// The five typed key/value column pairs Jaeger keeps attributes in, by value type.
constexpr std::string_view kTypes[] = {"bool", "double", "int", "str", "complex"};

size_t TypeOf(const traceql::Static& v) {
  switch (v.type) {
    case StaticType::kBoolean:
      return 0;
    case StaticType::kFloat:
      return 1;
    case StaticType::kInt:
      return 2;
    default:
      return 3;  // arrays, maps and bytes come as their OTLP string form
  }
}

void Value(JsonWriter& w, const traceql::Static& v) {
  switch (TypeOf(v)) {
    case 0:
    case 2:
      w.Int(v.i);
      break;
    case 1:
      w.Number(v.f);
      break;
    default:
      w.String(v.s);
  }
}

// "<prefix><type>_attributes.key" and ".value" for one attribute list.
void FlatAttrs(JsonWriter& w, std::string_view prefix, const Attrs& attrs) {
  for (size_t t = 0; t < std::size(kTypes); ++t) {
    w.Key(fmt::format("{}{}_attributes.key", prefix, kTypes[t])).BeginArray();
    for (const auto& [k, v] : attrs) {
      if (TypeOf(v) == t) w.String(k);
    }
    w.EndArray();
    w.Key(fmt::format("{}{}_attributes.value", prefix, kTypes[t])).BeginArray();
    for (const auto& [k, v] : attrs) {
      if (TypeOf(v) == t) Value(w, v);
    }
    w.EndArray();
  }
}

// "<nested>.<type>_attributes_key" and "_value": one array per event or link.
template <typename Items>
void NestedAttrs(JsonWriter& w, std::string_view nested, const Items& items) {
  for (size_t t = 0; t < std::size(kTypes); ++t) {
    for (bool keys : {true, false}) {
      w.Key(fmt::format("{}.{}_attributes_{}", nested, kTypes[t], keys ? "key" : "value"))
          .BeginArray();
      for (const auto& item : items) {
        w.BeginArray();
        for (const auto& [k, v] : item.attrs) {
          if (TypeOf(v) != t) continue;
          if (keys) {
            w.String(k);
          } else {
            Value(w, v);
          }
        }
        w.EndArray();
      }
      w.EndArray();
    }
  }
}

std::string_view KindName(traceql::SpanKind k) {
  static constexpr std::string_view kNames[] = {"Unspecified", "Internal", "Client",
                                                "Server",      "Producer", "Consumer"};
  return kNames[static_cast<size_t>(k)];
}

std::string_view StatusName(traceql::SpanStatus s) {
  static constexpr std::string_view kNames[] = {"Error", "Ok", "Unset"};
  return kNames[static_cast<size_t>(s)];
}

void WriteRows(const traceql::Trace& t, std::FILE* out) {
  for (const traceql::Span& s : t.spans) {
    JsonWriter w;
    w.BeginObject();
    w.Key("id").String(HexEncode(s.span_id));
    w.Key("trace_id").String(HexEncode(t.id));
    w.Key("trace_state").String("");
    w.Key("parent_span_id").String(HexEncode(s.parent_id));
    w.Key("name").String(s.name);
    w.Key("kind").String(KindName(s.kind));
    w.Key("start_time").Int(s.start_ns);
    w.Key("status_code").String(StatusName(s.status));
    w.Key("status_message").String(s.status_message);
    w.Key("duration").Int(s.end_ns - s.start_ns);
    FlatAttrs(w, "", s.attrs);
    w.Key("events.name").BeginArray();
    for (const auto& e : s.events) w.String(e.name);
    w.EndArray();
    w.Key("events.timestamp").BeginArray();
    for (const auto& e : s.events) w.Int(e.time_ns);
    w.EndArray();
    NestedAttrs(w, "events", s.events);
    w.Key("links.trace_id").BeginArray();
    for (const auto& l : s.links) w.String(HexEncode(l.trace_id));
    w.EndArray();
    w.Key("links.span_id").BeginArray();
    for (const auto& l : s.links) w.String(HexEncode(l.span_id));
    w.EndArray();
    w.Key("links.trace_state").BeginArray();
    for (size_t i = 0; i < s.links.size(); ++i) w.String("");
    w.EndArray();
    NestedAttrs(w, "links", s.links);
    const Attrs& resource = t.resources[s.resource];
    std::string service;
    for (const auto& [k, v] : resource) {
      if (k == "service.name") service = v.s;
    }
    w.Key("service_name").String(service);
    FlatAttrs(w, "resource_", resource);
    const traceql::InstrumentationScope& scope = t.scopes[s.scope];
    w.Key("scope_name").String(scope.name);
    w.Key("scope_version").String(scope.version);
    FlatAttrs(w, "scope_", scope.attrs);
    w.EndObject();
    w.str().push_back('\n');
    std::fwrite(w.str().data(), 1, w.str().size(), out);
  }
}

int Run(int argc, char** argv) {
  CLI::App app{"Synthetic demo spans as rows of Jaeger's ClickHouse spans table"};
  uint64_t traces = 100'000, seed = 1;
  int64_t start_ns = 0;
  double window_s = 60;
  app.add_option("--start-ns", start_ns, "the first trace's start, Unix ns")->required();
  app.add_option("--traces", traces, "traces");
  app.add_option("--window", window_s, "the traces start over this many seconds");
  app.add_option("--seed", seed, "generator seed");
  CLI11_PARSE(app, argc, argv);
  testing::SyntheticTraces gen(seed);
  for (uint64_t i = 0; i < traces; ++i) {
    const testing::SyntheticTrace st =
        gen.Next(testing::SyntheticStart(start_ns, window_s, i, traces));
    auto t = traceql::DecodeTrace(st.traces_data);
    if (!t.ok()) throw std::runtime_error(t.status().ToString());
    WriteRows(*t, stdout);
  }
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("span_rows", strata::Run, argc, argv);
}
