#include "proto/otlp.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "base/labels.h"
#include "base/sample.h"
#include "base/units.h"
#include "proto/otlp_metrics.h"
#include "proto/wire.h"

namespace strata::proto {
namespace {

// A request as an OTel SDK sends it: a resource with service attributes, one scope, and one
// metric of every kind.
constexpr std::string_view kMetricsJson = R"({
  "resourceMetrics": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "checkout"}},
      {"key": "service.namespace", "value": {"stringValue": "shop"}},
      {"key": "service.instance.id", "value": {"stringValue": "pod-1"}},
      {"key": "host.cpus", "value": {"intValue": "8"}},
      {"key": "cloud.region", "value": {"stringValue": "eu-west-1"}}
    ]},
    "scopeMetrics": [{
      "scope": {"name": "io.example", "version": "1.0"},
      "metrics": [
        {"name": "http.server.requests", "unit": "{request}", "description": "Requests served",
         "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
           {"timeUnixNano": "1700000000000000000", "asInt": "42",
            "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}},
                           {"key": "http-method", "value": {"stringValue": "get"}}]}]}},
        {"name": "system.cpu.utilization", "unit": "1",
         "gauge": {"dataPoints": [{"timeUnixNano": "1700000000000000000", "asDouble": 0.25},
                                  {"timeUnixNano": "1700000001000000000", "flags": 1}]}},
        {"name": "http.server.request.duration", "unit": "s",
         "histogram": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
           "dataPoints": [{"timeUnixNano": 1700000000000000000, "count": "6", "sum": 1.5,
                           "bucketCounts": ["1", "2", "3"], "explicitBounds": [0.005, 1]}]}},
        {"name": "rpc.latency", "unit": "ms",
         "summary": {"dataPoints": [{"timeUnixNano": "1700000000000000000", "count": "10",
           "sum": 20, "quantileValues": [{"quantile": 0.5, "value": 2},
                                          {"quantile": 0.99, "value": 9}]}]}},
        {"name": "queue.delta", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
         "dataPoints": [{"timeUnixNano": "1700000000000000000", "asInt": "1"}]}},
        {"name": "latency.exp", "exponentialHistogram": {"aggregationTemporality": 2,
         "dataPoints": [{"timeUnixNano": "1700000000000000000", "count": "1", "scale": 3,
                         "positive": {"offset": -2, "bucketCounts": ["1"]}}]}}
      ]
    }]
  }]
})";

std::map<std::string, std::vector<std::pair<std::map<std::string, std::string>, Sample>>>
BySeriesName(const WriteRequest& req) {
  std::map<std::string, std::vector<std::pair<std::map<std::string, std::string>, Sample>>> out;
  for (const auto& ts : req.series) {
    std::map<std::string, std::string> labels;
    std::string name;
    for (size_t i = 0; i < ts.labels.size(); ++i) {
      if (i > 0) {
        EXPECT_LT(ts.labels[i - 1].name, ts.labels[i].name) << "labels not sorted";
      }
      if (ts.labels[i].name == "__name__") {
        name = ts.labels[i].value;
      } else {
        labels[ts.labels[i].name] = ts.labels[i].value;
      }
    }
    if (!ts.histograms.empty()) continue;  // native histograms: checked on their own
    EXPECT_EQ(ts.samples.size(), 1u);
    out[name].emplace_back(labels, ts.samples[0]);
  }
  return out;
}

TEST(Otlp, JsonTranscodesToProtobufThatScans) {
  auto pb = OtlpJsonToProtobuf(OtlpSignal::kMetrics, kMetricsJson);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto counts = ScanOtlp(OtlpSignal::kMetrics, *pb);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->items, 7u);  // data points of every kind
}

TEST(Otlp, TranslatesMetricsByThePrometheusConventions) {
  auto pb = OtlpJsonToProtobuf(OtlpSignal::kMetrics, kMetricsJson);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto tr = TranslateOtlpMetrics(*pb);
  ASSERT_TRUE(tr.ok()) << tr.status().ToString();
  EXPECT_EQ(tr->points, 7u);
  EXPECT_EQ(tr->dropped, 1u);  // the delta sum
  ASSERT_EQ(tr->drop_reasons.size(), 1u);
  EXPECT_NE(tr->drop_reasons[0].find("queue.delta"), std::string::npos);
  // The exponential histogram: OTel bucket -2 of scale 3 is Prometheus's index -1 of schema 3.
  const TimeSeries* exp = nullptr;
  for (const auto& ts : tr->request.series) {
    if (!ts.histograms.empty()) exp = &ts;
  }
  ASSERT_NE(exp, nullptr);
  EXPECT_EQ(FormatLabels(exp->labels),
            R"({__name__="latency_exp", instance="pod-1", job="shop/checkout"})");
  ASSERT_EQ(exp->histograms.size(), 1u);
  const histogram::FloatHistogram& h = *exp->histograms[0].h;
  EXPECT_EQ(exp->histograms[0].t, 1'700'000'000'000);
  EXPECT_EQ(h.schema, 3);
  EXPECT_EQ(h.zero_threshold, 1e-128);
  EXPECT_EQ(h.count, 1);
  EXPECT_EQ(h.positive_spans, (std::vector<histogram::Span>{{-1, 1}}));
  EXPECT_EQ(h.positive_buckets, (std::vector<double>{1}));

  auto series = BySeriesName(tr->request);
  const std::map<std::string, std::string> base = {{"job", "shop/checkout"}, {"instance", "pod-1"}};
  // Counter: unit annotation dropped, _total added; colliding attribute names joined in the
  // order of the original keys ("http-method" < "http.method").
  ASSERT_EQ(series["http_server_requests_total"].size(), 1u);
  auto [counter_labels, counter] = series["http_server_requests_total"][0];
  auto want = base;
  want["http_method"] = "get;GET";
  EXPECT_EQ(counter_labels, want);
  EXPECT_EQ(counter.t, 1700000000000);
  EXPECT_EQ(counter.v, 42);
  // Gauge with unit 1 -> _ratio; NoRecordedValue -> staleness marker.
  ASSERT_EQ(series["system_cpu_utilization_ratio"].size(), 2u);
  EXPECT_EQ(series["system_cpu_utilization_ratio"][0].second.v, 0.25);
  EXPECT_TRUE(IsStaleNaN(series["system_cpu_utilization_ratio"][1].second.v));
  // Histogram: cumulative buckets, +Inf = count.
  auto& buckets = series["http_server_request_duration_seconds_bucket"];
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0].first.at("le"), "0.005");
  EXPECT_EQ(buckets[0].second.v, 1);
  EXPECT_EQ(buckets[1].first.at("le"), "1");
  EXPECT_EQ(buckets[1].second.v, 3);
  EXPECT_EQ(buckets[2].first.at("le"), "+Inf");
  EXPECT_EQ(buckets[2].second.v, 6);
  EXPECT_EQ(series["http_server_request_duration_seconds_sum"][0].second.v, 1.5);
  EXPECT_EQ(series["http_server_request_duration_seconds_count"][0].second.v, 6);
  // Summary.
  ASSERT_EQ(series["rpc_latency_milliseconds"].size(), 2u);
  EXPECT_EQ(series["rpc_latency_milliseconds"][1].first.at("quantile"), "0.99");
  EXPECT_EQ(series["rpc_latency_milliseconds_sum"][0].second.v, 20);
  EXPECT_EQ(series["rpc_latency_milliseconds_count"][0].second.v, 10);
  // target_info carries the other resource attributes, at the newest point's time.
  ASSERT_EQ(series["target_info"].size(), 1u);
  want = base;
  want["cloud_region"] = "eu-west-1";
  want["host_cpus"] = "8";
  EXPECT_EQ(series["target_info"][0].first, want);
  EXPECT_EQ(series["target_info"][0].second.t, 1700000001000);
  // Metadata per family.
  bool found = false;
  for (const auto& m : tr->request.metadata) {
    if (m.family == "http_server_request_duration_seconds") {
      found = true;
      EXPECT_EQ(m.type, MetricType::kHistogram);
      EXPECT_EQ(m.unit, "seconds");
    }
  }
  EXPECT_TRUE(found);
}

// Exemplars as Prometheus's OTLP translator (3.5) keeps them: a sum's on its series, a
// histogram's each on the first bucket whose bound is at or above its value (+Inf last), none
// for gauges; trace_id and span_id in hex, then the filtered attributes unless the labels
// would pass 128 characters with them.
// Prometheus's convertBucketsLayout, worked by hand: scale 10 merges four OTel buckets into
// one of schema 8 (bucket k at index ((k >> 2) + 1)), gaps of up to two empty buckets are
// filled and longer ones start a new span; a stale point and a scale below -4.
TEST(Otlp, ExponentialHistogramsBecomeNativeHistograms) {
  auto translate = [](std::string_view points) {
    std::string json = fmt::format(R"({{"resourceMetrics": [{{"scopeMetrics": [{{"metrics": [
        {{"name": "x", "exponentialHistogram": {{"aggregationTemporality": 2,
          "dataPoints": [{}]}}}}]}}]}}]}})",
                                   points);
    auto pb = OtlpJsonToProtobuf(OtlpSignal::kMetrics, json);
    EXPECT_TRUE(pb.ok()) << pb.status().ToString();
    return TranslateOtlpMetrics(*pb).value();
  };
  auto tr = translate(R"({"timeUnixNano": "1000000", "count": "22", "sum": 3, "scale": 10,
      "positive": {"offset": 3, "bucketCounts": ["1","2","3","4","5","0","0","0","0","0","0",
                                                 "0","0","0","0","0","7"]}},
    {"timeUnixNano": "2000000", "count": "3", "scale": 0,
      "positive": {"offset": 0, "bucketCounts": ["1","0","0","0","0","2"]}},
    {"timeUnixNano": "3000000", "flags": 1, "scale": 0},
    {"timeUnixNano": "4000000", "count": "1", "scale": -5},
    {"timeUnixNano": "5000000", "count": "2", "scale": 2147483647,
      "positive": {"offset": 2147483647, "bucketCounts": ["1", "1"]}},
    {"timeUnixNano": "6000000", "count": "2", "scale": 0,
      "positive": {"offset": -2147483648, "bucketCounts": ["1", "1"]}},
    {"timeUnixNano": "7000000", "count": "0", "scale": 9,
      "positive": {"offset": 0, "bucketCounts": ["18446744073709551615", "1"]}})");
  // Dropped: scale -5; indexes beyond what a histogram holds; a count over 64 bits. A scale
  // far above 8 shifts every bucket to index 1, as Go's shifts do.
  ASSERT_EQ(tr.request.series.size(), 4u);
  EXPECT_EQ(tr.dropped, 3u);
  const auto& far = *tr.request.series[3].histograms[0].h;
  EXPECT_EQ(far.positive_spans, (std::vector<histogram::Span>{{1, 1}}));
  EXPECT_EQ(far.positive_buckets, (std::vector<double>{2}));
  const auto& merged = *tr.request.series[0].histograms[0].h;
  EXPECT_EQ(merged.schema, 8);
  EXPECT_EQ(merged.positive_spans, (std::vector<histogram::Span>{{1, 5}}));
  EXPECT_EQ(merged.positive_buckets, (std::vector<double>{1, 14, 0, 0, 7}));
  EXPECT_EQ(merged.sum, 3);
  const auto& gapped = *tr.request.series[1].histograms[0].h;
  EXPECT_EQ(gapped.positive_spans, (std::vector<histogram::Span>{{1, 1}, {4, 1}}));
  EXPECT_EQ(gapped.positive_buckets, (std::vector<double>{1, 2}));
  EXPECT_TRUE(histogram::IsStale(*tr.request.series[2].histograms[0].h));
}

TEST(Otlp, ExemplarsByThePrometheusConventions) {
  const std::string long_value(120, 'x');
  const std::string json = R"({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
    {"name": "hits", "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
      {"timeUnixNano": "1700000000000000000", "asInt": "3", "exemplars": [
        {"timeUnixNano": "1699999999500000000", "asInt": "1",
         "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
         "filteredAttributes": [{"key": "user", "value": {"stringValue": "ann"}}]},
        {"timeUnixNano": "1699999999600000000", "asDouble": 2,
         "traceId": "0af7651916cd43dd8448eb211c80319c",
         "filteredAttributes": [{"key": "note", "value": {"stringValue": ")" +
                           long_value + R"("}}]},
        {"timeUnixNano": "1699999999700000000", "spanId": "b7ad6b7169203331"}]}]}},
    {"name": "temp", "gauge": {"dataPoints": [{"timeUnixNano": "1700000000000000000",
      "asDouble": 20, "exemplars": [{"timeUnixNano": "1700000000000000000", "asDouble": 20,
                                     "traceId": "0af7651916cd43dd8448eb211c80319c"}]}]}},
    {"name": "lat", "unit": "s", "histogram": {"aggregationTemporality": 2, "dataPoints": [
      {"timeUnixNano": "1700000000000000000", "count": "4", "sum": 8.503,
       "bucketCounts": ["1", "2", "1"], "explicitBounds": [0.005, 1], "exemplars": [
        {"timeUnixNano": "1699999999001000000", "asDouble": 7, "spanId": "0000000000000001"},
        {"timeUnixNano": "1699999999002000000", "asDouble": 1, "spanId": "0000000000000002"},
        {"timeUnixNano": "1699999999003000000", "asDouble": 0.003, "spanId": "0000000000000003"},
        {"timeUnixNano": "1699999999004000000", "asDouble": 0.5, "spanId": "0000000000000004"}
      ]}]}}]}]}]})";
  auto pb = OtlpJsonToProtobuf(OtlpSignal::kMetrics, json);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto tr = TranslateOtlpMetrics(*pb);
  ASSERT_TRUE(tr.ok()) << tr.status().ToString();
  std::map<std::string, std::vector<std::string>> got;  // series -> "labels value@t"
  for (const auto& ts : tr->request.series) {
    std::string name = FormatLabels(ts.labels);
    for (const auto& e : ts.exemplars) {
      got[name].push_back(FormatLabels(e.labels) + " " + FormatFloatF(e.value) + "@" +
                          std::to_string(e.t));
    }
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(
      got[R"({__name__="hits_total"})"],
      (V{R"({span_id="b7ad6b7169203331", trace_id="0af7651916cd43dd8448eb211c80319c", user="ann"} 1@1699999999500)",
         R"({trace_id="0af7651916cd43dd8448eb211c80319c"} 2@1699999999600)"}));
  EXPECT_EQ(got.count(R"({__name__="temp"})"), 0u);
  EXPECT_EQ(got[R"({__name__="lat_seconds_bucket", le="0.005"})"],
            V{R"({span_id="0000000000000003"} 0.003@1699999999003)"});
  EXPECT_EQ(got[R"({__name__="lat_seconds_bucket", le="1"})"],
            (V{R"({span_id="0000000000000002"} 1@1699999999002)",
               R"({span_id="0000000000000004"} 0.5@1699999999004)"}));
  EXPECT_EQ(got[R"({__name__="lat_seconds_bucket", le="+Inf"})"],
            V{R"({span_id="0000000000000001"} 7@1699999999001)"});
  size_t all = 0;
  for (const auto& [series, exemplars] : got) all += exemplars.size();
  EXPECT_EQ(all, 6u);  // the one without a value is left out
}

TEST(Otlp, MetricAndLabelNames) {
  using K = OtlpMetricKind;
  EXPECT_EQ(PrometheusMetricName("http.server.request.duration", "s", K::kHistogram),
            "http_server_request_duration_seconds");
  EXPECT_EQ(PrometheusMetricName("requests_total", "", K::kCounter), "requests_total");
  EXPECT_EQ(PrometheusMetricName("total.requests", "", K::kCounter), "requests_total");
  EXPECT_EQ(PrometheusMetricName("net.io", "By/s", K::kGauge), "net_io_bytes_per_second");
  EXPECT_EQ(PrometheusMetricName("packets", "{packets}/s", K::kGauge), "packets_per_second");
  EXPECT_EQ(PrometheusMetricName("memory_bytes", "By", K::kGauge), "memory_bytes");
  EXPECT_EQ(PrometheusMetricName("2xx.count", "", K::kGauge), "_2xx_count");
  EXPECT_EQ(PrometheusMetricName("foo__bar", "widgets", K::kGauge), "foo_bar_widgets");
  EXPECT_EQ(PrometheusLabelName("http.method"), "http_method");
  EXPECT_EQ(PrometheusLabelName("2xx"), "key_2xx");
  EXPECT_EQ(PrometheusLabelName("_private"), "key_private");
  EXPECT_EQ(PrometheusLabelName("__reserved"), "__reserved");
}

TEST(Otlp, LogsAndTracesJsonUseHexIds) {
  constexpr std::string_view kTraces = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
       "name":"GET /","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1","endTimeUnixNano":"2",
       "status":{"code":2}},
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","kind":3}]}]}]})";
  auto pb = OtlpJsonToProtobuf(OtlpSignal::kTraces, kTraces);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto counts = ScanOtlp(OtlpSignal::kTraces, *pb);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->items, 2u);
  // The 16-byte trace ID is on the wire as bytes: field 1 (len 16) of the first span.
  EXPECT_NE(pb->find(std::string("\x0a\x10\x5b\x8e\xff\xf7", 6)), std::string::npos);

  constexpr std::string_view kLogs = R"({"resource_logs":[{"scope_logs":[{"log_records":[
      {"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"hello"}},
      {"severity_number":"SEVERITY_NUMBER_ERROR","body":{"kvlistValue":{"values":[
        {"key":"k","value":{"arrayValue":{"values":[{"intValue":1},{"boolValue":true}]}}}]}}}
  ]}]}]})";
  pb = OtlpJsonToProtobuf(OtlpSignal::kLogs, kLogs);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  counts = ScanOtlp(OtlpSignal::kLogs, *pb);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->items, 2u);
  EXPECT_GT(counts->log_bytes, 5u);
}

TEST(Otlp, RefusesMalformedInputNamingTheProblem) {
  auto bad = OtlpJsonToProtobuf(
      OtlpSignal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Span.traceId: not a hex string"), std::string::npos);
  bad = OtlpJsonToProtobuf(OtlpSignal::kMetrics, R"({"resourceMetrics": 3})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not an array"), std::string::npos);
  EXPECT_FALSE(OtlpJsonToProtobuf(OtlpSignal::kLogs, "{").ok());
  EXPECT_FALSE(OtlpJsonToProtobuf(OtlpSignal::kLogs, "[]").ok());

  // resource_metrics (field 1) declared as a varint: wrong wire type.
  auto scan = ScanOtlp(OtlpSignal::kMetrics, std::string("\x08\x01", 2));
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.status().message().find("ExportMetricsServiceRequest.resource_metrics"),
            std::string::npos);
  // A length running past the end.
  EXPECT_FALSE(ScanOtlp(OtlpSignal::kLogs, std::string("\x0a\x05\x0a", 3)).ok());
  // Invalid UTF-8 in a string (Span.name).
  std::string span;
  PutBytesField(span, 5, "\xff\xfe");
  std::string scope, resource, req;
  PutBytesField(scope, 2, span);
  PutBytesField(resource, 2, scope);
  PutBytesField(req, 1, resource);
  scan = ScanOtlp(OtlpSignal::kTraces, req);
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.status().message().find("UTF-8"), std::string::npos);
  // Unbounded nesting of AnyValue arrays is refused, not recursed into.
  std::string any;
  PutBytesField(any, 1, "x");
  for (int i = 0; i < 100; ++i) {
    std::string arr, wrapped;
    PutBytesField(arr, 1, any);
    PutBytesField(wrapped, 5, arr);
    any = wrapped;
  }
  std::string rec, sl, rl, logs;
  PutBytesField(rec, 5, any);
  PutBytesField(sl, 2, rec);
  PutBytesField(rl, 2, sl);
  PutBytesField(logs, 1, rl);
  scan = ScanOtlp(OtlpSignal::kLogs, logs);
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.status().message().find("nested deeper"), std::string::npos);
  // Unknown fields are skipped.
  std::string unknown;
  PutVarintField(unknown, 99, 7);
  EXPECT_TRUE(ScanOtlp(OtlpSignal::kMetrics, unknown).ok());
}

TEST(Otlp, ExportResponses) {
  EXPECT_EQ(OtlpExportResponse(OtlpSignal::kMetrics, 0, "", false), "");
  EXPECT_EQ(OtlpExportResponse(OtlpSignal::kMetrics, 0, "", true), "{}");
  EXPECT_EQ(OtlpExportResponse(OtlpSignal::kLogs, 2, "bad", true),
            R"({"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}})");
  // partial_success { rejected = 2, error_message = "bad" }
  EXPECT_EQ(OtlpExportResponse(OtlpSignal::kTraces, 2, "bad", false),
            std::string("\x0a\x07\x08\x02\x12\x03"
                        "bad",
                        9));
}

}  // namespace
}  // namespace strata::proto
