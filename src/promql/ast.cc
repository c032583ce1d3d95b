#include "promql/ast.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "base/labels.h"
#include "base/units.h"
#include "promql/functions.h"

namespace strata::promql {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "";
}

std::string_view AggOpName(AggOp op) {
  static constexpr std::string_view kNames[] = {
      "sum",    "avg",  "count",   "min",          "max",      "group",  "stddev",
      "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"};
  return kNames[static_cast<int>(op)];
}

std::string_view BinOpName(BinOp op) {
  static constexpr std::string_view kNames[] = {"+",     "-",   "*",  "/",     "%", "^",
                                                "atan2", "==",  "!=", ">",     "<", ">=",
                                                "<=",    "and", "or", "unless"};
  return kNames[static_cast<int>(op)];
}

ValueType Expr::Type() const {
  switch (kind) {
    case ExprKind::kNumber:
      return ValueType::kScalar;
    case ExprKind::kString:
      return ValueType::kString;
    case ExprKind::kVectorSelector:
      return ValueType::kVector;
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return ValueType::kMatrix;
    case ExprKind::kCall:
      return As<Call>(*this).func->return_type;
    case ExprKind::kAggregate:
      return ValueType::kVector;
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(*this);
      return b.lhs->Type() == ValueType::kScalar && b.rhs->Type() == ValueType::kScalar
                 ? ValueType::kScalar
                 : ValueType::kVector;
    }
    case ExprKind::kUnary:
      return As<UnaryExpr>(*this).expr->Type();
    case ExprKind::kParen:
      return As<ParenExpr>(*this).expr->Type();
  }
  return ValueType::kScalar;
}

namespace {

std::string LabelNameString(std::string_view n) {
  return IsValidLegacyLabelName(n) ? std::string(n) : GoQuote(n);
}

std::string JoinLabels(const std::vector<std::string>& ls) {
  std::string out;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i > 0) out += ", ";
    out += LabelNameString(ls[i]);
  }
  return out;
}

std::string AtOffsetString(const AtModifier& at, int64_t offset_ms) {
  std::string out;
  switch (at.kind) {
    case AtModifier::Kind::kTimestamp:
      out += fmt::format(" @ {:.3f}", static_cast<double>(at.ts_ms) / 1000.0);
      break;
    case AtModifier::Kind::kStart:
      out += " @ start()";
      break;
    case AtModifier::Kind::kEnd:
      out += " @ end()";
      break;
    case AtModifier::Kind::kNone:
      break;
  }
  if (offset_ms > 0) out += " offset " + FormatDurationMillis(offset_ms);
  if (offset_ms < 0) out += " offset -" + FormatDurationMillis(-offset_ms);
  return out;
}

// Names that read as keywords or numbers ("a + bool", "inf") are printed as matchers.
bool IsKeywordName(std::string_view name) {
  static constexpr std::string_view kKeywords[] = {
      "and",      "or",         "unless",      "atan2",  "bool",  "by",  "without", "on",
      "ignoring", "group_left", "group_right", "offset", "start", "end", "inf",     "nan"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kKeywords), std::end(kKeywords), lower) != std::end(kKeywords);
}

std::string SelectorString(const VectorSelector& vs) {
  std::string out;
  std::vector<std::string> parts;
  if (!vs.name.empty() && IsKeywordName(vs.name)) {
    parts.push_back("__name__=" + GoQuote(vs.name));
  }
  bool name_in_braces = !vs.name.empty() && !IsValidLegacyMetricName(vs.name);
  if (!vs.name.empty() && !name_in_braces && parts.empty()) out = vs.name;
  if (name_in_braces) parts.push_back(GoQuote(vs.name));
  for (const auto& m : vs.matchers) {
    if (!vs.name.empty() && m.name() == kMetricNameLabel && m.type() == Matcher::Type::kEqual &&
        m.value() == vs.name) {
      continue;
    }
    parts.push_back(m.ToString());
  }
  if (!parts.empty()) {
    out += "{";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += ",";
      out += parts[i];
    }
    out += "}";
  }
  return out;
}

// The operator with its bool, on/ignoring and group_x modifiers: "/ on (a) group_left (b)".
std::string OperatorString(const BinaryExpr& b) {
  std::string out(BinOpName(b.op));
  if (b.return_bool) out += " bool";
  if (b.matching && (!b.matching->labels.empty() || b.matching->on)) {
    out += b.matching->on ? " on (" : " ignoring (";
    out += JoinLabels(b.matching->labels) + ")";
    if (b.matching->card == Cardinality::kManyToOne ||
        b.matching->card == Cardinality::kOneToMany) {
      out += b.matching->card == Cardinality::kManyToOne ? " group_left (" : " group_right (";
      out += JoinLabels(b.matching->include) + ")";
    }
  }
  return out;
}

// "sum", "sum by (a) ", "sum without (a) ".
std::string AggregatePrefix(const AggregateExpr& a) {
  std::string out(AggOpName(a.op));
  if (a.without) {
    out += " without (" + JoinLabels(a.grouping) + ") ";
  } else if (!a.grouping.empty()) {
    out += " by (" + JoinLabels(a.grouping) + ") ";
  }
  return out;
}

std::string SubqueryRangeString(const SubqueryExpr& s) {
  return "[" + FormatDurationMillis(s.range_ms) + ":" +
         (s.step_ms != 0 ? FormatDurationMillis(s.step_ms) : "") + "]" +
         AtOffsetString(s.at, s.offset_ms);
}

}  // namespace

std::string Expr::String() const {
  switch (kind) {
    case ExprKind::kNumber: {
      const auto& n = As<NumberLiteral>(*this);
      if (n.duration) {
        auto ms = static_cast<int64_t>(std::llround(n.val * 1000));
        return ms < 0 ? "-" + FormatDurationMillis(-ms) : FormatDurationMillis(ms);
      }
      return FormatFloatF(n.val);
    }
    case ExprKind::kString:
      return GoQuote(As<StringLiteral>(*this).val);
    case ExprKind::kVectorSelector: {
      const auto& vs = As<VectorSelector>(*this);
      return SelectorString(vs) + AtOffsetString(vs.at, vs.offset_ms);
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = As<MatrixSelector>(*this);
      return SelectorString(*m.vs) + "[" + FormatDurationMillis(m.range_ms) + "]" +
             AtOffsetString(m.vs->at, m.vs->offset_ms);
    }
    case ExprKind::kSubquery: {
      const auto& s = As<SubqueryExpr>(*this);
      return s.expr->String() + SubqueryRangeString(s);
    }
    case ExprKind::kCall: {
      const auto& c = As<Call>(*this);
      std::string out = std::string(c.func->name) + "(";
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) out += ", ";
        out += c.args[i]->String();
      }
      return out + ")";
    }
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(*this);
      std::string out = AggregatePrefix(a) + "(";
      if (a.param) out += a.param->String() + ", ";
      return out + a.expr->String() + ")";
    }
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(*this);
      return b.lhs->String() + " " + OperatorString(b) + " " + b.rhs->String();
    }
    case ExprKind::kUnary: {
      const auto& u = As<UnaryExpr>(*this);
      return "-" + u.expr->String();
    }
    case ExprKind::kParen:
      return "(" + As<ParenExpr>(*this).expr->String() + ")";
  }
  return "";
}

std::string Expr::Pretty(int level) const {
  constexpr size_t kMaxLine = 100;
  std::string indent(static_cast<size_t>(level) * 2, ' ');
  std::string flat = String();
  switch (kind) {
    case ExprKind::kAggregate: {
      if (flat.size() <= kMaxLine) return indent + flat;
      const auto& a = As<AggregateExpr>(*this);
      std::string out = indent + AggregatePrefix(a) + "(\n";
      if (a.param) out += a.param->Pretty(level + 1) + ",\n";
      return out + a.expr->Pretty(level + 1) + "\n" + indent + ")";
    }
    case ExprKind::kBinary: {
      if (flat.size() <= kMaxLine) return indent + flat;
      const auto& b = As<BinaryExpr>(*this);
      return b.lhs->Pretty(level + 1) + "\n" + indent + OperatorString(b) + "\n" +
             b.rhs->Pretty(level + 1);
    }
    case ExprKind::kCall: {
      if (flat.size() <= kMaxLine) return indent + flat;
      const auto& c = As<Call>(*this);
      std::string out = indent + std::string(c.func->name) + "(\n";
      for (size_t i = 0; i < c.args.size(); ++i) {
        out += c.args[i]->Pretty(level + 1) + (i + 1 < c.args.size() ? ",\n" : "");
      }
      return out + "\n" + indent + ")";
    }
    case ExprKind::kParen:
      if (flat.size() <= kMaxLine) return indent + flat;
      return indent + "(\n" + As<ParenExpr>(*this).expr->Pretty(level + 1) + "\n" + indent + ")";
    case ExprKind::kSubquery: {
      if (flat.size() <= kMaxLine) return flat;
      const auto& s = As<SubqueryExpr>(*this);
      return s.expr->Pretty(level) + SubqueryRangeString(s);
    }
    case ExprKind::kUnary: {
      std::string child = As<UnaryExpr>(*this).expr->Pretty(level);
      size_t b = child.find_first_not_of(" \t\n");
      size_t e = child.find_last_not_of(" \t\n");
      child = b == std::string::npos ? "" : child.substr(b, e - b + 1);
      return indent + "-" + child;
    }
    default:
      return indent + flat;
  }
}

void PreOrder(const Expr& e, std::vector<const Expr*>& out) {
  out.push_back(&e);
  switch (e.kind) {
    case ExprKind::kMatrixSelector:
      PreOrder(*As<MatrixSelector>(e).vs, out);
      break;
    case ExprKind::kSubquery:
      PreOrder(*As<SubqueryExpr>(e).expr, out);
      break;
    case ExprKind::kCall:
      for (const auto& a : As<Call>(e).args) PreOrder(*a, out);
      break;
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(e);
      if (a.param) PreOrder(*a.param, out);
      PreOrder(*a.expr, out);
      break;
    }
    case ExprKind::kBinary:
      PreOrder(*As<BinaryExpr>(e).lhs, out);
      PreOrder(*As<BinaryExpr>(e).rhs, out);
      break;
    case ExprKind::kUnary:
      PreOrder(*As<UnaryExpr>(e).expr, out);
      break;
    case ExprKind::kParen:
      PreOrder(*As<ParenExpr>(e).expr, out);
      break;
    default:
      break;
  }
}

}  // namespace strata::promql
