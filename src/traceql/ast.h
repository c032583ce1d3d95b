#pragma once

// The syntax tree of a TraceQL query (Tempo 2.x), with Tempo's types, its canonical String()
// form and its validation. Nodes own their children.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::traceql {

// The type of a value, or of what an expression yields (kAttribute: known only per span).
enum class StaticType : uint8_t {
  kNil,
  kSpanset,
  kAttribute,
  kInt,
  kFloat,
  kString,
  kBoolean,
  kDuration,
  kStatus,
  kKind,
};
inline bool IsNumeric(StaticType t) {
  return t == StaticType::kInt || t == StaticType::kFloat || t == StaticType::kDuration;
}

// TraceQL's span statuses and kinds, in Tempo's order.
enum class SpanStatus : uint8_t { kError, kOk, kUnset };
enum class SpanKind : uint8_t { kUnspecified, kInternal, kClient, kServer, kProducer, kConsumer };

// A literal: nil, an int, a float, a string, a bool, a duration, a status or a kind.
struct Static {
  StaticType type = StaticType::kNil;
  int64_t i = 0;  // kInt; kDuration in nanoseconds; kBoolean 0/1; kStatus, kKind as enums
  double f = 0;   // kFloat
  std::string s;  // kString

  static Static Nil() { return {}; }
  static Static Int(int64_t v) { return {StaticType::kInt, v, 0, {}}; }
  static Static Float(double v) { return {StaticType::kFloat, 0, v, {}}; }
  static Static Str(std::string v) { return {StaticType::kString, 0, 0, std::move(v)}; }
  static Static Bool(bool v) { return {StaticType::kBoolean, v ? 1 : 0, 0, {}}; }
  static Static Duration(int64_t ns) { return {StaticType::kDuration, ns, 0, {}}; }
  static Static Status(SpanStatus v) {
    return {StaticType::kStatus, static_cast<int64_t>(v), 0, {}};
  }
  static Static Kind(SpanKind v) { return {StaticType::kKind, static_cast<int64_t>(v), 0, {}}; }

  // A number's value as a float (durations in nanoseconds).
  double AsFloat() const { return type == StaticType::kFloat ? f : static_cast<double>(i); }
  bool operator==(const Static& o) const = default;
  // As Tempo prints it: strings in backquotes, durations as Go prints them, floats with a
  // point or an exponent.
  std::string String() const;
};

enum class Op : uint8_t {
  kNone,
  kAdd,
  kSub,
  kDiv,
  kMod,
  kMult,
  kEq,
  kNeq,
  kRegex,
  kNotRegex,
  kGt,
  kGte,
  kLt,
  kLte,
  kPow,
  kAnd,
  kOr,
  kNot,
  kExists,     // `x != nil`
  kNotExists,  // `x = nil`
  // Between spansets.
  kSpansetChild,
  kSpansetParent,
  kSpansetDescendant,
  kSpansetAncestor,
  kSpansetAnd,
  kSpansetUnion,
  kSpansetSibling,
  kSpansetNotChild,
  kSpansetNotParent,
  kSpansetNotSibling,
  kSpansetNotAncestor,
  kSpansetNotDescendant,
  kSpansetUnionChild,
  kSpansetUnionParent,
  kSpansetUnionSibling,
  kSpansetUnionAncestor,
  kSpansetUnionDescendant,
};
std::string_view OpString(Op op);
// Whether `op` yields a boolean (comparisons, regex matches, &&, ||, !, nil checks).
bool IsBooleanOp(Op op);
// Whether `op` compares two values (= != < <= > >= =~ !~).
bool IsComparison(Op op);

enum class Scope : uint8_t { kNone, kResource, kSpan, kEvent, kLink, kInstrumentation };
// `span`, `resource`, ... as queries and Tempo's tag lookups name scopes.
std::string_view ScopeName(Scope s);

enum class Intrinsic : uint8_t {
  kNone,
  kDuration,
  kName,
  kStatus,
  kStatusMessage,
  kKind,
  kChildCount,
  kTraceRootService,
  kTraceRootSpan,
  kTraceDuration,
  kNestedSetLeft,
  kNestedSetRight,
  kNestedSetParent,
  kEventName,
  kEventTimeSinceStart,
  kLinkSpanId,
  kLinkTraceId,
  kInstrumentationName,
  kInstrumentationVersion,
  kParent,
  kTraceId,
  kSpanId,
  kParentId,
};

// An attribute (`.a`, `span.a`, `resource.a`, `parent.span.a`, ...) or an intrinsic
// (`duration`, `span:id`, ...).
struct Attribute {
  std::string name;
  Scope scope = Scope::kNone;
  bool parent = false;
  Intrinsic intrinsic = Intrinsic::kNone;

  static Attribute Of(Intrinsic i);
  // What it yields: an intrinsic's type, kAttribute for attributes.
  StaticType Type() const;
  bool operator==(const Attribute& o) const = default;
  // `span.http.method`, `.a`, `duration`, `span:id`, `."a b"` (names with characters that
  // end an attribute are quoted).
  std::string String() const;
};

// An expression over one span, inside `{ }` and in aggregates and by().
struct FieldExpr {
  enum class Kind : uint8_t { kStatic, kAttribute, kBinary, kUnary };
  Kind kind = Kind::kStatic;
  Op op = Op::kNone;                    // kBinary, kUnary
  Static value;                         // kStatic
  Attribute attr;                       // kAttribute
  std::unique_ptr<FieldExpr> lhs, rhs;  // kBinary; kUnary's operand is lhs

  StaticType Type() const;
  // Whether it reads the span (any attribute or intrinsic in it).
  bool ReferencesSpan() const;
  std::string String() const;
};
using FieldPtr = std::unique_ptr<FieldExpr>;

struct Pipeline;

// `{ ... }`, spansets combined (`&&`, `||`, structural), or a parenthesized pipeline.
struct SpansetExpr {
  enum class Kind : uint8_t { kFilter, kOp, kPipeline };
  Kind kind = Kind::kFilter;
  FieldPtr filter;  // kFilter
  Op op = Op::kNone;
  std::unique_ptr<SpansetExpr> lhs, rhs;  // kOp
  std::unique_ptr<Pipeline> pipeline;     // kPipeline
  std::string String() const;
};

enum class AggregateOp : uint8_t { kCount, kMax, kMin, kAvg, kSum };

// What a scalar filter compares: aggregates (`count()`, `avg(duration)`), arithmetic over
// them, literals, or a parenthesized pipeline ending in an aggregate.
struct ScalarExpr {
  enum class Kind : uint8_t { kAggregate, kOp, kStatic, kPipeline };
  Kind kind = Kind::kAggregate;
  AggregateOp agg = AggregateOp::kCount;
  FieldPtr agg_expr;  // kAggregate; null for count()
  Op op = Op::kNone;
  std::unique_ptr<ScalarExpr> lhs, rhs;  // kOp
  Static value;                          // kStatic
  std::unique_ptr<Pipeline> pipeline;    // kPipeline
  StaticType Type() const;
  std::string String() const;
};

struct ScalarFilter {
  Op op = Op::kNone;
  std::unique_ptr<ScalarExpr> lhs, rhs;
  std::string String() const;
};

// One stage of a pipeline.
struct Element {
  enum class Kind : uint8_t { kSpanset, kScalarFilter, kGroup, kCoalesce, kSelect, kAggregate };
  Kind kind = Kind::kSpanset;
  std::unique_ptr<SpansetExpr> spanset;   // kSpanset
  ScalarFilter scalar_filter;             // kScalarFilter
  FieldPtr group;                         // kGroup: by(expr)
  std::vector<Attribute> select;          // kSelect
  std::unique_ptr<ScalarExpr> aggregate;  // kAggregate: the last stage of a scalar pipeline
  std::string String() const;
};

struct Pipeline {
  std::vector<Element> elements;
  std::string String() const;
};

enum class MetricsOp : uint8_t {
  kRate,
  kCountOverTime,
  kMinOverTime,
  kMaxOverTime,
  kAvgOverTime,
  kSumOverTime,
  kQuantileOverTime,
  kHistogramOverTime,
  kCompare,
};

// `rate`, `count_over_time`, ... as queries name them.
std::string_view MetricsName(MetricsOp op);

// The first stage of a metrics query: `rate() by (x)`, `quantile_over_time(duration, .9)`,
// `compare({status=error}, 10)`.
struct MetricsAggregate {
  MetricsOp op = MetricsOp::kRate;
  std::optional<Attribute> attr;  // the *_over_time argument
  std::vector<Attribute> by;
  std::vector<double> quantiles;  // quantile_over_time
  FieldPtr compare;               // compare's filter
  int64_t compare_top = 10, compare_start = 0, compare_end = 0;
  std::string String() const;
};

// What follows the first stage: topk/bottomk, a filter on values (`> 10`), or arithmetic
// with a number (`* 100`, `1 - ...`).
struct SecondStage {
  enum class Kind : uint8_t { kTopK, kBottomK, kFilter, kScalarOp };
  Kind kind = Kind::kTopK;
  int64_t limit = 0;            // kTopK, kBottomK
  Op op = Op::kNone;            // kFilter: a comparison; kScalarOp: + - * /
  double value = 0;             // kFilter (durations in seconds), kScalarOp
  bool scalar_on_left = false;  // kScalarOp: `value op series`
  std::string String() const;
};

// A metrics query: a pipeline and its first stage, or arithmetic between two of them; each
// followed by second stages.
struct MetricsExpr {
  enum class Kind : uint8_t { kQuery, kMath };
  Kind kind = Kind::kQuery;
  Pipeline pipeline;                      // kQuery
  MetricsAggregate first;                 // kQuery
  Op op = Op::kNone;                      // kMath: + - * /
  std::unique_ptr<MetricsExpr> lhs, rhs;  // kMath
  std::vector<SecondStage> stages;
  std::string String() const;
};

struct Hint {
  std::string name;
  Static value;
};

// A parsed query: a search (a pipeline) or a metrics query, and its `with(...)` hints.
struct RootExpr {
  Pipeline pipeline;                     // when metrics is null
  std::unique_ptr<MetricsExpr> metrics;  // a metrics query
  std::vector<Hint> hints;
  std::string String() const;
};

// Checks a parsed query as Tempo's validation does: types of operands, aggregates and filters
// that reference the span, valid regexes, topk/bottomk limits. InvalidArgument with Tempo's
// words, or Unsupported ("... not yet supported") for what Tempo parses but does not run.
Status Validate(const RootExpr& root);

// Checks one field expression (its operand types, regexes, nil checks) as Validate does.
Status ValidateField(const FieldExpr& e);

// Evaluates a binary operation over two literals as Tempo does (int arithmetic between ints,
// float otherwise; comparisons; && ||; regex matches). Errors: division or modulo by zero,
// an invalid regex.
Result<Static> EvalBinary(Op op, const Static& lhs, const Static& rhs);
// `-x`, `!x`.
Result<Static> EvalUnary(Op op, const Static& x);
// Whether two operand types may meet in a binary operation, and whether `op` takes them.
bool OperandsMatch(StaticType a, StaticType b);
bool OpTakes(Op op, StaticType a, StaticType b);

}  // namespace strata::traceql
