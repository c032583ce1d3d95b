#pragma once

// The syntax tree of a LogQL query (Loki 3.x). Nodes own their children and are immutable
// after parsing. String() is Loki's canonical form and Pretty() its format_query form, so
// that Grafana gets back what Loki would give it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/matcher.h"

namespace strata::logql {

// --- Log pipelines ------------------------------------------------------------------------

enum class LineMatch : uint8_t {
  kContains,
  kNotContains,
  kRegex,
  kNotRegex,
  kPattern,
  kNotPattern
};
inline bool IsNegative(LineMatch m) {
  return m == LineMatch::kNotContains || m == LineMatch::kNotRegex || m == LineMatch::kNotPattern;
}

struct LineFilterArg {
  std::string value;
  bool ip = false;  // ip("...")
};

// `|= "a"`, or an or-chain `|= "a" or "b"`: the line must match any of the arguments. The
// parser rewrites a negative chain (`!= "a" or "b"`) into separate filters, as Loki does.
struct LineFilter {
  LineMatch match = LineMatch::kContains;
  std::vector<LineFilterArg> any;
};

enum class Cmp : uint8_t { kEq, kNeq, kGt, kGte, kLt, kLte };

struct LabelFilter {
  enum class Kind : uint8_t { kAnd, kOr, kString, kNumber, kDuration, kBytes, kIp };
  Kind kind = Kind::kString;
  std::unique_ptr<LabelFilter> lhs, rhs;  // kAnd, kOr
  std::optional<Matcher> matcher;         // kString
  std::string name;                       // the others
  Cmp cmp = Cmp::kEq;
  double number = 0;
  int64_t duration_ns = 0;
  uint64_t bytes = 0;
  std::string ip;  // kIp: an address, range or CIDR; cmp is kEq or kNeq
  std::string String() const;
};

struct Extraction {
  std::string label;
  std::string expr;
};

struct LabelFmt {
  std::string dst;
  std::string value;  // a template, or the source label when `rename`
  bool rename = false;
};

// An entry of `drop`/`keep`: a label name, or a matcher on a label.
struct NamedMatcher {
  std::string name;
  std::optional<Matcher> matcher;
};

enum class StageKind : uint8_t {
  kLineFilter,
  kLogfmt,
  kJson,
  kRegexp,
  kPattern,
  kUnpack,
  kLabelFilter,
  kLineFormat,
  kLabelFormat,
  kDecolorize,
  kDrop,
  kKeep,
};

struct Stage {
  StageKind kind = StageKind::kLineFilter;
  std::vector<LineFilter> filters;      // kLineFilter: all of them hold
  bool strict = false;                  // kLogfmt
  bool keep_empty = false;              // kLogfmt
  std::vector<Extraction> extractions;  // kJson, kLogfmt: only these labels
  std::string param;                    // kRegexp, kPattern, kLineFormat
  std::unique_ptr<LabelFilter> label_filter;
  std::vector<LabelFmt> label_fmts;
  std::vector<NamedMatcher> named;  // kDrop, kKeep
  std::string String() const;
  std::string Pretty(int level) const;
};

struct LogSelector {
  std::vector<Matcher> matchers;
  std::vector<Stage> stages;
  std::string String() const;
  std::string Pretty(int level) const;
};

// --- Expressions --------------------------------------------------------------------------

enum class ExprKind : uint8_t {
  kLog,        // a log query: selector and pipeline
  kRangeAgg,   // count_over_time(... [5m]) and friends
  kVectorAgg,  // sum by (x) (...)
  kBinary,
  kLiteral,
  kVector,  // vector(1)
  kLabelReplace,
};

struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  bool IsMetric() const { return kind != ExprKind::kLog; }
  std::string String() const;
  std::string Pretty(int level = 0) const;

  const ExprKind kind;
};
using ExprPtr = std::unique_ptr<Expr>;

struct LogExpr : Expr {
  LogExpr() : Expr(ExprKind::kLog) {}
  LogSelector selector;
};

enum class RangeOp : uint8_t {
  kCount,
  kRate,
  kRateCounter,
  kBytes,
  kBytesRate,
  kAvg,
  kSum,
  kMin,
  kMax,
  kStdvar,
  kStddev,
  kQuantile,
  kFirst,
  kLast,
  kAbsent,
};
std::string_view RangeOpName(RangeOp op);

enum class Conv : uint8_t { kNone, kBytes, kDuration, kDurationSeconds };

struct Unwrap {
  std::string label;
  Conv conv = Conv::kNone;
  std::vector<std::unique_ptr<LabelFilter>> post_filters;
};

struct Grouping {
  bool without = false;
  std::vector<std::string> labels;
  // `by ()` and no grouping print alike; `without ()` does not.
  bool Singleton() const { return !without && labels.empty(); }
};

struct RangeAggregation : Expr {
  RangeAggregation() : Expr(ExprKind::kRangeAgg) {}
  RangeOp op = RangeOp::kCount;
  LogSelector selector;
  int64_t range_ns = 0;
  int64_t offset_ns = 0;
  std::optional<Unwrap> unwrap;
  std::optional<double> param;       // quantile_over_time
  std::optional<Grouping> grouping;  // only for the unwrapped min/max/avg/... ops
};

enum class VectorOp : uint8_t {
  kSum,
  kAvg,
  kCount,
  kMax,
  kMin,
  kStddev,
  kStdvar,
  kBottomk,
  kTopk,
  kSort,
  kSortDesc,
  kApproxTopk,
};
std::string_view VectorOpName(VectorOp op);

struct VectorAggregation : Expr {
  VectorAggregation() : Expr(ExprKind::kVectorAgg) {}
  VectorOp op = VectorOp::kSum;
  ExprPtr expr;
  int64_t param = 0;  // topk, bottomk, approx_topk
  Grouping grouping;
};

enum class BinOp : uint8_t {
  kOr,
  kAnd,
  kUnless,
  kEq,
  kNeq,
  kLt,
  kLte,
  kGt,
  kGte,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
};
std::string_view BinOpName(BinOp op);
inline bool IsSetOp(BinOp op) { return op <= BinOp::kUnless; }
inline bool IsComparison(BinOp op) { return op >= BinOp::kEq && op <= BinOp::kGte; }

enum class Card : uint8_t { kOneToOne, kManyToOne, kOneToMany };

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::kBinary) {}
  BinOp op = BinOp::kAdd;
  ExprPtr lhs, rhs;
  bool return_bool = false;
  Card card = Card::kOneToOne;
  bool on = false;                    // on(...) rather than ignoring(...)
  std::vector<std::string> matching;  // the on(...)/ignoring(...) labels
  std::vector<std::string> include;   // group_left(...)/group_right(...)
};

struct LiteralExpr : Expr {
  LiteralExpr() : Expr(ExprKind::kLiteral) {}
  double value = 0;
};

struct VectorExpr : Expr {
  VectorExpr() : Expr(ExprKind::kVector) {}
  double value = 0;
};

struct LabelReplaceExpr : Expr {
  LabelReplaceExpr() : Expr(ExprKind::kLabelReplace) {}
  ExprPtr expr;
  std::string dst, replacement, src, regex;
};

template <typename T>
const T& As(const Expr& e) {
  return static_cast<const T&>(e);
}

// How far before and after a metric query's evaluation time its range aggregations read, in
// nanoseconds: the largest range + offset, and the largest negative offset (0 for log
// queries).
struct DataMargins {
  int64_t before = 0;
  int64_t after = 0;
};
DataMargins MarginsOf(const Expr& e);

}  // namespace strata::logql
