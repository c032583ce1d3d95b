#pragma once

// What a trace must hold for a query to match it, as far as its spans' name, kind, status,
// duration and span and resource attributes tell: a necessary test, never a sufficient one.
// A store evaluates it on what it keeps (trace blocks' columns) to skip the traces it rules
// out before rebuilding them; the traces it keeps are then evaluated in full.

#include <cstddef>
#include <vector>

#include "traceql/ast.h"

namespace strata::traceql {

// `attr op value` (or `value op attr`) on one span; `op` a comparison, a regex match, or
// kExists (`attr != nil`, no value).
struct SpanCondition {
  Attribute attr;
  Op op = Op::kNone;
  Static value;
  bool value_on_left = false;
};

// What one span must meet: conditions combined with && and ||; kAny holds for every span.
struct SpanTest {
  enum class Kind : uint8_t { kAny, kCondition, kAnd, kOr };
  static constexpr Kind kTrue = Kind::kAny;  // the kind that always holds
  Kind kind = Kind::kAny;
  size_t condition = 0;  // kCondition: an index into Prefilter::conditions
  std::vector<SpanTest> children;
};

// What the trace must hold: kSome, a span meeting span test `test`; kAnd and kOr of those;
// kAll holds for every trace.
struct TraceTest {
  enum class Kind : uint8_t { kAll, kSome, kAnd, kOr };
  static constexpr Kind kTrue = Kind::kAll;  // the kind that always holds
  Kind kind = Kind::kAll;
  size_t test = 0;  // kSome: an index into Prefilter::span_tests
  std::vector<TraceTest> children;
};

struct Prefilter {
  std::vector<SpanCondition> conditions;
  std::vector<SpanTest> span_tests;
  TraceTest trace;
  // Whether the test is the query's own: a trace passes exactly when the query matches it,
  // and for a query of one filter, a span meets span_tests[0] exactly when the filter keeps
  // it (nothing was left out as undecidable).
  bool exact = true;
};

// The test of a search query's pipeline (every trace it matches passes it).
Prefilter PrefilterOf(const Pipeline& p);
// The test of a metrics query: the traces whose spans it counts pass it.
Prefilter PrefilterOf(const MetricsExpr& m);

// Whether a condition can be decided from the facts a Prefilter reads: name, kind, status,
// status message, duration, unscoped, span and resource attributes (not parent's).
bool Prefilterable(const Attribute& a);

}  // namespace strata::traceql
