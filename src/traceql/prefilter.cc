#include "traceql/prefilter.h"

#include <utility>

namespace strata::traceql {

namespace {

// `l && r` or `l || r` (`kind`) of span or trace tests. A test that always holds decides an ||
// and drops out of an &&.
template <typename Test>
Test Combine(typename Test::Kind kind, Test l, Test r) {
  using K = typename Test::Kind;
  if (l.kind == Test::kTrue) return kind == K::kOr ? l : r;
  if (r.kind == Test::kTrue) return kind == K::kOr ? r : l;
  Test t;
  t.kind = kind;
  t.children.push_back(std::move(l));
  t.children.push_back(std::move(r));
  return t;
}

class Builder {
 public:
  explicit Builder(Prefilter& out) : out_(out) {}

  // What a trace must hold for pipeline `p` to yield a spanset: each spanset stage keeps only
  // spans of its input, so each stage's own test holds for the trace.
  TraceTest Pipeline(const traceql::Pipeline& p) {
    TraceTest t;
    if (p.elements.size() != 1) out_.exact = false;
    for (const Element& el : p.elements) {
      if (el.kind == Element::Kind::kSpanset) {
        t = Combine(TraceTest::Kind::kAnd, std::move(t), Spanset(*el.spanset));
      } else {
        out_.exact = false;
      }
    }
    return t;
  }

 private:
  TraceTest Spanset(const SpansetExpr& e) {
    switch (e.kind) {
      case SpansetExpr::Kind::kFilter: {
        SpanTest span = Field(*e.filter);
        TraceTest t;
        t.kind = TraceTest::Kind::kSome;
        t.test = out_.span_tests.size();
        out_.span_tests.push_back(std::move(span));
        return t;
      }
      case SpansetExpr::Kind::kPipeline:
        return Pipeline(*e.pipeline);
      case SpansetExpr::Kind::kOp:
        break;
    }
    if (e.op != Op::kSpansetUnion && e.op != Op::kSpansetAnd) out_.exact = false;
    switch (e.op) {
      case Op::kSpansetUnion:
        return Combine(TraceTest::Kind::kOr, Spanset(*e.lhs), Spanset(*e.rhs));
      // The negated structural forms yield right-hand spans that have no related left-hand
      // span: only the right side must match.
      case Op::kSpansetNotChild:
      case Op::kSpansetNotParent:
      case Op::kSpansetNotSibling:
      case Op::kSpansetNotAncestor:
      case Op::kSpansetNotDescendant:
        return Spanset(*e.rhs);
      // && and the structural forms (plain and union) need spans on both sides.
      default:
        return Combine(TraceTest::Kind::kAnd, Spanset(*e.lhs), Spanset(*e.rhs));
    }
  }

  // What a span must meet for filter expression `e` to hold on it.
  SpanTest Field(const FieldExpr& e) {
    if (e.kind == FieldExpr::Kind::kUnary && e.op == Op::kExists &&
        e.lhs->kind == FieldExpr::Kind::kAttribute && Prefilterable(e.lhs->attr)) {
      return Condition({e.lhs->attr, Op::kExists, Static::Nil(), false});
    }
    if (e.kind == FieldExpr::Kind::kStatic && e.value == Static::Bool(true)) return {};  // `{ }`
    if (e.kind != FieldExpr::Kind::kBinary) return Undecided();
    if (e.op == Op::kAnd || e.op == Op::kOr) {
      return Combine(e.op == Op::kAnd ? SpanTest::Kind::kAnd : SpanTest::Kind::kOr, Field(*e.lhs),
                     Field(*e.rhs));
    }
    if (!IsComparison(e.op)) return Undecided();
    const FieldExpr* attr = e.lhs.get();
    const FieldExpr* value = e.rhs.get();
    const bool value_on_left = attr->kind == FieldExpr::Kind::kStatic;
    if (value_on_left) std::swap(attr, value);
    if (attr->kind != FieldExpr::Kind::kAttribute || value->kind != FieldExpr::Kind::kStatic ||
        value->value.type == StaticType::kNil || !Prefilterable(attr->attr)) {
      return Undecided();
    }
    return Condition({attr->attr, e.op, value->value, value_on_left});
  }

  // What holds for every span where the columns cannot decide: the test is then looser.
  SpanTest Undecided() {
    out_.exact = false;
    return {};
  }

  SpanTest Condition(SpanCondition c) {
    SpanTest t;
    t.kind = SpanTest::Kind::kCondition;
    t.condition = out_.conditions.size();
    out_.conditions.push_back(std::move(c));
    return t;
  }

  Prefilter& out_;
};

}  // namespace

bool Prefilterable(const Attribute& a) {
  switch (a.intrinsic) {
    case Intrinsic::kNone:
      return !a.parent &&
             (a.scope == Scope::kNone || a.scope == Scope::kSpan || a.scope == Scope::kResource);
    case Intrinsic::kDuration:
    case Intrinsic::kName:
    case Intrinsic::kStatus:
    case Intrinsic::kStatusMessage:
    case Intrinsic::kKind:
      return true;
    default:
      return false;
  }
}

Prefilter PrefilterOf(const Pipeline& p) {
  Prefilter out;
  out.trace = Builder(out).Pipeline(p);
  return out;
}

Prefilter PrefilterOf(const MetricsExpr& m) {
  Prefilter out;
  Builder b(out);
  // Arithmetic between two queries counts the spans of either.
  auto of = [&b](const MetricsExpr& e, const auto& self) -> TraceTest {
    if (e.kind == MetricsExpr::Kind::kQuery) return b.Pipeline(e.pipeline);
    return Combine(TraceTest::Kind::kOr, self(*e.lhs, self), self(*e.rhs, self));
  };
  out.trace = of(m, of);
  return out;
}

}  // namespace strata::traceql
