#include "traceql/ast.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <cmath>
#include <utility>

#include "base/labels.h"
#include "base/units.h"
#include "traceql/lexer.h"

namespace strata::traceql {

namespace {

std::string_view StatusName(int64_t s) {
  switch (static_cast<SpanStatus>(s)) {
    case SpanStatus::kError:
      return "error";
    case SpanStatus::kOk:
      return "ok";
    case SpanStatus::kUnset:
      return "unset";
  }
  return "?";
}

std::string_view KindName(int64_t k) {
  switch (static_cast<SpanKind>(k)) {
    case SpanKind::kUnspecified:
      return "unspecified";
    case SpanKind::kInternal:
      return "internal";
    case SpanKind::kClient:
      return "client";
    case SpanKind::kServer:
      return "server";
    case SpanKind::kProducer:
      return "producer";
    case SpanKind::kConsumer:
      return "consumer";
  }
  return "?";
}

std::string_view IntrinsicName(Intrinsic i) {
  switch (i) {
    case Intrinsic::kNone:
      return "none";
    case Intrinsic::kDuration:
      return "duration";
    case Intrinsic::kName:
      return "name";
    case Intrinsic::kStatus:
      return "status";
    case Intrinsic::kStatusMessage:
      return "statusMessage";
    case Intrinsic::kKind:
      return "kind";
    case Intrinsic::kChildCount:
      return "span:childCount";
    case Intrinsic::kTraceRootService:
      return "rootServiceName";
    case Intrinsic::kTraceRootSpan:
      return "rootName";
    case Intrinsic::kTraceDuration:
      return "traceDuration";
    case Intrinsic::kNestedSetLeft:
      return "nestedSetLeft";
    case Intrinsic::kNestedSetRight:
      return "nestedSetRight";
    case Intrinsic::kNestedSetParent:
      return "nestedSetParent";
    case Intrinsic::kEventName:
      return "event:name";
    case Intrinsic::kEventTimeSinceStart:
      return "event:timeSinceStart";
    case Intrinsic::kLinkSpanId:
      return "link:spanID";
    case Intrinsic::kLinkTraceId:
      return "link:traceID";
    case Intrinsic::kInstrumentationName:
      return "instrumentation:name";
    case Intrinsic::kInstrumentationVersion:
      return "instrumentation:version";
    case Intrinsic::kParent:
      return "parent";
    case Intrinsic::kTraceId:
      return "trace:id";
    case Intrinsic::kSpanId:
      return "span:id";
    case Intrinsic::kParentId:
      return "span:parentID";
  }
  return "?";
}

std::string_view AggregateName(AggregateOp op) {
  switch (op) {
    case AggregateOp::kCount:
      return "count";
    case AggregateOp::kMax:
      return "max";
    case AggregateOp::kMin:
      return "min";
    case AggregateOp::kAvg:
      return "avg";
    case AggregateOp::kSum:
      return "sum";
  }
  return "?";
}

// Tempo's wrapping of operands in printed expressions: literals and attributes bare, the
// rest in parentheses.
std::string Wrap(const FieldExpr& e) {
  if (e.kind == FieldExpr::Kind::kStatic) return e.value.String();
  if (e.kind == FieldExpr::Kind::kAttribute) return e.attr.String();
  return "(" + e.String() + ")";
}
std::string Wrap(const ScalarExpr& e) {
  if (e.kind == ScalarExpr::Kind::kStatic) return e.value.String();
  return "(" + e.String() + ")";
}
std::string Wrap(const SpansetExpr& e) { return "(" + e.String() + ")"; }

template <typename T>
std::string BinaryString(Op op, const T& lhs, const T& rhs) {
  return Wrap(lhs) + " " + std::string(OpString(op)) + " " + Wrap(rhs);
}

std::string Join(const std::vector<Attribute>& attrs, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (i > 0) out += sep;
    out += attrs[i].String();
  }
  return out;
}

bool TakesType(Op op, StaticType t) {
  switch (t) {
    case StaticType::kAttribute:
      return true;
    case StaticType::kBoolean:
      return op == Op::kAnd || op == Op::kOr || op == Op::kEq || op == Op::kNeq;
    case StaticType::kInt:
    case StaticType::kFloat:
    case StaticType::kDuration:
      return op == Op::kAdd || op == Op::kSub || op == Op::kMult || op == Op::kDiv ||
             op == Op::kMod || op == Op::kPow || op == Op::kEq || op == Op::kNeq || op == Op::kGt ||
             op == Op::kGte || op == Op::kLt || op == Op::kLte;
    case StaticType::kString:
      return op == Op::kEq || op == Op::kNeq || op == Op::kRegex || op == Op::kNotRegex ||
             op == Op::kGt || op == Op::kGte || op == Op::kLt || op == Op::kLte;
    case StaticType::kNil:
    case StaticType::kStatus:
    case StaticType::kKind:
      return op == Op::kEq || op == Op::kNeq;
    case StaticType::kSpanset:
      return false;
  }
  return false;
}

bool StaticEquals(const Static& a, const Static& b) {
  if (a.type == b.type) return a == b;
  if (IsNumeric(a.type) && IsNumeric(b.type)) return a.AsFloat() == b.AsFloat();
  return false;
}

Status Invalid(std::string msg) { return Status::InvalidArgument(std::move(msg)); }
Status Unsupported(std::string_view feature) {
  return Status::Unsupported(std::string(feature) + " not yet supported");
}

Status ValidatePipeline(const Pipeline& p);

Status ValidateAttribute(const Attribute& a) {
  if (a.parent) return Unsupported("parent");
  if (a.intrinsic == Intrinsic::kParent) return Unsupported("intrinsic (parent)");
  return Status::Ok();
}

Status ValidateBinaryTypes(Op op, StaticType l, StaticType r, const std::string& printed) {
  if (!OperandsMatch(l, r)) {
    return Invalid("binary operations must operate on the same type: " + printed);
  }
  if (!OpTakes(op, l, r)) return Invalid("illegal operation for the given types: " + printed);
  return Status::Ok();
}

}  // namespace

std::string_view MetricsName(MetricsOp op) {
  switch (op) {
    case MetricsOp::kRate:
      return "rate";
    case MetricsOp::kCountOverTime:
      return "count_over_time";
    case MetricsOp::kMinOverTime:
      return "min_over_time";
    case MetricsOp::kMaxOverTime:
      return "max_over_time";
    case MetricsOp::kAvgOverTime:
      return "avg_over_time";
    case MetricsOp::kSumOverTime:
      return "sum_over_time";
    case MetricsOp::kQuantileOverTime:
      return "quantile_over_time";
    case MetricsOp::kHistogramOverTime:
      return "histogram_over_time";
    case MetricsOp::kCompare:
      return "compare";
  }
  return "?";
}

std::string_view ScopeName(Scope s) {
  switch (s) {
    case Scope::kNone:
      return "none";
    case Scope::kResource:
      return "resource";
    case Scope::kSpan:
      return "span";
    case Scope::kEvent:
      return "event";
    case Scope::kLink:
      return "link";
    case Scope::kInstrumentation:
      return "instrumentation";
  }
  return "?";
}

Status ValidateField(const FieldExpr& e) {
  switch (e.kind) {
    case FieldExpr::Kind::kStatic:
      return Status::Ok();
    case FieldExpr::Kind::kAttribute:
      return ValidateAttribute(e.attr);
    case FieldExpr::Kind::kBinary: {
      RETURN_IF_ERROR(ValidateField(*e.lhs));
      RETURN_IF_ERROR(ValidateField(*e.rhs));
      StaticType l = e.lhs->Type(), r = e.rhs->Type();
      RETURN_IF_ERROR(ValidateBinaryTypes(e.op, l, r, e.String()));
      if (e.op == Op::kRegex || e.op == Op::kNotRegex) {
        if (e.rhs->kind != FieldExpr::Kind::kStatic || r != StaticType::kString) {
          return Invalid("invalid type for =~ or !~: " + e.rhs->String());
        }
        RE2 re(e.rhs->value.s, RE2::Quiet);
        if (!re.ok()) return Invalid("invalid regex: " + e.rhs->String());
      }
      return Status::Ok();
    }
    case FieldExpr::Kind::kUnary: {
      RETURN_IF_ERROR(ValidateField(*e.lhs));
      if (e.op == Op::kNotExists && e.lhs->kind == FieldExpr::Kind::kAttribute) {
        const Attribute& a = e.lhs->attr;
        if (a.intrinsic != Intrinsic::kNone) {
          return Invalid(a.String() + "=nil is not valid because intrinsics cannot be nil");
        }
        if (a.scope == Scope::kResource && !a.parent && a.name == "service.name") {
          return Invalid(a.String() +
                         "=nil is not valid because resource.service.name cannot be nil");
        }
      }
      StaticType t = e.lhs->Type();
      if (t == StaticType::kAttribute) return Status::Ok();
      bool ok = e.op == Op::kSub   ? IsNumeric(t)
                : e.op == Op::kNot ? t == StaticType::kBoolean
                                   : e.op == Op::kExists || e.op == Op::kNotExists;
      if (!ok) return Invalid("illegal operation for the given type: " + e.String());
      return Status::Ok();
    }
  }
  return Status::Ok();
}

namespace {

Status ValidateScalar(const ScalarExpr& e) {
  switch (e.kind) {
    case ScalarExpr::Kind::kStatic:
      return Status::Ok();
    case ScalarExpr::Kind::kPipeline:
      return ValidatePipeline(*e.pipeline);
    case ScalarExpr::Kind::kOp:
      RETURN_IF_ERROR(ValidateScalar(*e.lhs));
      RETURN_IF_ERROR(ValidateScalar(*e.rhs));
      return ValidateBinaryTypes(e.op, e.lhs->Type(), e.rhs->Type(), e.String());
    case ScalarExpr::Kind::kAggregate: {
      if (!e.agg_expr) return Status::Ok();
      RETURN_IF_ERROR(ValidateField(*e.agg_expr));
      StaticType t = e.agg_expr->Type();
      if (t != StaticType::kAttribute && !IsNumeric(t)) {
        return Invalid("aggregate field expressions must resolve to a number type: " + e.String());
      }
      if (!e.agg_expr->ReferencesSpan()) {
        return Invalid("aggregate field expressions must reference the span: " + e.String());
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

// `{ f }`: f must yield a boolean.
Status ValidateFilter(const FieldExpr& f) {
  RETURN_IF_ERROR(ValidateField(f));
  StaticType t = f.Type();
  if (t != StaticType::kAttribute && t != StaticType::kBoolean) {
    return Invalid("span filter field expressions must resolve to a boolean: { " + f.String() +
                   " }");
  }
  return Status::Ok();
}

Status ValidateSpanset(const SpansetExpr& e) {
  switch (e.kind) {
    case SpansetExpr::Kind::kFilter:
      return ValidateFilter(*e.filter);
    case SpansetExpr::Kind::kOp:
      RETURN_IF_ERROR(ValidateSpanset(*e.lhs));
      return ValidateSpanset(*e.rhs);
    case SpansetExpr::Kind::kPipeline:
      return ValidatePipeline(*e.pipeline);
  }
  return Status::Ok();
}

Status ValidateElement(const Element& el) {
  switch (el.kind) {
    case Element::Kind::kSpanset:
      return ValidateSpanset(*el.spanset);
    case Element::Kind::kScalarFilter: {
      const ScalarFilter& f = el.scalar_filter;
      RETURN_IF_ERROR(ValidateScalar(*f.lhs));
      RETURN_IF_ERROR(ValidateScalar(*f.rhs));
      RETURN_IF_ERROR(ValidateBinaryTypes(f.op, f.lhs->Type(), f.rhs->Type(), f.String()));
      if (f.lhs->kind != ScalarExpr::Kind::kAggregate) {
        return Unsupported("scalar filter lhs of type (%v)");
      }
      if (f.rhs->kind != ScalarExpr::Kind::kStatic) {
        return Unsupported("scalar filter rhs of type (%v)");
      }
      return Status::Ok();
    }
    case Element::Kind::kGroup:
      if (!el.group->ReferencesSpan()) {
        return Invalid("grouping field expressions must reference the span: " + el.String());
      }
      return ValidateField(*el.group);
    case Element::Kind::kCoalesce:
      return Status::Ok();
    case Element::Kind::kSelect:
      for (const Attribute& a : el.select) RETURN_IF_ERROR(ValidateAttribute(a));
      return Status::Ok();
    case Element::Kind::kAggregate:
      return ValidateScalar(*el.aggregate);
  }
  return Status::Ok();
}

Status ValidatePipeline(const Pipeline& p) {
  for (const Element& el : p.elements) RETURN_IF_ERROR(ValidateElement(el));
  return Status::Ok();
}

// Tempo reserves one of its five group-by slots for the bucket of histogram and quantile.
constexpr size_t kMaxGroupBys = 5;
constexpr int64_t kMaxCompareTop = 1000;

Status ValidateFirstStage(const MetricsAggregate& m) {
  if (m.op == MetricsOp::kCompare) {
    RETURN_IF_ERROR(ValidateFilter(*m.compare));
    if (m.compare_top <= 0 || m.compare_top > kMaxCompareTop) {
      return Invalid(fmt::format(
          "compare() top number of values must be an integer between 1 and {}", kMaxCompareTop));
    }
    if (m.compare_start == 0 && m.compare_end == 0) return Status::Ok();
    if (m.compare_start <= 0 || m.compare_end <= 0) {
      return Invalid("compare() timestamps must be positive integer unix nanoseconds");
    }
    if (m.compare_end <= m.compare_start) {
      return Invalid("compare() end timestamp must be greater than start timestamp");
    }
    return Status::Ok();
  }
  bool bucketed = m.op == MetricsOp::kHistogramOverTime || m.op == MetricsOp::kQuantileOverTime ||
                  m.op == MetricsOp::kAvgOverTime;
  if (bucketed ? m.by.size() >= kMaxGroupBys : m.by.size() > kMaxGroupBys) {
    return Unsupported(fmt::format("metrics group by {} values", m.by.size()));
  }
  for (double q : m.quantiles) {
    if (q < 0 || q > 1) return Invalid("quantile must be between 0 and 1: " + FormatFloatG(q));
  }
  return Status::Ok();
}

// The metrics expression's pipelines, first stages and second stages; whether it has a
// compare() and whether it has second stages or arithmetic.
Status ValidateMetrics(const MetricsExpr& m, bool* compare, bool* staged) {
  if (!m.stages.empty()) *staged = true;
  for (const SecondStage& s : m.stages) {
    if ((s.kind == SecondStage::Kind::kTopK || s.kind == SecondStage::Kind::kBottomK) &&
        s.limit <= 0) {
      return Invalid("limit must be greater than 0");
    }
  }
  if (m.kind == MetricsExpr::Kind::kMath) {
    *staged = true;
    RETURN_IF_ERROR(ValidateMetrics(*m.lhs, compare, staged));
    return ValidateMetrics(*m.rhs, compare, staged);
  }
  RETURN_IF_ERROR(ValidatePipeline(m.pipeline));
  if (m.first.op == MetricsOp::kCompare) *compare = true;
  return ValidateFirstStage(m.first);
}

}  // namespace

std::string Static::String() const {
  switch (type) {
    case StaticType::kNil:
      return "nil";
    case StaticType::kInt:
      // The one int whose digits do not read back (its negation overflows).
      if (i == INT64_MIN) return "minInt";
      return std::to_string(i);
    case StaticType::kFloat: {
      std::string s = FormatFloatG(f);
      if (s.find_first_of("e.") == std::string::npos && std::isfinite(f)) s += ".0";
      return s;
    }
    case StaticType::kString:
      // Tempo writes strings raw; one a raw literal cannot hold is written quoted.
      if (s.find_first_of("`\r") != std::string::npos) return GoQuote(s);
      return "`" + s + "`";
    case StaticType::kBoolean:
      return i != 0 ? "true" : "false";
    case StaticType::kDuration:
      return FormatGoDuration(i);
    case StaticType::kStatus:
      return std::string(StatusName(i));
    case StaticType::kKind:
      return std::string(KindName(i));
    case StaticType::kSpanset:
    case StaticType::kAttribute:
      break;
  }
  return "?";
}

std::string_view OpString(Op op) {
  switch (op) {
    case Op::kNone:
      return "";
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kDiv:
      return "/";
    case Op::kMod:
      return "%";
    case Op::kMult:
      return "*";
    case Op::kEq:
      return "=";
    case Op::kNeq:
      return "!=";
    case Op::kRegex:
      return "=~";
    case Op::kNotRegex:
    case Op::kSpansetNotSibling:
      return "!~";
    case Op::kGt:
    case Op::kSpansetChild:
      return ">";
    case Op::kGte:
      return ">=";
    case Op::kLt:
    case Op::kSpansetParent:
      return "<";
    case Op::kLte:
      return "<=";
    case Op::kPow:
      return "^";
    case Op::kAnd:
    case Op::kSpansetAnd:
      return "&&";
    case Op::kOr:
    case Op::kSpansetUnion:
      return "||";
    case Op::kNot:
      return "!";
    case Op::kExists:
      return "!= nil";
    case Op::kNotExists:
      return "= nil";
    case Op::kSpansetDescendant:
      return ">>";
    case Op::kSpansetAncestor:
      return "<<";
    case Op::kSpansetSibling:
      return "~";
    case Op::kSpansetNotChild:
      return "!>";
    case Op::kSpansetNotParent:
      return "!<";
    case Op::kSpansetNotAncestor:
      return "!<<";
    case Op::kSpansetNotDescendant:
      return "!>>";
    case Op::kSpansetUnionChild:
      return "&>";
    case Op::kSpansetUnionParent:
      return "&<";
    case Op::kSpansetUnionSibling:
      return "&~";
    case Op::kSpansetUnionAncestor:
      return "&<<";
    case Op::kSpansetUnionDescendant:
      return "&>>";
  }
  return "?";
}

bool IsComparison(Op op) {
  return op == Op::kEq || op == Op::kNeq || op == Op::kGt || op == Op::kGte || op == Op::kLt ||
         op == Op::kLte || op == Op::kRegex || op == Op::kNotRegex;
}

bool IsBooleanOp(Op op) {
  switch (op) {
    case Op::kOr:
    case Op::kAnd:
    case Op::kEq:
    case Op::kNeq:
    case Op::kRegex:
    case Op::kNotRegex:
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
    case Op::kNot:
    case Op::kExists:
    case Op::kNotExists:
      return true;
    default:
      return false;
  }
}

bool OperandsMatch(StaticType a, StaticType b) {
  if (a == StaticType::kAttribute || b == StaticType::kAttribute) return true;
  if (a == b) return true;
  if (IsNumeric(a) && IsNumeric(b)) return true;
  return a == StaticType::kNil || b == StaticType::kNil;
}

bool OpTakes(Op op, StaticType a, StaticType b) { return TakesType(op, a) && TakesType(op, b); }

Attribute Attribute::Of(Intrinsic i) {
  Attribute a;
  a.intrinsic = i;
  a.name = std::string(IntrinsicName(i));
  return a;
}

StaticType Attribute::Type() const {
  switch (intrinsic) {
    case Intrinsic::kDuration:
    case Intrinsic::kEventTimeSinceStart:
    case Intrinsic::kTraceDuration:
      return StaticType::kDuration;
    case Intrinsic::kChildCount:
    case Intrinsic::kNestedSetLeft:
    case Intrinsic::kNestedSetRight:
    case Intrinsic::kNestedSetParent:
      return StaticType::kInt;
    case Intrinsic::kName:
    case Intrinsic::kStatusMessage:
    case Intrinsic::kEventName:
    case Intrinsic::kLinkTraceId:
    case Intrinsic::kLinkSpanId:
    case Intrinsic::kTraceRootService:
    case Intrinsic::kTraceRootSpan:
    case Intrinsic::kTraceId:
    case Intrinsic::kSpanId:
    case Intrinsic::kParentId:
      return StaticType::kString;
    case Intrinsic::kStatus:
      return StaticType::kStatus;
    case Intrinsic::kKind:
      return StaticType::kKind;
    case Intrinsic::kParent:
      return StaticType::kNil;
    case Intrinsic::kNone:
    case Intrinsic::kInstrumentationName:
    case Intrinsic::kInstrumentationVersion:
      break;
  }
  return StaticType::kAttribute;
}

std::string Attribute::String() const {
  std::string scope;
  if (parent) scope = "parent.";
  if (this->scope != Scope::kNone) scope += std::string(ScopeName(this->scope)) + ".";
  std::string att = intrinsic != Intrinsic::kNone ? std::string(IntrinsicName(intrinsic)) : name;
  if (scope.empty() && intrinsic == Intrinsic::kNone) scope = ".";
  // An empty name, and `.1` (which would read back as a number), are quoted.
  bool quote = att.empty() || (scope == "." && att[0] >= '0' && att[0] <= '9');
  for (size_t i = 0; i < att.size() && !quote;) {
    uint32_t c = 0;
    size_t n = DecodeRune(att, i, &c);
    if (n == 0) n = 1;
    quote = c == '"' || !IsAttributeChar(c);
    i += n;
  }
  if (quote) {
    std::string q = "\"";
    for (char c : att) {
      if (c == '\\' || c == '"') q += '\\';
      q += c;
    }
    att = q + "\"";
  }
  return scope + att;
}

StaticType FieldExpr::Type() const {
  switch (kind) {
    case Kind::kStatic:
      return value.type;
    case Kind::kAttribute:
      return attr.Type();
    case Kind::kBinary: {
      if (IsBooleanOp(op)) return StaticType::kBoolean;
      StaticType t = lhs->Type();
      return t != StaticType::kAttribute ? t : rhs->Type();
    }
    case Kind::kUnary:
      if (op == Op::kExists || op == Op::kNotExists) return StaticType::kBoolean;
      return lhs->Type();
  }
  return StaticType::kNil;
}

bool FieldExpr::ReferencesSpan() const {
  switch (kind) {
    case Kind::kStatic:
      return false;
    case Kind::kAttribute:
      return true;
    case Kind::kBinary:
      return lhs->ReferencesSpan() || rhs->ReferencesSpan();
    case Kind::kUnary:
      return lhs->ReferencesSpan();
  }
  return false;
}

std::string FieldExpr::String() const {
  switch (kind) {
    case Kind::kStatic:
      return value.String();
    case Kind::kAttribute:
      return attr.String();
    case Kind::kBinary:
      return BinaryString(op, *lhs, *rhs);
    case Kind::kUnary:
      if (op == Op::kExists) return Wrap(*lhs) + " != nil";
      if (op == Op::kNotExists) return Wrap(*lhs) + " = nil";
      return std::string(OpString(op)) + Wrap(*lhs);
  }
  return "";
}

std::string SpansetExpr::String() const {
  switch (kind) {
    case Kind::kFilter:
      return "{ " + filter->String() + " }";
    case Kind::kOp:
      return BinaryString(op, *lhs, *rhs);
    case Kind::kPipeline:
      return pipeline->String();
  }
  return "";
}

StaticType ScalarExpr::Type() const {
  switch (kind) {
    case Kind::kStatic:
      return value.type;
    case Kind::kAggregate:
      if (agg == AggregateOp::kCount || !agg_expr) return StaticType::kInt;
      return agg_expr->Type();
    case Kind::kOp: {
      if (IsBooleanOp(op)) return StaticType::kBoolean;
      StaticType t = lhs->Type();
      return t != StaticType::kAttribute ? t : rhs->Type();
    }
    case Kind::kPipeline: {
      const auto& els = pipeline->elements;
      if (!els.empty() && els.back().kind == Element::Kind::kAggregate) {
        return els.back().aggregate->Type();
      }
      return StaticType::kSpanset;
    }
  }
  return StaticType::kNil;
}

std::string ScalarExpr::String() const {
  switch (kind) {
    case Kind::kStatic:
      return value.String();
    case Kind::kAggregate:
      return std::string(AggregateName(agg)) + "(" + (agg_expr ? agg_expr->String() : "") + ")";
    case Kind::kOp:
      return BinaryString(op, *lhs, *rhs);
    case Kind::kPipeline:
      return pipeline->String();
  }
  return "";
}

std::string ScalarFilter::String() const { return BinaryString(op, *lhs, *rhs); }

std::string Element::String() const {
  switch (kind) {
    case Kind::kSpanset:
      return spanset->kind == SpansetExpr::Kind::kPipeline ? "(" + spanset->String() + ")"
                                                           : spanset->String();
    case Kind::kScalarFilter:
      return scalar_filter.String();
    case Kind::kGroup:
      return "by(" + group->String() + ")";
    case Kind::kCoalesce:
      return "coalesce()";
    case Kind::kSelect:
      return "select(" + Join(select, ", ") + ")";
    case Kind::kAggregate:
      return aggregate->String();
  }
  return "";
}

std::string Pipeline::String() const {
  std::string out;
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += " | ";
    out += elements[i].String();
  }
  return out;
}

std::string MetricsAggregate::String() const {
  std::string out = std::string(MetricsName(op)) + "(";
  if (op == MetricsOp::kCompare) {
    out += "{ " + compare->String() + " }";
    if (compare_top != 10 || compare_start != 0 || compare_end != 0) {
      out += fmt::format(", {}", compare_top);
    }
    if (compare_start != 0 || compare_end != 0) {
      out += fmt::format(", {}, {}", compare_start, compare_end);
    }
    return out + ")";
  }
  if (attr) out += attr->String();
  for (double q : quantiles) out += ", " + FormatFloatG(q);
  out += ")";
  if (!by.empty()) out += " by (" + Join(by, ", ") + ")";
  return out;
}

std::string SecondStage::String() const {
  switch (kind) {
    case Kind::kTopK:
      return fmt::format("topk({})", limit);
    case Kind::kBottomK:
      return fmt::format("bottomk({})", limit);
    case Kind::kFilter:
    case Kind::kScalarOp:
      return std::string(OpString(op)) + " " + Static::Float(value).String();
  }
  return "";
}

std::string MetricsExpr::String() const {
  std::string out = kind == Kind::kQuery ? pipeline.String() + " | " + first.String()
                                         : "(" + lhs->String() + ") " + std::string(OpString(op)) +
                                               " (" + rhs->String() + ")";
  for (const SecondStage& s : stages) {
    switch (s.kind) {
      case SecondStage::Kind::kTopK:
      case SecondStage::Kind::kBottomK:
        out += " | " + s.String();
        break;
      case SecondStage::Kind::kFilter:
        out += " " + s.String();
        break;
      case SecondStage::Kind::kScalarOp: {
        std::string v = Static::Float(s.value).String();
        std::string o(OpString(s.op));
        out = s.scalar_on_left ? fmt::format("{} {} ({})", v, o, out)
                               : fmt::format("({}) {} {}", out, o, v);
        break;
      }
    }
  }
  return out;
}

std::string RootExpr::String() const {
  std::string out = metrics ? metrics->String() : pipeline.String();
  if (!hints.empty()) {
    out += " with(";
    for (size_t i = 0; i < hints.size(); ++i) {
      if (i > 0) out += ",";
      out += hints[i].name + "=" + hints[i].value.String();
    }
    out += ")";
  }
  return out;
}

Status Validate(const RootExpr& root) {
  if (!root.metrics) return ValidatePipeline(root.pipeline);
  bool compare = false, staged = false;
  RETURN_IF_ERROR(ValidateMetrics(*root.metrics, &compare, &staged));
  if (compare && staged) return Invalid("`compare()` cannot be used with second stage functions");
  return Status::Ok();
}

Result<Static> EvalBinary(Op op, const Static& l, const Static& r) {
  if (!OperandsMatch(l.type, r.type) || !OpTakes(op, l.type, r.type)) return Static::Bool(false);
  if (l.type == StaticType::kString && r.type == StaticType::kString) {
    int c = l.s.compare(r.s);
    switch (op) {
      case Op::kGt:
        return Static::Bool(c > 0);
      case Op::kGte:
        return Static::Bool(c >= 0);
      case Op::kLt:
        return Static::Bool(c < 0);
      case Op::kLte:
        return Static::Bool(c <= 0);
      case Op::kRegex:
      case Op::kNotRegex: {
        RE2 re(r.s, RE2::Quiet);
        if (!re.ok()) return Status::InvalidArgument("invalid regex: " + r.String());
        // Anchored at both ends, as Prometheus's matchers (which Tempo uses) are.
        return Static::Bool(RE2::FullMatch(l.s, re) == (op == Op::kRegex));
      }
      default:
        break;
    }
  } else if (l.type == StaticType::kInt && r.type == StaticType::kInt) {
    int64_t a = l.i, b = r.i;
    // Go's int arithmetic wraps; so does this, through unsigned.
    auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
    switch (op) {
      case Op::kAdd:
        return Static::Int(wrap(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)));
      case Op::kSub:
        return Static::Int(wrap(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)));
      case Op::kMult:
        return Static::Int(wrap(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)));
      case Op::kDiv:
        if (b == 0) return Status::InvalidArgument("division by zero");
        if (b == -1) return Static::Int(wrap(0 - static_cast<uint64_t>(a)));
        return Static::Int(a / b);
      case Op::kMod:
        if (b == 0) return Status::InvalidArgument("modulo by zero");
        if (b == -1) return Static::Int(0);
        return Static::Int(a % b);
      case Op::kGt:
        return Static::Bool(a > b);
      case Op::kGte:
        return Static::Bool(a >= b);
      case Op::kLt:
        return Static::Bool(a < b);
      case Op::kLte:
        return Static::Bool(a <= b);
      case Op::kPow: {
        double p = std::pow(static_cast<double>(a), static_cast<double>(b));
        // Go's int(float64) of an out-of-range value: the minimum int on amd64.
        if (!(p >= -9.2233720368547758e18 && p < 9.2233720368547758e18)) {
          return Static::Int(INT64_MIN);
        }
        return Static::Int(static_cast<int64_t>(p));
      }
      default:
        break;
    }
  } else if (l.type == StaticType::kBoolean && r.type == StaticType::kBoolean) {
    if (op == Op::kAnd) return Static::Bool(l.i != 0 && r.i != 0);
    if (op == Op::kOr) return Static::Bool(l.i != 0 || r.i != 0);
  }
  double a = l.AsFloat(), b = r.AsFloat();
  switch (op) {
    case Op::kAdd:
      return Static::Float(a + b);
    case Op::kSub:
      return Static::Float(a - b);
    case Op::kDiv:
      return Static::Float(a / b);
    case Op::kMod:
      return Static::Float(std::fmod(a, b));
    case Op::kMult:
      return Static::Float(a * b);
    case Op::kGt:
      return Static::Bool(a > b);
    case Op::kGte:
      return Static::Bool(a >= b);
    case Op::kLt:
      return Static::Bool(a < b);
    case Op::kLte:
      return Static::Bool(a <= b);
    case Op::kPow:
      return Static::Float(std::pow(a, b));
    case Op::kEq:
      return Static::Bool(StaticEquals(l, r));
    case Op::kNeq:
      return Static::Bool(!StaticEquals(l, r));
    default:
      return Status::InvalidArgument(fmt::format("unexpected operator {}", OpString(op)));
  }
}

Result<Static> EvalUnary(Op op, const Static& x) {
  if (op == Op::kNot) {
    if (x.type != StaticType::kBoolean) return Status::InvalidArgument("expected a boolean");
    return Static::Bool(x.i == 0);
  }
  if (op == Op::kSub) {
    switch (x.type) {
      case StaticType::kInt:
        return Static::Int(static_cast<int64_t>(0 - static_cast<uint64_t>(x.i)));
      case StaticType::kFloat:
        return Static::Float(-x.f);
      case StaticType::kDuration:
        return Static::Duration(static_cast<int64_t>(0 - static_cast<uint64_t>(x.i)));
      default:
        return Status::InvalidArgument("expected a numeric");
    }
  }
  if (op == Op::kExists) return Static::Bool(x.type != StaticType::kNil);
  if (op == Op::kNotExists) return Static::Bool(x.type == StaticType::kString && x.s == "nil");
  return Status::InvalidArgument(fmt::format("invalid unary operator {}", OpString(op)));
}

}  // namespace strata::traceql
