#include "generator/generator.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "base/json.h"
#include "base/labels.h"
#include "proto/otlp.h"
#include "proto/otlp_traces.h"

namespace strata::generator {
namespace {

// A request through a frontend and a backend: the frontend's root server span GET / (0-100 ms)
// calls the backend (client span 10-90 ms; the backend's server span 20-80 ms, in error),
// which queries the database shop (a client span 30-40 ms with db.system and db.name) and
// calls payments, which sends no spans (a client span 50-70 ms with peer.service).
constexpr std::string_view kRequest = R"({"resourceSpans":[
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"frontend"}}]},
  "scopeSpans":[{"spans":[
   {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000001","name":"GET /",
    "kind":2,"startTimeUnixNano":"1000000000000","endTimeUnixNano":"1000100000000"},
   {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000002",
    "parentSpanId":"0000000000000001","name":"GET /api","kind":3,
    "startTimeUnixNano":"1000010000000","endTimeUnixNano":"1000090000000"}]}]},
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"backend"}}]},
  "scopeSpans":[{"spans":[
   {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000003",
    "parentSpanId":"0000000000000002","name":"GET /api","kind":2,
    "startTimeUnixNano":"1000020000000","endTimeUnixNano":"1000080000000",
    "status":{"code":2}},
   {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000004",
    "parentSpanId":"0000000000000003","name":"SELECT","kind":3,
    "startTimeUnixNano":"1000030000000","endTimeUnixNano":"1000040000000",
    "attributes":[{"key":"db.system","value":{"stringValue":"postgresql"}},
                  {"key":"db.name","value":{"stringValue":"shop"}}]},
   {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000005",
    "parentSpanId":"0000000000000003","name":"charge","kind":3,
    "startTimeUnixNano":"1000050000000","endTimeUnixNano":"1000070000000",
    "attributes":[{"key":"peer.service","value":{"stringValue":"payments"}}]}]}]}]})";

// kRequest cut as the trace store keeps it: serialized ResourceSpans of one trace each.
std::vector<std::string> Fragments() {
  auto raw = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, kRequest);
  EXPECT_TRUE(raw.ok()) << raw.status().message();
  auto split = proto::SplitByTrace(*raw);
  EXPECT_TRUE(split.ok());
  std::vector<std::string> out;
  for (const auto& f : split->fragments) out.push_back(f.resource_spans);
  return out;
}

std::vector<SpanFacts> Facts() {
  std::vector<SpanFacts> out;
  for (const std::string& f : Fragments()) EXPECT_TRUE(ExtractFacts(f, out).ok());
  return out;
}

// Each series of a collection: its labels -> its samples as "ts:value ...".
std::map<std::string, std::string> Written(const proto::WriteRequest& req) {
  std::map<std::string, std::string> out;
  for (const auto& ts : req.series) {
    std::string samples;
    for (const Sample& s : ts.samples) {
      samples += (samples.empty() ? "" : " ") + std::to_string(s.t) + ":" + FormatSampleValue(s.v);
    }
    out[FormatLabels(ts.labels)] = samples;
  }
  return out;
}

// Each exemplar of a collection: its series' labels -> "label=value value@ts".
std::map<std::string, std::string> ExemplarsOf(const proto::WriteRequest& req) {
  std::map<std::string, std::string> out;
  for (const auto& ts : req.series) {
    for (const auto& e : ts.exemplars) {
      out[FormatLabels(ts.labels)] +=
          FormatLabels(e.labels) + " " + FormatSampleValue(e.value) + "@" + std::to_string(e.t);
    }
  }
  return out;
}

TEST(Generator, FactsOfSpans) {
  auto facts = Facts();
  ASSERT_EQ(facts.size(), 5u);
  EXPECT_EQ(facts[0].service, "frontend");
  EXPECT_EQ(facts[0].kind, 2);
  EXPECT_TRUE(facts[0].parent_id.empty());
  EXPECT_EQ(facts[2].status, 2);
  // The database is named by db.name (peer.service, server.address and
  // network.peer.address absent); db.name is also the first peer attribute it has.
  EXPECT_TRUE(facts[3].database);
  EXPECT_EQ(facts[3].database_server, "shop");
  EXPECT_EQ(facts[3].peer, "shop");
  EXPECT_EQ(facts[4].peer, "payments");
  EXPECT_FALSE(facts[4].database);
  EXPECT_GT(facts[4].size, 40u);  // trace ID, span IDs, name, kind, times, one attribute
}

// Worked out from kRequest with Tempo's rules: each span counted once under its service,
// name, kind and status; frontend -> backend paired (failed: the server side is in error);
// backend -> shop a database edge at once; user -> frontend (a root server span) and backend
// -> payments (a client span with peer.service) once their wait is over.
TEST(Generator, SpanMetricsAndServiceGraphsAsTempo) {
  Generator g(Options{}, nullptr);
  g.Observe("t1", Facts(), 1'000'000);
  auto first = g.Collect(1'005'000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].first, "t1");
  auto w = Written(first[0].second);
  // A new series starts at 0, a second before the minute of the collection (1,005 s).
  const std::string once = "959000:0 1005000:1";
  EXPECT_EQ(
      w[R"({__name__="traces_spanmetrics_calls_total", service="frontend", )"
        R"(span_kind="SPAN_KIND_SERVER", span_name="GET /", status_code="STATUS_CODE_UNSET"})"],
      once);
  EXPECT_EQ(
      w[R"({__name__="traces_spanmetrics_calls_total", service="backend", )"
        R"(span_kind="SPAN_KIND_SERVER", span_name="GET /api", status_code="STATUS_CODE_ERROR"})"],
      once);
  // SELECT took 10 ms: not within 8 ms, within 16 ms.
  const std::string select = R"(service="backend", span_kind="SPAN_KIND_CLIENT", )"
                             R"(span_name="SELECT", status_code="STATUS_CODE_UNSET")";
  EXPECT_EQ(w[R"({__name__="traces_spanmetrics_latency_bucket", le="0.008", )" + select + "}"],
            "959000:0 1005000:0");
  EXPECT_EQ(w[R"({__name__="traces_spanmetrics_latency_bucket", le="0.016", )" + select + "}"],
            once);
  EXPECT_EQ(w[R"({__name__="traces_spanmetrics_latency_bucket", le="+Inf", )" + select + "}"],
            once);
  EXPECT_EQ(w[R"({__name__="traces_spanmetrics_latency_count", )" + select + "}"], once);
  // _sum gets no first 0, as in Tempo.
  EXPECT_EQ(w[R"({__name__="traces_spanmetrics_latency_sum", )" + select + "}"], "1005000:0.01");
  EXPECT_EQ(w.count(R"({__name__="traces_spanmetrics_size_total", )" + select + "}"), 1u);

  const std::string fe_be = R"(client="frontend", server="backend")";
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_total", )" + fe_be + "}"], once);
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_failed_total", )" + fe_be + "}"], once);
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_server_seconds_sum", )" + fe_be + "}"],
            "1005000:0.06");
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_client_seconds_sum", )" + fe_be + "}"],
            "1005000:0.08");
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_server_seconds_bucket", )"
              R"(client="frontend", le="0.1", server="backend"})"],
            once);
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_total", client="backend", )"
              R"(connection_type="database", server="shop"})"],
            once);
  EXPECT_EQ(w.count(R"({__name__="traces_service_graph_request_total", client="user", )"
                    R"(connection_type="virtual_node", server="frontend"})"),
            0u);

  // After the wait: the virtual nodes; written series carry on without a new 0.
  auto second = g.Collect(1'011'000);
  ASSERT_EQ(second.size(), 1u);
  w = Written(second[0].second);
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_total", client="user", )"
              R"(connection_type="virtual_node", server="frontend"})"],
            "959000:0 1011000:1");
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_total", client="backend", )"
              R"(connection_type="virtual_node", server="payments"})"],
            "959000:0 1011000:1");
  EXPECT_EQ(w[R"({__name__="traces_service_graph_request_total", )" + fe_be + "}"], "1011000:1");

  // 15 minutes without an update: the series go (the virtual edges' last update was later).
  auto third = g.Collect(1'000'000 + 15 * 60'000 + 1);
  ASSERT_EQ(third.size(), 1u);
  w = Written(third[0].second);
  EXPECT_EQ(w.count(R"({__name__="traces_service_graph_request_total", )" + fe_be + "}"), 0u);
  EXPECT_EQ(w.count(R"({__name__="traces_service_graph_request_total", client="user", )"
                    R"(connection_type="virtual_node", server="frontend"})"),
            1u);
}

TEST(Generator, BoundedPerTenant) {
  Options o;
  o.max_active_series = 3;
  o.max_edges = 1;
  prometheus::Registry registry;
  Generator g(o, &registry);
  g.Observe("t1", Facts(), 1'000'000);
  auto discarded = [&](const std::string& reason) {
    for (const auto& family : registry.Collect()) {
      if (family.name != "strata_generator_discarded_total") continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) {
          if (l.name == "reason" && l.value == reason) return m.counter.value;
        }
      }
    }
    return -1.0;
  };
  EXPECT_GT(discarded("series_overflow"), 0);
  EXPECT_GT(discarded("edges_full"), 0);
  EXPECT_EQ(discarded("outside_slack"), 0);
  auto out = g.Collect(1'005'000);
  ASSERT_EQ(out.size(), 1u);
  std::set<std::string> families;
  for (const auto& ts : out[0].second.series) {
    Labels ls;
    for (const Label& l : ts.labels) {
      if (l.name != "le") ls.push_back(l);
    }
    families.insert(FormatLabels(ls));
  }
  // calls, latency (bucket, count, sum) and size of at most 3 label sets, and of the overflow.
  EXPECT_LE(families.size(), 4u * 5);
  EXPECT_TRUE(
      families.contains(R"({__name__="traces_spanmetrics_calls_total", metric_overflow="true"})"));
  // Another tenant has its own room.
  g.Observe("t2", Facts(), 1'000'000);
  EXPECT_EQ(g.Collect(1'006'000).size(), 2u);
}

// Spans that ended more than 30 s from the time they are stored make no metrics (Tempo's
// ingestion slack): a replay of old spans is not counted as now.
TEST(Generator, OnlySpansOfNow) {
  Generator g(Options{}, nullptr);
  g.Observe("t1", Facts(), 1'000'000 + 31'000);
  EXPECT_TRUE(g.Collect(1'040'000).empty());
  g.Observe("t1", Facts(), 1'000'000 - 29'000);
  EXPECT_EQ(g.Collect(1'040'000).size(), 1u);
}

// The server's path: queued from the WAL's callbacks, observed when drained.
TEST(Generator, QueuedUntilDrained) {
  Generator g(Options{}, nullptr);
  g.Enqueue("t1", Fragments(), 5, 1'000'000);
  EXPECT_TRUE(g.Collect(1'005'000).empty());
  g.Drain();
  EXPECT_EQ(g.Collect(1'006'000).size(), 1u);
}

// A label value is cut at 2,048 bytes, at a character's start: 700 euro signs (2,100 bytes)
// leave 682 (2,046 bytes), and the span is counted.
TEST(Generator, LongValuesStayUtf8) {
  std::vector<SpanFacts> facts = Facts();
  facts.resize(1);
  facts[0].name.clear();
  for (int i = 0; i < 700; ++i) facts[0].name += "\u20ac";
  Generator g(Options{}, nullptr);
  g.Observe("t1", facts, 1'000'000);
  auto out = g.Collect(1'005'000);
  ASSERT_EQ(out.size(), 1u);
  bool found = false;
  for (const auto& ts : out[0].second.series) {
    for (const Label& l : ts.labels) {
      if (l.name != "span_name") continue;
      EXPECT_EQ(l.value.size(), 682u * 3);
      EXPECT_TRUE(IsValidUtf8(l.value));
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

// As Tempo's registry: the bucket an observation falls in (the first bound at or above it)
// keeps the span's trace as its exemplar, labelled traceID (hex, leading zeros left out),
// written with the bucket's next sample and then let go.
TEST(Generator, HistogramBucketsCarryTheTrace) {
  Generator g(Options{}, nullptr);
  g.Observe("t1", Facts(), 1'000'000);
  auto first = g.Collect(1'005'000);
  ASSERT_EQ(first.size(), 1u);
  const auto ex = ExemplarsOf(first[0].second);
  const std::string trace = R"({traceID="af7651916cd43dd8448eb211c80319c"})";
  const std::string select = R"(service="backend", span_kind="SPAN_KIND_CLIENT", )"
                             R"(span_name="SELECT", status_code="STATUS_CODE_UNSET")";
  EXPECT_EQ(ex.at(R"({__name__="traces_spanmetrics_latency_bucket", le="0.016", )" + select + "}"),
            trace + " 0.01@1005000");
  EXPECT_EQ(
      ex.count(R"({__name__="traces_spanmetrics_latency_bucket", le="+Inf", )" + select + "}"), 0u);
  EXPECT_EQ(ex.at(R"({__name__="traces_service_graph_request_server_seconds_bucket", )"
                  R"(client="frontend", le="0.1", server="backend"})"),
            trace + " 0.06@1005000");
  EXPECT_EQ(ex.at(R"({__name__="traces_service_graph_request_client_seconds_bucket", )"
                  R"(client="frontend", le="0.1", server="backend"})"),
            trace + " 0.08@1005000");
  // Five spans' latencies and two service-graph edges' two latencies, nothing else.
  EXPECT_EQ(ex.size(), 5u + 4u);
  // The next collection writes only the exemplars observed since: those of the two edges to
  // virtual nodes that settle then.
  const auto next = ExemplarsOf(g.Collect(1'011'000)[0].second);
  EXPECT_EQ(next.size(), 4u);
  for (const auto& [series, e] : next) {
    EXPECT_NE(series.find(R"(connection_type="virtual_node")"), std::string::npos) << series;
  }
}

}  // namespace
}  // namespace strata::generator
