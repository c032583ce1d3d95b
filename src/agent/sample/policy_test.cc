// Tail-sampling policies against the OpenTelemetry Collector's tail_sampling processor: the
// expected decisions follow its documented and tested semantics, and the probabilistic
// policy's hashes and sampled counts were computed with its Go code (hash/fnv, math/big) over
// the IDs its own test draws from Go's PCG.
#include "agent/sample/policy.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>

#include "agent/config.h"
#include "proto/otlp.h"
#include "traceql/trace.h"

namespace strata::agent {
namespace {

// A trace from OTLP/JSON spans (made by Span) under one resource.
struct TestTrace {
  TestTrace(std::string spans, std::string_view resource_attrs = "",
            std::string_view trace_id = "5b8efff798038103d269b633813fc60c") {
    for (size_t pos; (pos = spans.find("@TRACE@")) != std::string::npos;) {
      spans.replace(pos, 7, trace_id);
    }
    std::string json = fmt::format(
        R"({{"resourceSpans":[{{"resource":{{"attributes":[{}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}})",
        resource_attrs, spans);
    auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, json);
    EXPECT_TRUE(pb.ok()) << pb.status().message() << "\n" << json;
    bytes = *pb;
    auto t = traceql::DecodeTrace(bytes);
    EXPECT_TRUE(t.ok()) << t.status().message();
    trace = std::move(*t);
  }
  TraceFacts facts() const { return {trace, bytes.size()}; }
  std::string bytes;
  traceql::Trace trace;
};

std::vector<PolicyConfig> ParsePolicies(const std::string& yaml) {
  std::vector<PolicyConfig> out;
  Status st = ParseTailSamplingPolicies(YAML::Load(yaml), "policies", out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

// The decision of one policy given in YAML (a flow mapping), at `now_ms`.
Decision One(const std::string& policy, const TestTrace& t, int64_t now_ms = 1'000'000) {
  auto set = PolicySet::Build(ParsePolicies("[" + policy + "]"), false);
  EXPECT_TRUE(set.ok()) << set.status().message();
  std::vector<Outcome> out;
  set->Decide(t.facts(), now_ms, &out);
  return out.at(0).decision;
}

std::string Span(std::string_view id, int64_t start_ms, int64_t end_ms,
                 std::string_view extra = "") {
  return fmt::format(
      R"({{"traceId":"@TRACE@","spanId":"{}","name":"s","startTimeUnixNano":"{}","endTimeUnixNano":"{}"{}}})",
      id, start_ms * 1'000'000, end_ms * 1'000'000, extra);
}

TEST(TailSamplingPolicyTest, LatencyTestsTheWindowAfterEachSpan) {
  // Spans in order: [1000, 1500] then [1000, 3000]: after the first the window is 500 ms.
  TestTrace t(Span("0000000000000001", 1000, 1500) + "," + Span("0000000000000002", 1000, 3000));
  EXPECT_EQ(One("{name: l, type: latency, latency: {threshold_ms: 2000}}", t), Decision::kSampled);
  EXPECT_EQ(One("{name: l, type: latency, latency: {threshold_ms: 2001}}", t),
            Decision::kNotSampled);
  // With an upper bound: lower exclusive, upper inclusive; the 500 ms window after the first
  // span already matches (400, 600], though the whole trace lasts 2 s.
  EXPECT_EQ(
      One("{name: l, type: latency, latency: {threshold_ms: 400, upper_threshold_ms: 600}}", t),
      Decision::kSampled);
  EXPECT_EQ(
      One("{name: l, type: latency, latency: {threshold_ms: 500, upper_threshold_ms: 600}}", t),
      Decision::kNotSampled);
}

TEST(TailSamplingPolicyTest, AttributePoliciesLookAtResourcesAndSpans) {
  TestTrace t(Span("0000000000000001", 0, 1,
                   R"(,"attributes":[{"key":"n","value":{"intValue":"70"}},
                       {"key":"d","value":{"doubleValue":70.5}},
                       {"key":"url","value":{"stringValue":"grpc.health.v1.HealthCheck"}},
                       {"key":"flag","value":{"boolValue":true}}])"),
              R"({"key":"service.name","value":{"stringValue":"checkout"}})");
  EXPECT_EQ(One("{name: n, type: numeric_attribute, numeric_attribute: {key: n, min_value: 50, "
                "max_value: 100}}",
                t),
            Decision::kSampled);
  // An unset bound is open: min_value alone means at least.
  EXPECT_EQ(
      One("{name: n, type: numeric_attribute, numeric_attribute: {key: n, min_value: 50}}", t),
      Decision::kSampled);
  EXPECT_EQ(
      One("{name: n, type: numeric_attribute, numeric_attribute: {key: n, min_value: 71}}", t),
      Decision::kNotSampled);
  // A double reads as 0 to numeric_attribute.
  EXPECT_EQ(One("{name: n, type: numeric_attribute, numeric_attribute: {key: d, min_value: 1}}", t),
            Decision::kNotSampled);
  EXPECT_EQ(One("{name: n, type: numeric_attribute, numeric_attribute: {key: d, min_value: -1, "
                "max_value: 1}}",
                t),
            Decision::kSampled);
  EXPECT_EQ(One("{name: n, type: numeric_attribute, numeric_attribute: {key: n, min_value: 50, "
                "max_value: 100, invert_match: true}}",
                t),
            Decision::kInvertNotSampled);
  EXPECT_EQ(One("{name: n, type: numeric_attribute, numeric_attribute: {key: missing, min_value: "
                "50, invert_match: true}}",
                t),
            Decision::kInvertSampled);

  EXPECT_EQ(One("{name: s, type: string_attribute, string_attribute: {key: service.name, values: "
                "[checkout]}}",
                t),
            Decision::kSampled);
  EXPECT_EQ(One("{name: s, type: string_attribute, string_attribute: {key: service.name, values: "
                "[check]}}",
                t),
            Decision::kNotSampled);
  // Regular expressions are not anchored (the processor's own test).
  EXPECT_EQ(
      One(R"({name: s, type: string_attribute, string_attribute: {key: url, values: ['v[0-9]+.HealthCheck$'], enabled_regex_matching: true}})",
          t),
      Decision::kSampled);
  EXPECT_EQ(
      One(R"({name: s, type: string_attribute, string_attribute: {key: url, values: ['^health'], enabled_regex_matching: true}})",
          t),
      Decision::kNotSampled);
  EXPECT_EQ(
      One(R"({name: s, type: string_attribute, string_attribute: {key: url, values: [\/health, \/metrics], enabled_regex_matching: true, invert_match: true}})",
          t),
      Decision::kInvertSampled);
  EXPECT_EQ(
      One(R"({name: s, type: string_attribute, string_attribute: {key: url, values: [Health], enabled_regex_matching: true, invert_match: true}})",
          t),
      Decision::kInvertNotSampled);

  EXPECT_EQ(
      One("{name: b, type: boolean_attribute, boolean_attribute: {key: flag, value: true}}", t),
      Decision::kSampled);
  EXPECT_EQ(
      One("{name: b, type: boolean_attribute, boolean_attribute: {key: flag, value: false}}", t),
      Decision::kNotSampled);
  // A value that is not a bool reads as false.
  EXPECT_EQ(
      One("{name: b, type: boolean_attribute, boolean_attribute: {key: url, value: false}}", t),
      Decision::kSampled);
}

TEST(TailSamplingPolicyTest, StatusSpanCountAndTraceState) {
  TestTrace t(
      Span("0000000000000001", 0, 1,
           R"(,"status":{"code":2},"traceState":"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")") +
      "," + Span("0000000000000002", 0, 1, R"(,"status":{"code":1})"));
  EXPECT_EQ(One("{name: s, type: status_code, status_code: {status_codes: [ERROR]}}", t),
            Decision::kSampled);
  EXPECT_EQ(One("{name: s, type: status_code, status_code: {status_codes: [UNSET]}}", t),
            Decision::kNotSampled);
  EXPECT_EQ(One("{name: c, type: span_count, span_count: {min_spans: 2}}", t), Decision::kSampled);
  EXPECT_EQ(One("{name: c, type: span_count, span_count: {min_spans: 1, max_spans: 1}}", t),
            Decision::kNotSampled);
  EXPECT_EQ(One("{name: c, type: span_count, span_count: {min_spans: 3}}", t),
            Decision::kNotSampled);
  EXPECT_EQ(
      One("{name: t, type: trace_state, trace_state: {key: congo, values: [t61rcWkgMzE]}}", t),
      Decision::kSampled);
  EXPECT_EQ(One("{name: t, type: trace_state, trace_state: {key: rojo, values: [other]}}", t),
            Decision::kNotSampled);
  // A tracestate that is not W3C's matches nothing.
  TestTrace bad(Span("0000000000000001", 0, 1, R"(,"traceState":"Congo=t61rcWkgMzE")"));
  EXPECT_EQ(
      One("{name: t, type: trace_state, trace_state: {key: Congo, values: [t61rcWkgMzE]}}", bad),
      Decision::kNotSampled);
}

// Go's math/rand/v2 PCG with DXSM output, as the processor's probabilistic test draws IDs.
struct GoPcg {
  unsigned __int128 state;
  GoPcg(uint64_t seed1, uint64_t seed2)
      : state((static_cast<unsigned __int128>(seed1) << 64) | seed2) {}
  uint64_t Uint64() {
    const unsigned __int128 mul =
        (static_cast<unsigned __int128>(2549297995355413924ull) << 64) | 4865540595714422341ull;
    const unsigned __int128 inc =
        (static_cast<unsigned __int128>(6364136223846793005ull) << 64) | 1442695040888963407ull;
    state = state * mul + inc;
    auto hi = static_cast<uint64_t>(state >> 64);
    auto lo = static_cast<uint64_t>(state);
    hi ^= hi >> 32;
    hi *= 0xda942042e4dd58b5ull;
    hi ^= hi >> 48;
    hi *= lo | 1;
    return hi;
  }
};

std::string Hex(uint64_t hi, uint64_t lo) { return fmt::format("{:016x}{:016x}", hi, lo); }

TEST(TailSamplingPolicyTest, ProbabilisticHashesAsTheProcessorDoes) {
  struct Case {
    const char* id;
    const char* salt;
    bool at10, at50;
  };
  // FNV-1a over salt then ID, sampled when <= (2^64-1) * ratio at 64-bit precision.
  for (const Case& c : {Case{"00000000000000000000000000000000", "", false, false},
                        Case{"00000000000000000000000000000000", "custom-salt", true, true},
                        Case{"0102030405060708090a0b0c0d0e0f10", "", false, false},
                        Case{"0102030405060708090a0b0c0d0e0f10", "custom-salt", false, true},
                        Case{"4bf92f3577b34da6a3ce929d0e0e4736", "", false, false},
                        Case{"ffffffffffffffffffffffffffffffff", "", true, true},
                        Case{"5b8efff798038103d269b633813fc60c", "custom-salt", false, true}}) {
    TestTrace t(Span("0000000000000001", 0, 1), "", c.id);
    for (auto [pct, want] : {std::pair{10, c.at10}, std::pair{50, c.at50}}) {
      std::string policy = fmt::format(
          "{{name: p, type: probabilistic, probabilistic: {{sampling_percentage: {}{}}}}}", pct,
          *c.salt ? fmt::format(", hash_salt: {}", c.salt) : "");
      EXPECT_EQ(One(policy, t), want ? Decision::kSampled : Decision::kNotSampled)
          << c.id << " " << c.salt << " " << pct;
    }
  }
  // The processor's test: 100,000 IDs from PCG(123, 456).
  GoPcg first(123, 456);
  uint64_t hi = first.Uint64(), lo = first.Uint64();
  EXPECT_EQ(Hex(hi, lo), "9bddb455325107c9917db1245bd9f1bb");
  struct Share {
    double pct;
    const char* salt;
    int sampled;
  };
  for (const Share& s : {Share{25, "", 25153}, Share{33, "", 33074}, Share{33, "test-salt", 32828},
                         Share{0, "", 0}, Share{100, "", 100000}}) {
    std::vector<PolicyConfig> cfg(1);
    cfg[0].name = "p";
    cfg[0].type = PolicyType::kProbabilistic;
    cfg[0].sampling_percentage = s.pct;
    cfg[0].hash_salt = s.salt;
    auto set = PolicySet::Build(cfg, false);
    ASSERT_TRUE(set.ok());
    GoPcg rng(123, 456);
    traceql::Trace trace;
    int sampled = 0;
    for (int i = 0; i < 100'000; ++i) {
      uint64_t h = rng.Uint64(), l = rng.Uint64();
      trace.id.clear();
      for (int b = 7; b >= 0; --b) trace.id.push_back(static_cast<char>(h >> (8 * b)));
      for (int b = 7; b >= 0; --b) trace.id.push_back(static_cast<char>(l >> (8 * b)));
      sampled += set->Decide({trace, 0}, 0, nullptr) ? 1 : 0;
    }
    EXPECT_EQ(sampled, s.sampled) << s.pct << "% salt " << s.salt;
  }
}

TEST(TailSamplingPolicyTest, RateAndBytesLimitingAreTokenBuckets) {
  TestTrace t(Span("0000000000000001", 0, 1) + "," + Span("0000000000000002", 0, 1));
  auto set = PolicySet::Build(
      ParsePolicies("[{name: r, type: rate_limiting, rate_limiting: {spans_per_second: 3}}]"),
      false);
  ASSERT_TRUE(set.ok());
  // Burst twice the rate (6 spans), full at first: three 2-span traces pass, the fourth not.
  int64_t now = 5'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(set->Decide(t.facts(), now, nullptr)) << i;
  EXPECT_FALSE(set->Decide(t.facts(), now, nullptr));
  // 3 spans a second refill: after 700 ms, 2.1 tokens.
  EXPECT_TRUE(set->Decide(t.facts(), now + 700, nullptr));
  EXPECT_FALSE(set->Decide(t.facts(), now + 700, nullptr));

  auto bytes = PolicySet::Build(
      ParsePolicies(
          fmt::format("[{{name: b, type: bytes_limiting, bytes_limiting: {{bytes_per_second: {}, "
                      "burst_capacity: {}}}}}]",
                      t.bytes.size(), t.bytes.size())),
      false);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(bytes->Decide(t.facts(), now, nullptr));
  EXPECT_FALSE(bytes->Decide(t.facts(), now, nullptr));
  EXPECT_TRUE(bytes->Decide(t.facts(), now + 1000, nullptr));
}

TEST(TailSamplingPolicyTest, FinalDecisionPrecedence) {
  TestTrace err(Span(
      "0000000000000001", 0, 1,
      R"(,"status":{"code":2},"attributes":[{"key":"url.path","value":{"stringValue":"/health"}}])"));
  TestTrace ok(Span("0000000000000001", 0, 1));
  auto decide = [](const std::string& policies, const TestTrace& t) {
    auto set = PolicySet::Build(ParsePolicies(policies), false);
    EXPECT_TRUE(set.ok()) << set.status().message();
    return set->Decide(t.facts(), 0, nullptr);
  };
  const std::string errors = "{name: e, type: status_code, status_code: {status_codes: [ERROR]}}";
  EXPECT_TRUE(decide("[" + errors + "]", err));
  EXPECT_FALSE(decide("[" + errors + "]", ok));
  // A drop policy wins over any sampling one, wherever it is listed.
  const std::string drop_health =
      R"({name: d, type: drop, drop: {drop_sub_policy: [{name: h, type: string_attribute, string_attribute: {key: url.path, values: [\/health], enabled_regex_matching: true}}]}})";
  EXPECT_FALSE(decide("[" + errors + "," + drop_health + "]", err));
  // An inverted match that matches vetoes sampling.
  const std::string not_health =
      R"({name: n, type: string_attribute, string_attribute: {key: url.path, values: [/health], invert_match: true}})";
  EXPECT_FALSE(decide("[{name: a, type: always_sample}," + not_health + "]", err));
  // An inverted match that does not match samples, unless another policy says "not sampled".
  EXPECT_TRUE(decide("[" + not_health + "]", ok));
  EXPECT_FALSE(decide("[" + not_health + "," + errors + "]", ok));
  // and: every sub-policy must sample.
  const std::string both = R"({name: and, type: and, and: {and_sub_policy: [)" + errors +
                           R"(, {name: c, type: span_count, span_count: {min_spans: 2}}]}})";
  EXPECT_FALSE(decide("[" + both + "]", err));
}

TEST(TailSamplingPolicyTest, CompositeAllocatesSpansPerSecond) {
  TestTrace t(Span("0000000000000001", 0, 1) + "," + Span("0000000000000002", 0, 1));
  auto set = PolicySet::Build(ParsePolicies(R"([{name: c, type: composite, composite: {
      max_total_spans_per_second: 8, policy_order: [a, b],
      composite_sub_policy: [{name: a, type: always_sample}, {name: b, type: always_sample}],
      rate_allocation: [{policy: a, percent: 50}]}}])"),
                              false);
  ASSERT_TRUE(set.ok());
  // a gets 4 spans a second: two 2-span traces; the first sub-policy that matches decides, so
  // b (without an allocation) never samples.
  EXPECT_TRUE(set->Decide(t.facts(), 10'000, nullptr));
  EXPECT_TRUE(set->Decide(t.facts(), 10'100, nullptr));
  EXPECT_FALSE(set->Decide(t.facts(), 10'200, nullptr));
  EXPECT_TRUE(set->Decide(t.facts(), 11'000, nullptr));  // a new second
}

TEST(TailSamplingPolicyTest, ConfigurationAsTheProcessorTakesIt) {
  // The processor README's example, as it is, without its ottl_condition policy.
  const char* readme = R"(
tail_sampling:
  decision_wait: 10s
  num_traces: 100
  expected_new_traces_per_sec: 10
  decision_cache:
    sampled_cache_size: 100_000
    non_sampled_cache_size: 100_000
  policies:
    [
      {name: test-policy-1, type: always_sample},
      {name: test-policy-2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}},
      {name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}},
      {name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10}},
      {name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}},
      {name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
      {name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}},
      {name: test-policy-8, type: rate_limiting, rate_limiting: {spans_per_second: 35}},
      {name: test-policy-9, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 2048000}},
      {name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20}},
      {name: test-policy-11, type: trace_state, trace_state: { key: key3, values: [value1, value2] }},
      {name: test-policy-12, type: boolean_attribute, boolean_attribute: {key: key4, value: true}},
      {name: and-policy-1, type: and, and: {and_sub_policy: [
        {name: test-and-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50, max_value: 100 }},
        {name: test-and-policy-2, type: string_attribute, string_attribute: { key: key2, values: [ value1, value2 ] }},
      ]}},
      {name: drop-policy-1, type: drop, drop: {drop_sub_policy: [
        {name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}}
      ]}},
      {name: composite-policy-1, type: composite, composite: {
        max_total_spans_per_second: 1000,
        policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
        composite_sub_policy: [
          {name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}},
          {name: test-composite-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
          {name: test-composite-policy-3, type: always_sample}],
        rate_allocation: [{policy: test-composite-policy-1, percent: 50}, {policy: test-composite-policy-2, percent: 25}]}},
    ]
)";
  auto c = ParseAgentConfig(readme);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->tail_sampling.enabled);
  EXPECT_EQ(c->tail_sampling.decision_wait_ms, 10'000);
  EXPECT_EQ(c->tail_sampling.num_traces, 100u);
  EXPECT_EQ(c->tail_sampling.sampled_cache_size, 100'000u);
  ASSERT_EQ(c->tail_sampling.policies.size(), 15u);
  EXPECT_EQ(c->tail_sampling.policies[14].rate_allocation.size(), 2u);
  EXPECT_TRUE(PolicySet::Build(c->tail_sampling.policies, false).ok());

  auto error = [](const std::string& yaml) {
    auto r = ParseAgentConfig(yaml);
    if (r.ok()) {
      auto set = PolicySet::Build(r->tail_sampling.policies, false);
      return set.ok() ? std::string() : set.status().message();
    }
    return r.status().message();
  };
  EXPECT_NE(error("tail_sampling: {policies: [{name: o, type: ottl_condition, ottl_condition: "
                  "{span: ['name == \"x\"']}}]}")
                .find("ottl_condition is not supported"),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {policies: [{name: c, type: composite, composite: "
                  "{composite_sub_policy: [{name: d, type: composite}]}}]}")
                .find("cannot be a sub-policy"),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {policies: [{name: a, type: always_sample}, {name: a, type: "
                  "always_sample}]}")
                .find("duplicate policy name \"a\""),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {policies: [{name: s, type: status_code, status_code: "
                  "{status_codes: [FAILED]}}]}")
                .find("unknown status code \"FAILED\""),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {policies: [{name: s, type: string_attribute, "
                  "string_attribute: {key: k, values: ['('], enabled_regex_matching: true}}]}")
                .find("invalid regular expression"),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {policies: [{name: n, type: numeric_attribute, "
                  "numeric_attribute: {key: k}}]}")
                .find("min_value or max_value"),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {policies: [{name: a, type: always_sample}], peers: "
                  "['http://a:1', 'http://b:1'], self: 'http://c:1'}")
                .find("tail_sampling.self"),
            std::string::npos);
  EXPECT_NE(error("tail_sampling: {}").find("at least one policy"), std::string::npos);
}

}  // namespace
}  // namespace strata::agent
