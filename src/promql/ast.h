#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/matcher.h"

namespace strata::promql {

// The type an expression evaluates to.
enum class ValueType { kScalar, kVector, kMatrix, kString };
std::string_view ValueTypeName(ValueType t);  // "scalar", "instant vector", ...

// Byte offsets [start, end) of an expression in the query text.
struct PosRange {
  int start = 0;
  int end = 0;
};

enum class ExprKind {
  kNumber,
  kString,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kCall,
  kAggregate,
  kBinary,
  kUnary,
  kParen,
};

// Base of all AST nodes. The tree owns its children; nodes are immutable after parsing and
// may be shared by concurrent evaluations.
struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  ValueType Type() const;
  // The canonical one-line form, as Prometheus prints it.
  std::string String() const;
  // Prometheus's prettified form (format_query): parts longer than 100 characters are split
  // over lines, indented two spaces per level.
  std::string Pretty(int level = 0) const;

  const ExprKind kind;
  PosRange pos;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(ExprKind::kNumber) {}
  double val = 0;
  bool duration = false;  // written as a duration ("5m" = 300): printed back as one
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(ExprKind::kString) {}
  std::string val;
};

// The `@` modifier: a fixed time, or the query's start or end.
struct AtModifier {
  enum class Kind { kNone, kTimestamp, kStart, kEnd };
  Kind kind = Kind::kNone;
  int64_t ts_ms = 0;
  bool present() const { return kind != Kind::kNone; }
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(ExprKind::kVectorSelector) {}
  std::string name;               // metric name written before the braces, if any
  std::vector<Matcher> matchers;  // includes __name__="name" when a name was written
  int64_t offset_ms = 0;
  AtModifier at;
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(ExprKind::kMatrixSelector) {}
  std::unique_ptr<VectorSelector> vs;  // carries offset and @
  int64_t range_ms = 0;
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(ExprKind::kSubquery) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  int64_t step_ms = 0;  // 0: the query's step (or the default resolution for instant queries)
  int64_t offset_ms = 0;
  AtModifier at;
};

struct FunctionDef;

struct Call : Expr {
  Call() : Expr(ExprKind::kCall) {}
  const FunctionDef* func = nullptr;
  std::vector<ExprPtr> args;
};

enum class AggOp {
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kCountValues,
  kQuantile,
  kLimitk,
  kLimitRatio,
};
std::string_view AggOpName(AggOp op);

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(ExprKind::kAggregate) {}
  AggOp op = AggOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // topk/bottomk/limitk/limit_ratio/quantile/count_values
  std::vector<std::string> grouping;
  bool without = false;
  bool grouping_written = false;  // `by ()` is printed, plain `sum(x)` is not
};

enum class BinOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,
  kNeq,
  kGtr,
  kLss,
  kGte,
  kLte,
  kAnd,
  kOr,
  kUnless,
};
std::string_view BinOpName(BinOp op);
inline bool IsComparison(BinOp op) { return op >= BinOp::kEql && op <= BinOp::kLte; }
inline bool IsSetOperator(BinOp op) { return op >= BinOp::kAnd; }

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> labels;  // on(...) or ignoring(...) labels
  bool on = false;
  std::vector<std::string> include;  // group_left/group_right extra labels
  bool written = false;              // on/ignoring appeared in the query
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::kBinary) {}
  BinOp op = BinOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;
  std::optional<VectorMatching> matching;  // present when both sides are vectors
};

// Unary minus (the parser drops unary plus).
struct UnaryExpr : Expr {
  UnaryExpr() : Expr(ExprKind::kUnary) {}
  ExprPtr expr;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(ExprKind::kParen) {}
  ExprPtr expr;
};

// Checked downcast helpers.
template <typename T>
const T& As(const Expr& e) {
  return static_cast<const T&>(e);
}

// Appends the nodes of `e` to `out` in pre-order (children in their order): two parses of the
// same normalized query give the same sequence, so a node's index names it across spellings.
void PreOrder(const Expr& e, std::vector<const Expr*>& out);

}  // namespace strata::promql
