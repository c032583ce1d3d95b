#include "agent/sample/policy.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>

#include "base/yaml_section.h"
#include "limits/token_bucket.h"
#include "traceql/trace.h"

namespace strata::agent {
namespace {

using traceql::Static;
using traceql::StaticType;

constexpr const char* kDefaultHashSalt = "default-hash-seed";

const std::map<std::string, PolicyType, std::less<>>& PolicyTypes() {
  static const auto* types = new std::map<std::string, PolicyType, std::less<>>{
      {"always_sample", PolicyType::kAlwaysSample},
      {"latency", PolicyType::kLatency},
      {"numeric_attribute", PolicyType::kNumericAttribute},
      {"probabilistic", PolicyType::kProbabilistic},
      {"status_code", PolicyType::kStatusCode},
      {"string_attribute", PolicyType::kStringAttribute},
      {"rate_limiting", PolicyType::kRateLimiting},
      {"bytes_limiting", PolicyType::kBytesLimiting},
      {"span_count", PolicyType::kSpanCount},
      {"boolean_attribute", PolicyType::kBooleanAttribute},
      {"trace_state", PolicyType::kTraceState},
      {"and", PolicyType::kAnd},
      {"composite", PolicyType::kComposite},
      {"drop", PolicyType::kDrop},
  };
  return *types;
}

// Where a policy may appear: the processor takes and/composite/drop at the top only, `and`
// inside a composite too, and leaf types anywhere.
enum class Nesting { kTop, kAndOrDrop, kComposite };

Status ParsePolicy(const YAML::Node& node, const std::string& path, Nesting nesting,
                   PolicyConfig& p);

Status ParseSubPolicies(YamlSection& block, const std::string& key, Nesting nesting,
                        std::vector<PolicyConfig>& out) {
  YAML::Node list = block.Get(key);
  if (!list || list.IsNull()) return Status::Ok();
  if (!list.IsSequence()) {
    return Status::InvalidArgument(fmt::format("config: \"{}\" must be a list", block.Path(key)));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    RETURN_IF_ERROR(ParsePolicy(list[i], fmt::format("{}[{}]", block.Path(key), i), nesting,
                                out.emplace_back()));
  }
  return Status::Ok();
}

Status ParsePolicy(const YAML::Node& node, const std::string& path, Nesting nesting,
                   PolicyConfig& p) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Str("name", p.name));
  std::string type;
  RETURN_IF_ERROR(s.Str("type", type));
  if (p.name.empty()) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.name\": policy name cannot be empty", path));
  }
  if (type == "ottl_condition") {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}\": policy type ottl_condition is not supported by strata agent (OTTL is "
        "not implemented); express the condition with the attribute policies",
        path));
  }
  auto t = PolicyTypes().find(type);
  if (t == PolicyTypes().end()) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.type\": unknown sampling policy type \"{}\"", path, type));
  }
  p.type = t->second;
  const bool nested_ok = nesting == Nesting::kTop ||
                         (p.type != PolicyType::kAnd && p.type != PolicyType::kComposite &&
                          p.type != PolicyType::kDrop) ||
                         (nesting == Nesting::kComposite && p.type == PolicyType::kAnd);
  if (!nested_ok) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.type\": a {} policy cannot be a sub-policy here", path, type));
  }
  YamlSection b(s.Get(type), s.Path(type));
  RETURN_IF_ERROR(b.Check());
  switch (p.type) {
    case PolicyType::kAlwaysSample:
      break;
    case PolicyType::kLatency:
      RETURN_IF_ERROR(b.SignedInt("threshold_ms", p.threshold_ms));
      RETURN_IF_ERROR(b.SignedInt("upper_threshold_ms", p.upper_threshold_ms));
      break;
    case PolicyType::kNumericAttribute:
      RETURN_IF_ERROR(b.Str("key", p.key));
      RETURN_IF_ERROR(b.SignedInt("min_value", p.min_value));
      RETURN_IF_ERROR(b.SignedInt("max_value", p.max_value));
      RETURN_IF_ERROR(b.Bool("invert_match", p.invert_match));
      if (p.min_value == 0 && p.max_value == 0) {
        return Status::InvalidArgument(fmt::format(
            "config: \"{}\": at least one of min_value or max_value must be set", b.Path("")));
      }
      if (p.min_value != 0 && p.max_value != 0 && p.min_value > p.max_value) {
        return Status::InvalidArgument(fmt::format(
            "config: \"{}\": min_value must not be greater than max_value", b.Path("")));
      }
      break;
    case PolicyType::kProbabilistic:
      RETURN_IF_ERROR(b.Str("hash_salt", p.hash_salt));
      RETURN_IF_ERROR(b.Double("sampling_percentage", p.sampling_percentage));
      break;
    case PolicyType::kStatusCode:
      RETURN_IF_ERROR(b.StrList("status_codes", p.status_codes));
      if (p.status_codes.empty()) {
        return Status::InvalidArgument(fmt::format(
            "config: \"{}\": expected at least one status code to filter on", b.Path("")));
      }
      for (const auto& c : p.status_codes) {
        if (c != "OK" && c != "ERROR" && c != "UNSET") {
          return Status::InvalidArgument(
              fmt::format("config: \"{}\": unknown status code \"{}\", supported: OK, ERROR, UNSET",
                          b.Path("status_codes"), c));
        }
      }
      break;
    case PolicyType::kStringAttribute:
      RETURN_IF_ERROR(b.Str("key", p.key));
      RETURN_IF_ERROR(b.StrList("values", p.values));
      RETURN_IF_ERROR(b.Bool("enabled_regex_matching", p.enabled_regex_matching));
      RETURN_IF_ERROR(b.SignedInt("cache_max_size", p.cache_max_size));
      RETURN_IF_ERROR(b.Bool("invert_match", p.invert_match));
      break;
    case PolicyType::kRateLimiting:
      RETURN_IF_ERROR(b.SignedInt("spans_per_second", p.spans_per_second));
      RETURN_IF_ERROR(b.SignedInt("burst_capacity", p.burst_capacity));
      break;
    case PolicyType::kBytesLimiting:
      RETURN_IF_ERROR(b.SignedInt("bytes_per_second", p.bytes_per_second));
      RETURN_IF_ERROR(b.SignedInt("burst_capacity", p.burst_capacity));
      break;
    case PolicyType::kSpanCount:
      RETURN_IF_ERROR(b.SignedInt("min_spans", p.min_spans));
      RETURN_IF_ERROR(b.SignedInt("max_spans", p.max_spans));
      break;
    case PolicyType::kBooleanAttribute:
      RETURN_IF_ERROR(b.Str("key", p.key));
      RETURN_IF_ERROR(b.Bool("value", p.value));
      RETURN_IF_ERROR(b.Bool("invert_match", p.invert_match));
      break;
    case PolicyType::kTraceState:
      RETURN_IF_ERROR(b.Str("key", p.key));
      RETURN_IF_ERROR(b.StrList("values", p.values));
      break;
    case PolicyType::kAnd:
      RETURN_IF_ERROR(ParseSubPolicies(b, "and_sub_policy", Nesting::kAndOrDrop, p.sub_policies));
      break;
    case PolicyType::kDrop:
      RETURN_IF_ERROR(ParseSubPolicies(b, "drop_sub_policy", Nesting::kAndOrDrop, p.sub_policies));
      break;
    case PolicyType::kComposite: {
      RETURN_IF_ERROR(b.SignedInt("max_total_spans_per_second", p.max_total_spans_per_second));
      RETURN_IF_ERROR(b.StrList("policy_order", p.policy_order));
      RETURN_IF_ERROR(
          ParseSubPolicies(b, "composite_sub_policy", Nesting::kComposite, p.sub_policies));
      YAML::Node alloc = b.Get("rate_allocation");
      if (alloc && !alloc.IsNull()) {
        if (!alloc.IsSequence()) {
          return Status::InvalidArgument(
              fmt::format("config: \"{}\" must be a list", b.Path("rate_allocation")));
        }
        for (size_t i = 0; i < alloc.size(); ++i) {
          YamlSection a(alloc[i], fmt::format("{}[{}]", b.Path("rate_allocation"), i));
          RETURN_IF_ERROR(a.Check());
          auto& [policy, percent] = p.rate_allocation.emplace_back();
          RETURN_IF_ERROR(a.Str("policy", policy));
          RETURN_IF_ERROR(a.Double("percent", percent));
          RETURN_IF_ERROR(a.Unknown());
        }
      }
      break;
    }
  }
  RETURN_IF_ERROR(b.Unknown());
  // The processor's policy entries carry every type's block; only the chosen one is read.
  for (const auto& [other, unused] : PolicyTypes()) {
    if (other != type) s.Get(other);
  }
  s.Get("ottl_condition");
  return s.Unknown();
}

// The typed readers of pdata's attribute values: a value of another type reads as the zero
// value (so a double attribute is 0 to numeric_attribute, as in the processor).
int64_t IntOf(const Static& v) { return v.type == StaticType::kInt ? v.i : 0; }
std::string_view StrOf(const Static& v) {
  return v.type == StaticType::kString ? std::string_view(v.s) : std::string_view();
}
bool BoolOf(const Static& v) { return v.type == StaticType::kBoolean && v.i != 0; }

const Static* Find(const traceql::Attrs& attrs, std::string_view key) {
  for (const auto& [k, v] : attrs) {
    if (k == key) return &v;
  }
  return nullptr;
}

// The attribute policies' test: does any resource, or any span, have `key` with a value
// `match` accepts (`span_guard` also filters the span side)? Inverted, a match anywhere
// vetoes (kInvertNotSampled) and none samples (kInvertSampled).
template <typename Match>
Decision AnyAttribute(const traceql::Trace& t, std::string_view key, bool invert, Match match,
                      bool (*span_guard)(const Static&) = nullptr) {
  bool found = false;
  for (const auto& r : t.resources) {
    const Static* v = Find(r, key);
    if (v && match(*v)) {
      found = true;
      break;
    }
  }
  for (size_t i = 0; !found && i < t.spans.size(); ++i) {
    const Static* v = Find(t.spans[i].attrs, key);
    found = v && (!span_guard || span_guard(*v)) && match(*v);
  }
  if (invert) return found ? Decision::kInvertNotSampled : Decision::kInvertSampled;
  return found ? Decision::kSampled : Decision::kNotSampled;
}

// FNV-1a, 64 bits.
uint64_t Fnv1a64(uint64_t h, std::string_view data) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// floor of (2^64 - 1) * ratio rounded to 64 significant bits (half to even), clamped: what
// the processor computes with a 64-bit-precision big.Float.
uint64_t Threshold(double ratio) {
  if (!(ratio > 0)) return 0;
  if (ratio >= 1) return std::numeric_limits<uint64_t>::max();
  int exp = 0;
  const double frac = std::frexp(ratio, &exp);  // ratio = frac * 2^exp, frac in [0.5, 1)
  const auto mant = static_cast<uint64_t>(std::ldexp(frac, 53));  // ratio = mant * 2^(exp-53)
  using u128 = unsigned __int128;
  u128 product = static_cast<u128>(std::numeric_limits<uint64_t>::max()) * mant;
  int shift = exp - 53;  // value = product * 2^shift
  int bits = 128;
  while (bits > 0 && !((product >> (bits - 1)) & 1)) --bits;
  if (bits > 64) {
    const int drop = bits - 64;
    const u128 rest = product & ((static_cast<u128>(1) << drop) - 1);
    const u128 half = static_cast<u128>(1) << (drop - 1);
    product >>= drop;
    if (rest > half || (rest == half && (product & 1))) ++product;
    shift += drop;
  }
  if (shift >= 0) return std::numeric_limits<uint64_t>::max();
  if (-shift >= 128) return 0;
  const u128 v = product >> -shift;
  return v > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                  : static_cast<uint64_t>(v);
}

// W3C tracestate, as Go's trace.ParseTraceState reads it: list members "key=value" separated
// by commas (optional spaces and tabs around them), at most 32, keys unique. False when
// malformed.
bool TraceStateValue(std::string_view ts, std::string_view key, std::string_view* out) {
  auto key_ok = [](std::string_view k) {
    // simple-key: lcalpha (lcalpha / DIGIT / "_" / "-"/ "*" / "/"){0,255}; multi-tenant:
    // tenant-id "@" system-id.
    auto part_ok = [](std::string_view p, size_t max, bool digit_first) {
      if (p.empty() || p.size() > max) return false;
      if (!(std::islower(static_cast<unsigned char>(p[0])) ||
            (digit_first && std::isdigit(static_cast<unsigned char>(p[0]))))) {
        return false;
      }
      return std::all_of(p.begin(), p.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '*' ||
               c == '/';
      });
    };
    size_t at = k.find('@');
    if (at == std::string_view::npos) return part_ok(k, 256, false);
    return part_ok(k.substr(0, at), 241, true) && part_ok(k.substr(at + 1), 14, false);
  };
  auto value_ok = [](std::string_view v) {
    if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
    return std::all_of(v.begin(), v.end(),
                       [](char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; });
  };
  std::set<std::string_view> keys;
  bool found = false;
  size_t members = 0;
  while (!ts.empty()) {
    size_t comma = ts.find(',');
    std::string_view m = ts.substr(0, comma);
    ts = comma == std::string_view::npos ? std::string_view() : ts.substr(comma + 1);
    if (m.empty()) continue;  // an empty member; one of blanks is malformed
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
    size_t eq = m.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view k = m.substr(0, eq), v = m.substr(eq + 1);
    if (!key_ok(k) || !value_ok(v) || !keys.insert(k).second || ++members > 32) return false;
    if (k == key) {
      *out = v;
      found = true;
    }
  }
  return found;
}

}  // namespace

std::string_view DecisionName(Decision d) {
  switch (d) {
    case Decision::kNotSampled:
      return "not_sampled";
    case Decision::kSampled:
      return "sampled";
    case Decision::kInvertNotSampled:
      return "inverted_not_sampled";
    case Decision::kInvertSampled:
      return "inverted_sampled";
    case Decision::kDropped:
      return "dropped";
  }
  return "not_sampled";
}

Status ParseTailSamplingPolicies(const YAML::Node& node, const std::string& path,
                                 std::vector<PolicyConfig>& out) {
  if (!node || node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) {
    return Status::InvalidArgument(fmt::format("config: \"{}\" must be a list", path));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    RETURN_IF_ERROR(
        ParsePolicy(node[i], fmt::format("{}[{}]", path, i), Nesting::kTop, out.emplace_back()));
  }
  return Status::Ok();
}

// One evaluator.
class Policy {
 public:
  explicit Policy(const PolicyConfig& c) : name_(c.name) {}
  virtual ~Policy() = default;
  const std::string& name() const { return name_; }
  virtual Decision Evaluate(const TraceFacts& t, int64_t now_ms) = 0;

 private:
  std::string name_;
};

namespace {

using PolicyPtr = std::unique_ptr<Policy>;
Result<PolicyPtr> MakePolicy(const PolicyConfig& c);

class AlwaysSample final : public Policy {
 public:
  using Policy::Policy;
  Decision Evaluate(const TraceFacts&, int64_t) override { return Decision::kSampled; }
};

// The trace's time window as it grows span by span (0 = not yet seen), tested after each.
class Latency final : public Policy {
 public:
  explicit Latency(const PolicyConfig& c)
      : Policy(c), lower_(c.threshold_ms), upper_(c.upper_threshold_ms) {}
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    int64_t start = 0, end = 0;
    for (const auto& s : t.trace.spans) {
      if (start == 0 || s.start_ns < start) start = s.start_ns;
      if (end == 0 || s.end_ns > end) end = s.end_ns;
      const int64_t ms = (end - start) / 1'000'000;
      if (upper_ == 0 ? ms >= lower_ : (lower_ < ms && ms <= upper_)) return Decision::kSampled;
    }
    return Decision::kNotSampled;
  }

 private:
  int64_t lower_, upper_;
};

class NumericAttribute final : public Policy {
 public:
  explicit NumericAttribute(const PolicyConfig& c)
      : Policy(c),
        key_(c.key),
        min_(c.min_value == 0 ? std::numeric_limits<int64_t>::min() : c.min_value),
        max_(c.max_value == 0 ? std::numeric_limits<int64_t>::max() : c.max_value),
        invert_(c.invert_match) {}
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    return AnyAttribute(t.trace, key_, invert_, [this](const Static& v) {
      const int64_t n = IntOf(v);
      return n >= min_ && n <= max_;
    });
  }

 private:
  std::string key_;
  int64_t min_, max_;
  bool invert_;
};

class Probabilistic final : public Policy {
 public:
  explicit Probabilistic(const PolicyConfig& c)
      : Policy(c),
        salt_(c.hash_salt.empty() ? kDefaultHashSalt : c.hash_salt),
        threshold_(Threshold(c.sampling_percentage / 100)) {}
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    const uint64_t h = Fnv1a64(Fnv1a64(0xcbf29ce484222325ull, salt_), t.trace.id);
    return h <= threshold_ ? Decision::kSampled : Decision::kNotSampled;
  }

 private:
  std::string salt_;
  uint64_t threshold_;
};

class StatusCode final : public Policy {
 public:
  explicit StatusCode(const PolicyConfig& c) : Policy(c) {
    for (const auto& s : c.status_codes) {
      codes_.push_back(s == "OK"      ? traceql::SpanStatus::kOk
                       : s == "ERROR" ? traceql::SpanStatus::kError
                                      : traceql::SpanStatus::kUnset);
    }
  }
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    for (const auto& s : t.trace.spans) {
      if (std::find(codes_.begin(), codes_.end(), s.status) != codes_.end()) {
        return Decision::kSampled;
      }
    }
    return Decision::kNotSampled;
  }

 private:
  std::vector<traceql::SpanStatus> codes_;
};

class StringAttribute final : public Policy {
 public:
  explicit StringAttribute(const PolicyConfig& c)
      : Policy(c), key_(c.key), invert_(c.invert_match), regex_(c.enabled_regex_matching) {
    for (const auto& v : c.values) {
      if (v.empty()) continue;
      if (regex_) {
        patterns_.push_back(std::make_unique<RE2>(v, RE2::Quiet));
      } else {
        values_.insert(v);
      }
    }
  }
  Status Check() const {
    for (const auto& p : patterns_) {
      if (!p->ok()) {
        return Status::InvalidArgument(
            fmt::format("policy \"{}\": invalid regular expression "
                        "\"{}\": {}",
                        name(), p->pattern(), p->error()));
      }
    }
    return Status::Ok();
  }
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    return AnyAttribute(
        t.trace, key_, invert_,
        [this](const Static& v) {
          std::string_view s = StrOf(v);
          if (!regex_) return values_.count(s) > 0;
          return std::any_of(patterns_.begin(), patterns_.end(),
                             [&](const auto& p) { return RE2::PartialMatch(s, *p); });
        },
        [](const Static& v) { return !StrOf(v).empty(); });
  }

 private:
  std::string key_;
  bool invert_, regex_;
  std::set<std::string, std::less<>> values_;
  std::vector<std::unique_ptr<RE2>> patterns_;
};

class BooleanAttribute final : public Policy {
 public:
  explicit BooleanAttribute(const PolicyConfig& c)
      : Policy(c), key_(c.key), value_(c.value), invert_(c.invert_match) {}
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    return AnyAttribute(t.trace, key_, invert_,
                        [this](const Static& v) { return BoolOf(v) == value_; });
  }

 private:
  std::string key_;
  bool value_, invert_;
};

class TraceState final : public Policy {
 public:
  explicit TraceState(const PolicyConfig& c) : Policy(c), key_(c.key) {
    for (const auto& v : c.values) {
      if (!v.empty() && c.key.size() + v.size() < 256) values_.insert(v);
    }
  }
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    for (const auto& s : t.trace.spans) {
      std::string_view v;
      if (TraceStateValue(s.trace_state, key_, &v) && values_.count(v)) {
        return Decision::kSampled;
      }
    }
    return Decision::kNotSampled;
  }

 private:
  std::string key_;
  std::set<std::string, std::less<>> values_;
};

class SpanCount final : public Policy {
 public:
  explicit SpanCount(const PolicyConfig& c) : Policy(c), min_(c.min_spans), max_(c.max_spans) {}
  Decision Evaluate(const TraceFacts& t, int64_t) override {
    const auto n = static_cast<int64_t>(t.trace.spans.size());
    return n >= min_ && (max_ == 0 || n <= max_) ? Decision::kSampled : Decision::kNotSampled;
  }

 private:
  int64_t min_, max_;
};

// rate_limiting (spans) and bytes_limiting (bytes): a token bucket refilled at `rate` per
// second up to `burst` (default twice the rate), starting full; a trace passes when its whole
// cost is there.
class Limiting final : public Policy {
 public:
  Limiting(const PolicyConfig& c, bool bytes)
      : Policy(c),
        bytes_(bytes),
        rate_(static_cast<double>(bytes ? c.bytes_per_second : c.spans_per_second)),
        burst_(c.burst_capacity > 0 ? static_cast<double>(c.burst_capacity) : 2 * rate_) {}
  Decision Evaluate(const TraceFacts& t, int64_t now_ms) override {
    const double cost =
        static_cast<double>(bytes_ ? t.bytes : static_cast<uint64_t>(t.trace.spans.size()));
    if (rate_ <= 0 || cost > burst_) return Decision::kNotSampled;
    const limits::TokenBucket::Clock::time_point now{std::chrono::milliseconds(now_ms)};
    return bucket_.Take(cost, rate_, burst_, now) == 0 ? Decision::kSampled : Decision::kNotSampled;
  }

 private:
  bool bytes_;
  double rate_, burst_;
  limits::TokenBucket bucket_;
};

// and / drop: every sub-policy must sample (inverted decisions count as their plain ones);
// then and samples, drop drops.
class All final : public Policy {
 public:
  All(const PolicyConfig& c, std::vector<std::unique_ptr<Policy>> subs)
      : Policy(c), drop_(c.type == PolicyType::kDrop), subs_(std::move(subs)) {}
  Decision Evaluate(const TraceFacts& t, int64_t now_ms) override {
    for (auto& s : subs_) {
      Decision d = s->Evaluate(t, now_ms);
      if (d == Decision::kNotSampled || d == Decision::kInvertNotSampled) {
        return Decision::kNotSampled;
      }
    }
    return drop_ ? Decision::kDropped : Decision::kSampled;
  }

 private:
  bool drop_;
  std::vector<std::unique_ptr<Policy>> subs_;
};

// composite: the first sub-policy that samples decides, within its share of
// max_total_spans_per_second (per wall-clock second); over its share the trace is not
// sampled. Sub-policies without a rate_allocation entry get no share, as in the processor.
class Composite final : public Policy {
 public:
  Composite(const PolicyConfig& c, std::vector<std::unique_ptr<Policy>> subs)
      : Policy(c), max_total_(c.max_total_spans_per_second), subs_(std::move(subs)) {
    const auto total = static_cast<double>(c.max_total_spans_per_second);
    for (const auto& s : subs_) {
      int64_t share = 0;
      for (const auto& [policy, percent] : c.rate_allocation) {
        if (policy != s->name()) continue;
        share = percent > 0 ? static_cast<int64_t>(percent / 100 * total)
                            : static_cast<int64_t>(total / static_cast<double>(subs_.size()));
      }
      allocated_.push_back(share);
    }
    used_.assign(subs_.size(), 0);
  }
  Decision Evaluate(const TraceFacts& t, int64_t now_ms) override {
    const int64_t second = now_ms / 1000;
    if (second != second_) {
      second_ = second;
      std::fill(used_.begin(), used_.end(), 0);
    }
    const auto spans = static_cast<int64_t>(t.trace.spans.size());
    for (size_t i = 0; i < subs_.size(); ++i) {
      Decision d = subs_[i]->Evaluate(t, now_ms);
      if (d != Decision::kSampled && d != Decision::kInvertSampled) continue;
      const int64_t n = used_[i] + spans;
      if (n > allocated_[i] || n > max_total_) return Decision::kNotSampled;
      used_[i] = n;
      return Decision::kSampled;
    }
    return Decision::kNotSampled;
  }

 private:
  int64_t max_total_;
  std::vector<std::unique_ptr<Policy>> subs_;
  std::vector<int64_t> allocated_, used_;
  int64_t second_ = -1;
};

Result<std::vector<std::unique_ptr<Policy>>> MakePolicies(const std::vector<PolicyConfig>& cs) {
  std::vector<std::unique_ptr<Policy>> out;
  for (const auto& c : cs) {
    ASSIGN_OR_RETURN(auto p, MakePolicy(c));
    out.push_back(std::move(p));
  }
  return out;
}

Result<PolicyPtr> MakePolicy(const PolicyConfig& c) {
  switch (c.type) {
    case PolicyType::kAlwaysSample:
      return PolicyPtr(std::make_unique<AlwaysSample>(c));
    case PolicyType::kLatency:
      return PolicyPtr(std::make_unique<Latency>(c));
    case PolicyType::kNumericAttribute:
      return PolicyPtr(std::make_unique<NumericAttribute>(c));
    case PolicyType::kProbabilistic:
      return PolicyPtr(std::make_unique<Probabilistic>(c));
    case PolicyType::kStatusCode:
      return PolicyPtr(std::make_unique<StatusCode>(c));
    case PolicyType::kStringAttribute: {
      auto p = std::make_unique<StringAttribute>(c);
      RETURN_IF_ERROR(p->Check());
      return PolicyPtr(std::move(p));
    }
    case PolicyType::kRateLimiting:
      return PolicyPtr(std::make_unique<Limiting>(c, false));
    case PolicyType::kBytesLimiting:
      return PolicyPtr(std::make_unique<Limiting>(c, true));
    case PolicyType::kSpanCount:
      return PolicyPtr(std::make_unique<SpanCount>(c));
    case PolicyType::kBooleanAttribute:
      return PolicyPtr(std::make_unique<BooleanAttribute>(c));
    case PolicyType::kTraceState:
      return PolicyPtr(std::make_unique<TraceState>(c));
    case PolicyType::kAnd:
    case PolicyType::kDrop: {
      ASSIGN_OR_RETURN(auto subs, MakePolicies(c.sub_policies));
      return PolicyPtr(std::make_unique<All>(c, std::move(subs)));
    }
    case PolicyType::kComposite: {
      ASSIGN_OR_RETURN(auto subs, MakePolicies(c.sub_policies));
      return PolicyPtr(std::make_unique<Composite>(c, std::move(subs)));
    }
  }
  return Status::InvalidArgument("unknown policy type");
}

}  // namespace

PolicySet::PolicySet() = default;
PolicySet::~PolicySet() = default;
PolicySet::PolicySet(PolicySet&&) noexcept = default;
PolicySet& PolicySet::operator=(PolicySet&&) noexcept = default;

Result<PolicySet> PolicySet::Build(const std::vector<PolicyConfig>& configs,
                                   bool sample_on_first_match) {
  PolicySet set;
  set.first_match_ = sample_on_first_match;
  std::set<std::string> names;
  // Drop policies are evaluated first, as the processor orders them.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& c : configs) {
      if ((c.type == PolicyType::kDrop) != (pass == 0)) continue;
      if (!names.insert(c.name).second) {
        return Status::InvalidArgument(
            fmt::format("config: tail_sampling: duplicate policy name \"{}\"", c.name));
      }
      auto p = MakePolicy(c);
      if (!p.ok()) {
        return Status::InvalidArgument(
            fmt::format("config: tail_sampling: policy \"{}\": {}", c.name, p.status().message()));
      }
      set.policies_.push_back(std::move(*p));
    }
  }
  return set;
}

bool PolicySet::Decide(const TraceFacts& t, int64_t now_ms, std::vector<Outcome>* out) {
  bool dropped = false, invert_not = false, sampled = false, invert_sampled = false,
       not_sampled = false;
  for (auto& p : policies_) {
    Decision d = p->Evaluate(t, now_ms);
    if (out) out->push_back({p->name(), d});
    switch (d) {
      case Decision::kDropped:
        dropped = true;
        break;
      case Decision::kInvertNotSampled:
        invert_not = true;
        break;
      case Decision::kSampled:
        sampled = true;
        break;
      case Decision::kInvertSampled:
        invert_sampled = true;
        break;
      case Decision::kNotSampled:
        not_sampled = true;
        break;
    }
    if (dropped || (sampled && first_match_)) break;
  }
  if (dropped || invert_not) return false;
  return sampled || (invert_sampled && !not_sampled);
}

}  // namespace strata::agent
