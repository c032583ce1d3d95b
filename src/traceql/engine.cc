#include "traceql/engine.h"

#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <utility>

namespace strata::traceql {

namespace {

// Which scopes an expression reads, so that events and links are walked only when needed.
void ScopesOf(const FieldExpr& e, bool* events, bool* links) {
  if (e.kind == FieldExpr::Kind::kAttribute) {
    *events = *events || e.attr.scope == Scope::kEvent ||
              e.attr.intrinsic == Intrinsic::kEventName ||
              e.attr.intrinsic == Intrinsic::kEventTimeSinceStart;
    *links = *links || e.attr.scope == Scope::kLink || e.attr.intrinsic == Intrinsic::kLinkSpanId ||
             e.attr.intrinsic == Intrinsic::kLinkTraceId;
  }
  if (e.lhs) ScopesOf(*e.lhs, events, links);
  if (e.rhs) ScopesOf(*e.rhs, events, links);
}

std::vector<int32_t> Union(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<int32_t> AllSpans(const std::vector<Spanset>& sets) {
  std::vector<int32_t> out;
  for (const Spanset& ss : sets) out = Union(out, ss.spans);
  return out;
}

}  // namespace

SearchEvaluator::SearchEvaluator(const Pipeline& pipeline) : pipeline_(pipeline) {
  for (const Element& el : pipeline.elements) {
    if (el.kind == Element::Kind::kSelect) {
      selected_.insert(selected_.end(), el.select.begin(), el.select.end());
    }
  }
}

SearchEvaluator::~SearchEvaluator() = default;

std::vector<Spanset> SearchEvaluator::Eval(const Trace& t) {
  trace_ = &t;
  if (t.spans.empty()) return {};
  Spanset all;
  all.spans.resize(t.spans.size());
  for (size_t i = 0; i < t.spans.size(); ++i) all.spans[i] = static_cast<int32_t>(i);
  std::vector<Spanset> in;
  in.push_back(std::move(all));
  return EvalPipeline(pipeline_, std::move(in));
}

std::vector<Spanset> SearchEvaluator::EvalPipeline(const Pipeline& p, std::vector<Spanset> in) {
  for (const Element& el : p.elements) {
    in = EvalElement(el, std::move(in));
    if (in.empty()) break;
  }
  return in;
}

std::vector<Spanset> SearchEvaluator::EvalElement(const Element& el, std::vector<Spanset> in) {
  switch (el.kind) {
    case Element::Kind::kSpanset:
      return EvalSpanset(*el.spanset, in);
    case Element::Kind::kScalarFilter: {
      std::vector<Spanset> out;
      for (Spanset& ss : in) {
        Static l = EvalScalar(*el.scalar_filter.lhs, ss);
        Static r = EvalScalar(*el.scalar_filter.rhs, ss);
        if (l.type == StaticType::kNil || r.type == StaticType::kNil) continue;
        auto v = EvalBinary(el.scalar_filter.op, l, r);
        if (v.ok() && v->type == StaticType::kBoolean && v->i != 0) out.push_back(std::move(ss));
      }
      return out;
    }
    case Element::Kind::kGroup: {
      std::vector<Spanset> out;
      const std::string name = "by(" + el.group->String() + ")";
      for (const Spanset& ss : in) {
        std::vector<std::pair<Static, Spanset>> groups;
        for (int32_t i : ss.spans) {
          Static v = EvalField(*el.group, trace_->spans[static_cast<size_t>(i)], -1, -1);
          if (v.type == StaticType::kNil) continue;
          auto it = std::find_if(groups.begin(), groups.end(),
                                 [&v](const auto& g) { return g.first == v; });
          if (it == groups.end()) {
            Spanset g;
            g.attrs = ss.attrs;
            g.attrs.emplace_back(name, v);
            groups.emplace_back(v, std::move(g));
            it = std::prev(groups.end());
          }
          it->second.spans.push_back(i);
        }
        for (auto& [v, g] : groups) out.push_back(std::move(g));
      }
      return out;
    }
    case Element::Kind::kCoalesce: {
      Spanset one;
      one.spans = AllSpans(in);
      std::vector<Spanset> out;
      out.push_back(std::move(one));
      return out;
    }
    case Element::Kind::kSelect:
      return in;
    case Element::Kind::kAggregate:
      break;  // only inside scalar pipelines, which validation refuses
  }
  return {};
}

std::vector<Spanset> SearchEvaluator::EvalSpanset(const SpansetExpr& e,
                                                  const std::vector<Spanset>& in) {
  std::vector<Spanset> out;
  for (const Spanset& ss : in) {
    switch (e.kind) {
      case SpansetExpr::Kind::kFilter: {
        Spanset kept;
        kept.attrs = ss.attrs;
        for (int32_t i : ss.spans) {
          if (Matches(*e.filter, trace_->spans[static_cast<size_t>(i)])) kept.spans.push_back(i);
        }
        if (!kept.spans.empty()) out.push_back(std::move(kept));
        break;
      }
      case SpansetExpr::Kind::kPipeline: {
        auto r = EvalPipeline(*e.pipeline, {ss});
        for (Spanset& s : r) out.push_back(std::move(s));
        break;
      }
      case SpansetExpr::Kind::kOp: {
        std::vector<int32_t> l = AllSpans(EvalSpanset(*e.lhs, {ss}));
        std::vector<int32_t> r = AllSpans(EvalSpanset(*e.rhs, {ss}));
        Spanset res;
        res.attrs = ss.attrs;
        if (e.op == Op::kSpansetAnd) {
          if (!l.empty() && !r.empty()) res.spans = Union(l, r);
        } else if (e.op == Op::kSpansetUnion) {
          res.spans = Union(l, r);
        } else {
          res.spans = Relate(e.op, l, r);
        }
        if (!res.spans.empty()) out.push_back(std::move(res));
        break;
      }
    }
  }
  return out;
}

// The spans structural operator `op` yields from the left side's matches `lhs` and the right
// side's `rhs`: those of rhs related to one of lhs (children, parents, descendants,
// ancestors, siblings), those not so related (negated forms), or both sides' related spans
// (union forms).
std::vector<int32_t> SearchEvaluator::Relate(Op op, const std::vector<int32_t>& lhs,
                                             const std::vector<int32_t>& rhs) const {
  const auto& spans = trace_->spans;
  auto parent = [&spans](int32_t i) { return spans[static_cast<size_t>(i)].parent; };
  // Whether a is an ancestor of b, walking up at most as many steps as there are spans.
  auto ancestor = [&](int32_t a, int32_t b) {
    int32_t p = parent(b);
    for (size_t steps = 0; p >= 0 && steps < spans.size(); ++steps, p = parent(p)) {
      if (p == a) return true;
    }
    return false;
  };
  // rel(a, b): b stands in the operator's relation to a.
  std::function<bool(int32_t, int32_t)> rel;
  bool negated = false, both = false;
  switch (op) {
    case Op::kSpansetNotChild:
      negated = true;
      [[fallthrough]];
    case Op::kSpansetChild:
    case Op::kSpansetUnionChild:
      rel = [&](int32_t a, int32_t b) { return parent(b) == a; };
      break;
    case Op::kSpansetNotParent:
      negated = true;
      [[fallthrough]];
    case Op::kSpansetParent:
    case Op::kSpansetUnionParent:
      rel = [&](int32_t a, int32_t b) { return parent(a) == b; };
      break;
    case Op::kSpansetNotDescendant:
      negated = true;
      [[fallthrough]];
    case Op::kSpansetDescendant:
    case Op::kSpansetUnionDescendant:
      rel = [&](int32_t a, int32_t b) { return ancestor(a, b); };
      break;
    case Op::kSpansetNotAncestor:
      negated = true;
      [[fallthrough]];
    case Op::kSpansetAncestor:
    case Op::kSpansetUnionAncestor:
      rel = [&](int32_t a, int32_t b) { return ancestor(b, a); };
      break;
    case Op::kSpansetNotSibling:
      negated = true;
      [[fallthrough]];
    case Op::kSpansetSibling:
    case Op::kSpansetUnionSibling:
      rel = [&](int32_t a, int32_t b) {
        return a != b && parent(a) >= 0 && parent(a) == parent(b);
      };
      break;
    default:
      return {};
  }
  both = op == Op::kSpansetUnionChild || op == Op::kSpansetUnionParent ||
         op == Op::kSpansetUnionDescendant || op == Op::kSpansetUnionAncestor ||
         op == Op::kSpansetUnionSibling;
  std::vector<int32_t> out;
  std::vector<int32_t> left_related;
  for (int32_t b : rhs) {
    bool any = false;
    for (int32_t a : lhs) {
      if (rel(a, b)) {
        any = true;
        if (both) left_related.push_back(a);
      }
    }
    if (any != negated) out.push_back(b);
  }
  if (both) {
    std::sort(left_related.begin(), left_related.end());
    left_related.erase(std::unique(left_related.begin(), left_related.end()), left_related.end());
    out = Union(out, left_related);
  }
  return out;
}

bool SearchEvaluator::SpanMatches(const Trace& t, const FieldExpr& filter, const Span& s) {
  trace_ = &t;
  return Matches(filter, s);
}

bool SearchEvaluator::Matches(const FieldExpr& f, const Span& s) {
  bool events = false, links = false;
  ScopesOf(f, &events, &links);
  auto holds = [&](int event, int link) {
    Static v = EvalField(f, s, event, link);
    return v.type == StaticType::kBoolean && v.i != 0;
  };
  // An expression over events (links) holds for the span when it holds for one of them.
  int n_events = events ? static_cast<int>(s.events.size()) : 0;
  int n_links = links ? static_cast<int>(s.links.size()) : 0;
  if (events && n_events == 0) return false;
  if (links && n_links == 0) return false;
  for (int e = events ? 0 : -1; e < std::max(n_events, 0); ++e) {
    for (int l = links ? 0 : -1; l < std::max(n_links, 0); ++l) {
      if (holds(e, l)) return true;
    }
  }
  return !events && !links && holds(-1, -1);
}

Static SearchEvaluator::EvalField(const FieldExpr& e, const Span& s, int event, int link) {
  switch (e.kind) {
    case FieldExpr::Kind::kStatic:
      return e.value;
    case FieldExpr::Kind::kAttribute:
      return Lookup(*trace_, s, e.attr, event, link);
    case FieldExpr::Kind::kUnary: {
      Static x = EvalField(*e.lhs, s, event, link);
      if (e.op == Op::kExists) return Static::Bool(x.type != StaticType::kNil);
      if (e.op == Op::kNotExists) return Static::Bool(x.type == StaticType::kNil);
      auto v = EvalUnary(e.op, x);
      return v.ok() ? std::move(*v) : Static::Nil();
    }
    case FieldExpr::Kind::kBinary: {
      Static l = EvalField(*e.lhs, s, event, link);
      if (l.type == StaticType::kBoolean) {
        if (e.op == Op::kAnd && l.i == 0) return Static::Bool(false);
        if (e.op == Op::kOr && l.i != 0) return Static::Bool(true);
      }
      return ops_.Binary(e.op, l, EvalField(*e.rhs, s, event, link));
    }
  }
  return Static::Nil();
}

Static SearchEvaluator::EvalScalar(const ScalarExpr& e, const Spanset& ss) {
  switch (e.kind) {
    case ScalarExpr::Kind::kStatic:
      return e.value;
    case ScalarExpr::Kind::kOp: {
      Static l = EvalScalar(*e.lhs, ss), r = EvalScalar(*e.rhs, ss);
      if (l.type == StaticType::kNil || r.type == StaticType::kNil) return Static::Nil();
      auto v = EvalBinary(e.op, l, r);
      return v.ok() ? std::move(*v) : Static::Nil();
    }
    case ScalarExpr::Kind::kPipeline:
      return Static::Nil();  // refused by validation
    case ScalarExpr::Kind::kAggregate:
      break;
  }
  if (e.agg == AggregateOp::kCount) return Static::Int(static_cast<int64_t>(ss.spans.size()));
  // min, max, sum, avg over the spans' numeric values; durations stay durations, ints stay
  // ints (but for avg), the rest are floats.
  StaticType type = StaticType::kNil;
  double sum = 0, best = 0;
  int64_t isum = 0;
  size_t n = 0;
  for (int32_t i : ss.spans) {
    Static v = EvalField(*e.agg_expr, trace_->spans[static_cast<size_t>(i)], -1, -1);
    if (!IsNumeric(v.type)) continue;
    double f = v.AsFloat();
    if (n == 0) {
      type = v.type;
      best = f;
    } else if (type != v.type) {
      type = StaticType::kFloat;
    }
    if ((e.agg == AggregateOp::kMax && f > best) || (e.agg == AggregateOp::kMin && f < best)) {
      best = f;
    }
    sum += f;
    isum += v.type == StaticType::kFloat ? 0 : v.i;
    ++n;
  }
  if (n == 0) return Static::Nil();
  auto typed = [type](double f, int64_t i) {
    if (type == StaticType::kDuration) return Static::Duration(i);
    if (type == StaticType::kInt) return Static::Int(i);
    return Static::Float(f);
  };
  switch (e.agg) {
    case AggregateOp::kMax:
    case AggregateOp::kMin:
      return typed(best, static_cast<int64_t>(best));
    case AggregateOp::kSum:
      return typed(sum, isum);
    case AggregateOp::kAvg: {
      double avg = sum / static_cast<double>(n);
      if (type == StaticType::kDuration) return Static::Duration(static_cast<int64_t>(avg));
      return Static::Float(avg);
    }
    case AggregateOp::kCount:
      break;
  }
  return Static::Nil();
}

FieldOps::FieldOps() = default;
FieldOps::~FieldOps() = default;

Static FieldOps::Binary(Op op, const Static& l, const Static& r) {
  if (IsComparison(op) && (l.type == StaticType::kNil || r.type == StaticType::kNil)) {
    return Static::Bool(false);
  }
  if ((op == Op::kRegex || op == Op::kNotRegex) && l.type == StaticType::kString &&
      r.type == StaticType::kString) {
    return Static::Bool(RegexMatch(r.s, l.s) == (op == Op::kRegex));
  }
  auto v = EvalBinary(op, l, r);
  return v.ok() ? std::move(*v) : Static::Nil();
}

bool FieldOps::RegexMatch(const std::string& pattern, std::string_view value) {
  auto& re = regexes_[pattern];
  if (!re) re = std::make_unique<RE2>(pattern, RE2::Quiet);
  return re->ok() && RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re);
}

}  // namespace strata::traceql
