#pragma once

// Tail-sampling policies as the OpenTelemetry Collector's tail_sampling processor names,
// configures and evaluates them (docs/agent.md lists them).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace YAML {
class Node;
}

namespace strata::traceql {
struct Trace;
}

namespace strata::agent {

enum class PolicyType : uint8_t {
  kAlwaysSample,
  kLatency,
  kNumericAttribute,
  kProbabilistic,
  kStatusCode,
  kStringAttribute,
  kRateLimiting,
  kBytesLimiting,
  kSpanCount,
  kBooleanAttribute,
  kTraceState,
  kAnd,
  kComposite,
  kDrop,
};

// One policy: its name, type and the settings of that type (the YAML block named after the
// type); the rest keep their defaults.
struct PolicyConfig {
  std::string name;
  PolicyType type = PolicyType::kAlwaysSample;
  // latency
  int64_t threshold_ms = 0;
  int64_t upper_threshold_ms = 0;  // 0: none
  // numeric_attribute, string_attribute, boolean_attribute, trace_state
  std::string key;
  int64_t min_value = 0, max_value = 0;  // 0: unbounded on that side
  bool invert_match = false;
  // probabilistic
  std::string hash_salt;
  double sampling_percentage = 0;
  // status_code: OK, ERROR, UNSET
  std::vector<std::string> status_codes;
  // string_attribute, trace_state
  std::vector<std::string> values;
  bool enabled_regex_matching = false;
  int64_t cache_max_size = 0;
  // boolean_attribute
  bool value = false;
  // rate_limiting
  int64_t spans_per_second = 0;
  // bytes_limiting
  int64_t bytes_per_second = 0;
  int64_t burst_capacity = 0;  // 0: bytes_per_second
  // span_count
  int64_t min_spans = 0, max_spans = 0;  // max 0: none
  // and (and_sub_policy), drop (drop_sub_policy), composite (composite_sub_policy)
  std::vector<PolicyConfig> sub_policies;
  // composite
  int64_t max_total_spans_per_second = 0;
  std::vector<std::string> policy_order;
  std::vector<std::pair<std::string, double>> rate_allocation;  // policy, percent
  bool operator==(const PolicyConfig&) const = default;
};

// Reads a `policies` list as the processor's YAML has it -> kInvalidArgument naming the key.
Status ParseTailSamplingPolicies(const YAML::Node& node, const std::string& path,
                                 std::vector<PolicyConfig>& out);

// A policy's verdict on one trace, as the processor's sampling decisions.
enum class Decision : uint8_t {
  kNotSampled,
  kSampled,
  kInvertNotSampled,  // an inverted match that did not match: vetoes sampling
  kInvertSampled,     // an inverted match that matched
  kDropped,           // a drop policy matched: the trace is not sampled, whatever else says
};
std::string_view DecisionName(Decision d);

// What policies see of a trace.
struct TraceFacts {
  const traceql::Trace& trace;
  uint64_t bytes;  // its serialized size (bytes_limiting)
};

// One policy's decision on a trace (metrics).
struct Outcome {
  std::string_view policy;
  Decision decision;
};

class Policy;

// The configured policies, built once; Decide combines their decisions as the processor does.
// Not thread-safe (rate-limiting policies keep state): one sampler thread uses it.
class PolicySet {
 public:
  PolicySet();
  ~PolicySet();
  PolicySet(PolicySet&&) noexcept;
  PolicySet& operator=(PolicySet&&) noexcept;

  // Checks what parsing cannot (unique names, regular expressions) -> kInvalidArgument
  // naming the policy. `sample_on_first_match`: stop at the first policy that samples.
  static Result<PolicySet> Build(const std::vector<PolicyConfig>& configs,
                                 bool sample_on_first_match);

  // True when the trace is sampled. Drop policies go first; then the first applicable rule
  // decides: a drop -> not sampled; an inverted match that vetoes -> not sampled; a policy
  // that samples -> sampled; an inverted match that samples with no policy saying "not
  // sampled" -> sampled; else not sampled. Each policy's decision is appended to `out`.
  bool Decide(const TraceFacts& t, int64_t now_ms, std::vector<Outcome>* out);

 private:
  std::vector<std::unique_ptr<Policy>> policies_;
  bool first_match_ = false;
};

}  // namespace strata::agent
