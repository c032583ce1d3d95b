#include "traceql/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "traceql/lexer.h"

namespace strata::traceql {

namespace {

// Queries are bounded: in bytes, and in how deeply their parts nest (the tree is walked
// recursively): kMaxDepth levels of operators, each of which may be parenthesized.
constexpr size_t kMaxQueryBytes = 128 << 10;
constexpr int kMaxDepth = 200;
constexpr int kMaxRecursion = 512;

// The cover tree: what a precedence parser reads, before it is known whether a part is a
// spanset, a scalar, a metrics query or a field expression. Precedences are Tempo's (lowest
// first): | ; && || ; comparisons and structural operators ; + - ; ! ; * / % ; ^ ; unary -.
struct Node;
using NodePtr = std::unique_ptr<Node>;

enum class NK : uint8_t {
  kFilter,       // { expr } (no kid: `{}`)
  kParen,        // ( x )
  kBinary,       // x op y
  kUnary,        // -x, !x
  kPipe,         // a | b | c
  kLiteral,      // a number, string, bool, duration, status or kind
  kNil,          // nil
  kAttr,         // an attribute or intrinsic
  kAggregate,    // count(), max(expr), ...
  kMetrics,      // rate() by (...), quantile_over_time(...), compare({...}) (kid: its filter)
  kSecondStage,  // topk(n), bottomk(n)
  kBy,           // by(expr)
  kCoalesce,     // coalesce()
  kSelect,       // select(attrs)
};

struct Node {
  NK k = NK::kLiteral;
  Token tok;  // the operator, or the first token
  std::vector<NodePtr> kids;
  Static value;                  // kLiteral
  Attribute attr;                // kAttr
  AggregateOp agg{};             // kAggregate
  MetricsAggregate metrics;      // kMetrics (compare's filter is kids[0])
  SecondStage second;            // kSecondStage
  std::vector<Attribute> attrs;  // kSelect
  // Whether the subtree holds an aggregate, or a metrics function, outside `{ }`.
  bool has_agg = false, has_metrics = false;
  int depth = 1;
};

bool IsCompare(Tok t) {
  return t == Tok::kEq || t == Tok::kNeq || t == Tok::kLt || t == Tok::kLte || t == Tok::kGt ||
         t == Tok::kGte;
}
bool IsArith(Tok t) { return t == Tok::kAdd || t == Tok::kSub || t == Tok::kMul || t == Tok::kDiv; }

std::optional<Op> FieldOp(Tok t) {
  switch (t) {
    case Tok::kAdd:
      return Op::kAdd;
    case Tok::kSub:
      return Op::kSub;
    case Tok::kMul:
      return Op::kMult;
    case Tok::kDiv:
      return Op::kDiv;
    case Tok::kMod:
      return Op::kMod;
    case Tok::kPow:
      return Op::kPow;
    case Tok::kEq:
      return Op::kEq;
    case Tok::kNeq:
      return Op::kNeq;
    case Tok::kLt:
      return Op::kLt;
    case Tok::kLte:
      return Op::kLte;
    case Tok::kGt:
      return Op::kGt;
    case Tok::kGte:
      return Op::kGte;
    case Tok::kRe:
      return Op::kRegex;
    case Tok::kNre:
      return Op::kNotRegex;
    case Tok::kAnd:
      return Op::kAnd;
    case Tok::kOr:
      return Op::kOr;
    default:
      return std::nullopt;
  }
}

std::optional<Op> SpansetOp(Tok t) {
  switch (t) {
    case Tok::kAnd:
      return Op::kSpansetAnd;
    case Tok::kOr:
      return Op::kSpansetUnion;
    case Tok::kGt:
      return Op::kSpansetChild;
    case Tok::kLt:
      return Op::kSpansetParent;
    case Tok::kDesc:
      return Op::kSpansetDescendant;
    case Tok::kAnce:
      return Op::kSpansetAncestor;
    case Tok::kSibl:
      return Op::kSpansetSibling;
    case Tok::kNotChild:
      return Op::kSpansetNotChild;
    case Tok::kNotParent:
      return Op::kSpansetNotParent;
    case Tok::kNotDesc:
      return Op::kSpansetNotDescendant;
    case Tok::kNotAnce:
      return Op::kSpansetNotAncestor;
    case Tok::kNre:
      return Op::kSpansetNotSibling;
    case Tok::kUnionChild:
      return Op::kSpansetUnionChild;
    case Tok::kUnionParent:
      return Op::kSpansetUnionParent;
    case Tok::kUnionDesc:
      return Op::kSpansetUnionDescendant;
    case Tok::kUnionAnce:
      return Op::kSpansetUnionAncestor;
    case Tok::kUnionSibl:
      return Op::kSpansetUnionSibling;
    default:
      return std::nullopt;
  }
}

// How tightly an infix operator binds; 0: not an infix operator here (inside `{ }` only the
// operators of field expressions are).
int InfixPower(Tok t, bool field) {
  switch (t) {
    case Tok::kPipe:
      return field ? 0 : 1;
    case Tok::kAnd:
    case Tok::kOr:
      return 2;
    case Tok::kEq:
    case Tok::kNeq:
    case Tok::kLt:
    case Tok::kLte:
    case Tok::kGt:
    case Tok::kGte:
    case Tok::kNre:
      return 3;
    case Tok::kRe:
      return field ? 3 : 0;
    case Tok::kDesc:
    case Tok::kAnce:
    case Tok::kSibl:
    case Tok::kNotChild:
    case Tok::kNotParent:
    case Tok::kNotDesc:
    case Tok::kNotAnce:
    case Tok::kUnionSibl:
    case Tok::kUnionChild:
    case Tok::kUnionParent:
    case Tok::kUnionDesc:
    case Tok::kUnionAnce:
      return field ? 0 : 3;
    case Tok::kAdd:
    case Tok::kSub:
      return 5;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
      return 7;
    case Tok::kPow:
      return 8;
    default:
      return 0;
  }
}

std::optional<Intrinsic> BareIntrinsic(Tok t) {
  switch (t) {
    case Tok::kIDuration:
      return Intrinsic::kDuration;
    case Tok::kName:
      return Intrinsic::kName;
    case Tok::kStatus:
      return Intrinsic::kStatus;
    case Tok::kStatusMessage:
      return Intrinsic::kStatusMessage;
    case Tok::kKind:
      return Intrinsic::kKind;
    case Tok::kParent:
      return Intrinsic::kParent;
    case Tok::kRootName:
      return Intrinsic::kTraceRootSpan;
    case Tok::kRootServiceName:
      return Intrinsic::kTraceRootService;
    case Tok::kTraceDuration:
      return Intrinsic::kTraceDuration;
    case Tok::kNestedSetLeft:
      return Intrinsic::kNestedSetLeft;
    case Tok::kNestedSetRight:
      return Intrinsic::kNestedSetRight;
    case Tok::kNestedSetParent:
      return Intrinsic::kNestedSetParent;
    default:
      return std::nullopt;
  }
}

// `scope:` followed by `t`.
std::optional<Intrinsic> ScopedIntrinsic(Tok scope, Tok t) {
  struct Entry {
    Tok scope, tok;
    Intrinsic i;
  };
  static constexpr Entry kEntries[] = {
      {Tok::kTraceColon, Tok::kIDuration, Intrinsic::kTraceDuration},
      {Tok::kTraceColon, Tok::kRootName, Intrinsic::kTraceRootSpan},
      {Tok::kTraceColon, Tok::kRootService, Intrinsic::kTraceRootService},
      {Tok::kTraceColon, Tok::kId, Intrinsic::kTraceId},
      {Tok::kSpanColon, Tok::kIDuration, Intrinsic::kDuration},
      {Tok::kSpanColon, Tok::kName, Intrinsic::kName},
      {Tok::kSpanColon, Tok::kKind, Intrinsic::kKind},
      {Tok::kSpanColon, Tok::kStatus, Intrinsic::kStatus},
      {Tok::kSpanColon, Tok::kStatusMessage, Intrinsic::kStatusMessage},
      {Tok::kSpanColon, Tok::kId, Intrinsic::kSpanId},
      {Tok::kSpanColon, Tok::kParentId, Intrinsic::kParentId},
      {Tok::kSpanColon, Tok::kChildCount, Intrinsic::kChildCount},
      {Tok::kEventColon, Tok::kName, Intrinsic::kEventName},
      {Tok::kEventColon, Tok::kTimeSinceStart, Intrinsic::kEventTimeSinceStart},
      {Tok::kLinkColon, Tok::kTraceId, Intrinsic::kLinkTraceId},
      {Tok::kLinkColon, Tok::kSpanId, Intrinsic::kLinkSpanId},
      {Tok::kInstrumentationColon, Tok::kName, Intrinsic::kInstrumentationName},
      {Tok::kInstrumentationColon, Tok::kVersion, Intrinsic::kInstrumentationVersion},
  };
  for (const Entry& e : kEntries) {
    if (e.scope == scope && e.tok == t) return e.i;
  }
  return std::nullopt;
}

std::optional<Scope> DotScope(Tok t) {
  switch (t) {
    case Tok::kDot:
      return Scope::kNone;
    case Tok::kResourceDot:
      return Scope::kResource;
    case Tok::kSpanDot:
      return Scope::kSpan;
    case Tok::kEventDot:
      return Scope::kEvent;
    case Tok::kLinkDot:
      return Scope::kLink;
    case Tok::kInstrumentationDot:
      return Scope::kInstrumentation;
    default:
      return std::nullopt;
  }
}

std::optional<Static> LiteralOf(const Token& t) {
  switch (t.tok) {
    case Tok::kString:
      return Static::Str(t.text);
    case Tok::kInteger:
      return Static::Int(t.i);
    case Tok::kFloat:
      return Static::Float(t.f);
    case Tok::kDuration:
      return Static::Duration(t.i);
    case Tok::kTrue:
      return Static::Bool(true);
    case Tok::kFalse:
      return Static::Bool(false);
    case Tok::kStatusOk:
      return Static::Status(SpanStatus::kOk);
    case Tok::kStatusError:
      return Static::Status(SpanStatus::kError);
    case Tok::kStatusUnset:
      return Static::Status(SpanStatus::kUnset);
    case Tok::kKindUnspecified:
      return Static::Kind(SpanKind::kUnspecified);
    case Tok::kKindInternal:
      return Static::Kind(SpanKind::kInternal);
    case Tok::kKindServer:
      return Static::Kind(SpanKind::kServer);
    case Tok::kKindClient:
      return Static::Kind(SpanKind::kClient);
    case Tok::kKindProducer:
      return Static::Kind(SpanKind::kProducer);
    case Tok::kKindConsumer:
      return Static::Kind(SpanKind::kConsumer);
    default:
      return std::nullopt;
  }
}

// Folds a field expression that reads no span into its value, as Tempo does once it is
// valid (`1 + 1` is 2, `-1` is -1, `1 = 2` is false).
FieldPtr Fold(FieldPtr e) {
  if (e->ReferencesSpan() || !ValidateField(*e).ok()) return e;
  const FieldExpr* l = e->lhs.get();
  const FieldExpr* r = e->rhs.get();
  if (l->kind != FieldExpr::Kind::kStatic || (r && r->kind != FieldExpr::Kind::kStatic)) return e;
  auto v = r ? EvalBinary(e->op, l->value, r->value) : EvalUnary(e->op, l->value);
  // A NaN or infinity stays an expression: no literal writes it.
  if (!v.ok() || (v->type == StaticType::kFloat && !std::isfinite(v->f))) return e;
  auto folded = std::make_unique<FieldExpr>();
  folded->value = std::move(*v);
  return folded;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Result<std::unique_ptr<RootExpr>> Run() {
    ASSIGN_OR_RETURN(NodePtr n, Expr(1, false));
    std::vector<Hint> hints;
    while (Peek().tok == Tok::kWith) RETURN_IF_ERROR(Hints(hints));
    if (Peek().tok != Tok::kEof) return Unexpected(Peek());
    auto root = Convert(*n);
    if (!root) {
      if (!err_.set) Fail(n->tok, "syntax error");
      return Status::InvalidArgument(ParseErrorText(err_.line, err_.col, err_.msg));
    }
    root->hints = std::move(hints);
    return root;
  }

 private:
  // --- Reading the cover tree -------------------------------------------------------------

  const Token& Peek() const { return t_[i_]; }
  const Token& Take() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  static Status Unexpected(const Token& t) {
    return Status::InvalidArgument(
        ParseErrorText(t.line, t.col, fmt::format("syntax error: unexpected {}", TokName(t.tok))));
  }
  Status Expect(Tok want) {
    if (Peek().tok != want) return Unexpected(Peek());
    Take();
    return Status::Ok();
  }
  Result<NodePtr> Make(NK k, const Token& at, std::vector<NodePtr> kids = {}) {
    auto n = std::make_unique<Node>();
    n->k = k;
    n->tok = at;
    n->has_agg = k == NK::kAggregate;
    n->has_metrics = k == NK::kMetrics;
    for (const NodePtr& kid : kids) {
      // Parentheses add no depth: a printed query, which parenthesizes every operand, nests
      // as deeply as the query it was printed from.
      n->depth = std::max(n->depth, kid->depth + (k == NK::kParen ? 0 : 1));
      if (k != NK::kFilter && k != NK::kMetrics) {
        n->has_agg = n->has_agg || kid->has_agg;
        n->has_metrics = n->has_metrics || kid->has_metrics;
      }
    }
    if (n->depth > kMaxDepth) {
      return Status::InvalidArgument(ParseErrorText(
          at.line, at.col, fmt::format("query nested too deeply (over {} levels)", kMaxDepth)));
    }
    n->kids = std::move(kids);
    return n;
  }

  // An expression whose infix operators bind at least as tightly as `min`; `field`: inside
  // `{ }` or an aggregate's argument, where only field expressions are.
  Result<NodePtr> Expr(int min, bool field) {
    if (++nesting_ > kMaxRecursion) {
      return Status::InvalidArgument(
          ParseErrorText(Peek().line, Peek().col,
                         fmt::format("query nested too deeply (over {} levels)", kMaxDepth)));
    }
    ASSIGN_OR_RETURN(NodePtr lhs, Primary(field));
    for (;;) {
      int power = InfixPower(Peek().tok, field);
      if (power == 0 || power < min) break;
      Token op = Take();
      // ^ is right-associative, the others left.
      ASSIGN_OR_RETURN(NodePtr rhs, Expr(power == 8 ? power : power + 1, field));
      if (op.tok == Tok::kPipe) {
        std::vector<NodePtr> stages;
        if (lhs->k == NK::kPipe) {
          stages = std::move(lhs->kids);
        } else {
          stages.push_back(std::move(lhs));
        }
        stages.push_back(std::move(rhs));
        ASSIGN_OR_RETURN(lhs, Make(NK::kPipe, op, std::move(stages)));
        continue;
      }
      std::vector<NodePtr> kids;
      kids.push_back(std::move(lhs));
      kids.push_back(std::move(rhs));
      ASSIGN_OR_RETURN(lhs, Make(NK::kBinary, op, std::move(kids)));
    }
    --nesting_;
    return lhs;
  }

  Result<NodePtr> Unary(const Token& op, int power, bool field) {
    ASSIGN_OR_RETURN(NodePtr x, Expr(power, field));
    std::vector<NodePtr> kids;
    kids.push_back(std::move(x));
    return Make(NK::kUnary, op, std::move(kids));
  }

  Result<NodePtr> Primary(bool field) {
    const Token t = Take();
    if (t.tok == Tok::kOpenParen) {
      ASSIGN_OR_RETURN(NodePtr inner, Expr(1, field));
      RETURN_IF_ERROR(Expect(Tok::kCloseParen));
      std::vector<NodePtr> kids;
      kids.push_back(std::move(inner));
      return Make(NK::kParen, t, std::move(kids));
    }
    if (t.tok == Tok::kSub) {
      // Inside { } a minus binds as + and - do (Tempo's grammar gives it their precedence);
      // outside, it negates a number.
      return Unary(t, field ? 6 : 9, field);
    }
    if (field) return FieldPrimary(t);
    switch (t.tok) {
      case Tok::kInteger:
      case Tok::kFloat:
      case Tok::kDuration: {
        ASSIGN_OR_RETURN(NodePtr n, Make(NK::kLiteral, t));
        n->value = *LiteralOf(t);
        return n;
      }
      case Tok::kOpenBrace: {
        std::vector<NodePtr> kids;
        if (Peek().tok != Tok::kCloseBrace) {
          ASSIGN_OR_RETURN(NodePtr e, Expr(1, true));
          kids.push_back(std::move(e));
        }
        RETURN_IF_ERROR(Expect(Tok::kCloseBrace));
        return Make(NK::kFilter, t, std::move(kids));
      }
      case Tok::kCount:
      case Tok::kMax:
      case Tok::kMin:
      case Tok::kAvg:
      case Tok::kSum:
        return Aggregate(t);
      case Tok::kRate:
      case Tok::kCountOverTime:
      case Tok::kMinOverTime:
      case Tok::kMaxOverTime:
      case Tok::kAvgOverTime:
      case Tok::kSumOverTime:
      case Tok::kQuantileOverTime:
      case Tok::kHistogramOverTime:
      case Tok::kCompare:
        return Metrics(t);
      case Tok::kTopk:
      case Tok::kBottomk: {
        RETURN_IF_ERROR(Expect(Tok::kOpenParen));
        if (Peek().tok != Tok::kInteger) return Unexpected(Peek());
        ASSIGN_OR_RETURN(NodePtr n, Make(NK::kSecondStage, t));
        n->second.kind =
            t.tok == Tok::kTopk ? SecondStage::Kind::kTopK : SecondStage::Kind::kBottomK;
        n->second.limit = Take().i;
        RETURN_IF_ERROR(Expect(Tok::kCloseParen));
        return n;
      }
      case Tok::kBy: {
        RETURN_IF_ERROR(Expect(Tok::kOpenParen));
        ASSIGN_OR_RETURN(NodePtr e, Expr(1, true));
        RETURN_IF_ERROR(Expect(Tok::kCloseParen));
        std::vector<NodePtr> kids;
        kids.push_back(std::move(e));
        return Make(NK::kBy, t, std::move(kids));
      }
      case Tok::kCoalesce:
        RETURN_IF_ERROR(Expect(Tok::kOpenParen));
        RETURN_IF_ERROR(Expect(Tok::kCloseParen));
        return Make(NK::kCoalesce, t);
      case Tok::kSelect: {
        RETURN_IF_ERROR(Expect(Tok::kOpenParen));
        ASSIGN_OR_RETURN(NodePtr n, Make(NK::kSelect, t));
        ASSIGN_OR_RETURN(n->attrs, AttributeList());
        RETURN_IF_ERROR(Expect(Tok::kCloseParen));
        return n;
      }
      default:
        return Unexpected(t);
    }
  }

  Result<NodePtr> FieldPrimary(const Token& t) {
    if (t.tok == Tok::kNot) return Unary(t, 7, true);
    if (t.tok == Tok::kNil) return Make(NK::kNil, t);
    if (t.tok == Tok::kIdentifier) {
      // Tempo's two named ints; any other bare word is an error.
      if (t.text != "minInt" && t.text != "maxInt") {
        return Status::InvalidArgument(
            ParseErrorText(t.line, t.col, "unknown identifier: " + t.text));
      }
      ASSIGN_OR_RETURN(NodePtr n, Make(NK::kLiteral, t));
      n->value = Static::Int(t.text == "minInt" ? INT64_MIN : INT64_MAX);
      return n;
    }
    if (auto v = LiteralOf(t)) {
      ASSIGN_OR_RETURN(NodePtr n, Make(NK::kLiteral, t));
      n->value = std::move(*v);
      return n;
    }
    ASSIGN_OR_RETURN(Attribute a, AttributeAt(t));
    ASSIGN_OR_RETURN(NodePtr n, Make(NK::kAttr, t));
    n->attr = std::move(a);
    return n;
  }

  // An intrinsic, scoped intrinsic or attribute starting at `t` (already taken).
  Result<Attribute> AttributeAt(const Token& t) {
    if (auto i = BareIntrinsic(t.tok)) return Attribute::Of(*i);
    if (t.tok == Tok::kTraceColon || t.tok == Tok::kSpanColon || t.tok == Tok::kEventColon ||
        t.tok == Tok::kLinkColon || t.tok == Tok::kInstrumentationColon) {
      auto i = ScopedIntrinsic(t.tok, Peek().tok);
      if (!i) return Unexpected(Peek());
      Take();
      return Attribute::Of(*i);
    }
    Attribute a;
    if (auto scope = DotScope(t.tok)) {
      a.scope = *scope;
    } else if (t.tok == Tok::kParentDot) {
      a.parent = true;
      if (Peek().tok == Tok::kResourceDot || Peek().tok == Tok::kSpanDot) {
        a.scope = Take().tok == Tok::kSpanDot ? Scope::kSpan : Scope::kResource;
      }
    } else {
      return Unexpected(t);
    }
    if (Peek().tok != Tok::kIdentifier) return Unexpected(Peek());
    a.name = Take().text;
    RETURN_IF_ERROR(Expect(Tok::kEndAttribute));
    return a;
  }

  Result<std::vector<Attribute>> AttributeList() {
    std::vector<Attribute> out;
    for (;;) {
      ASSIGN_OR_RETURN(Attribute a, AttributeAt(Take()));
      out.push_back(std::move(a));
      if (Peek().tok != Tok::kComma) return out;
      Take();
    }
  }

  Result<NodePtr> Aggregate(const Token& t) {
    RETURN_IF_ERROR(Expect(Tok::kOpenParen));
    std::vector<NodePtr> kids;
    if (t.tok != Tok::kCount) {
      ASSIGN_OR_RETURN(NodePtr e, Expr(1, true));
      kids.push_back(std::move(e));
    }
    RETURN_IF_ERROR(Expect(Tok::kCloseParen));
    ASSIGN_OR_RETURN(NodePtr n, Make(NK::kAggregate, t, std::move(kids)));
    switch (t.tok) {
      case Tok::kMax:
        n->agg = AggregateOp::kMax;
        break;
      case Tok::kMin:
        n->agg = AggregateOp::kMin;
        break;
      case Tok::kAvg:
        n->agg = AggregateOp::kAvg;
        break;
      case Tok::kSum:
        n->agg = AggregateOp::kSum;
        break;
      default:
        n->agg = AggregateOp::kCount;
    }
    return n;
  }

  Result<NodePtr> Metrics(const Token& t) {
    MetricsAggregate m;
    std::vector<NodePtr> kids;
    RETURN_IF_ERROR(Expect(Tok::kOpenParen));
    switch (t.tok) {
      case Tok::kRate:
      case Tok::kCountOverTime:
        m.op = t.tok == Tok::kRate ? MetricsOp::kRate : MetricsOp::kCountOverTime;
        break;
      case Tok::kCompare: {
        m.op = MetricsOp::kCompare;
        const Token open = Take();
        if (open.tok != Tok::kOpenBrace) return Unexpected(open);
        if (Peek().tok != Tok::kCloseBrace) {
          ASSIGN_OR_RETURN(NodePtr e, Expr(1, true));
          kids.push_back(std::move(e));
        }
        RETURN_IF_ERROR(Expect(Tok::kCloseBrace));
        // compare({...}), compare({...}, top) or compare({...}, top, start, end).
        std::vector<int64_t> ints;
        while (Peek().tok == Tok::kComma && ints.size() < 3) {
          Take();
          if (Peek().tok != Tok::kInteger) return Unexpected(Peek());
          ints.push_back(Take().i);
          if (ints.size() == 1 && Peek().tok != Tok::kComma) break;
        }
        if (ints.size() == 2) return Unexpected(Peek());
        if (!ints.empty()) m.compare_top = ints[0];
        if (ints.size() == 3) {
          m.compare_start = ints[1];
          m.compare_end = ints[2];
        }
        break;
      }
      default: {
        static constexpr std::pair<Tok, MetricsOp> kWithAttr[] = {
            {Tok::kMinOverTime, MetricsOp::kMinOverTime},
            {Tok::kMaxOverTime, MetricsOp::kMaxOverTime},
            {Tok::kAvgOverTime, MetricsOp::kAvgOverTime},
            {Tok::kSumOverTime, MetricsOp::kSumOverTime},
            {Tok::kQuantileOverTime, MetricsOp::kQuantileOverTime},
            {Tok::kHistogramOverTime, MetricsOp::kHistogramOverTime},
        };
        for (const auto& [tok, op] : kWithAttr) {
          if (tok == t.tok) m.op = op;
        }
        ASSIGN_OR_RETURN(m.attr, AttributeAt(Take()));
        if (m.op == MetricsOp::kQuantileOverTime) {
          RETURN_IF_ERROR(Expect(Tok::kComma));
          for (;;) {
            const Token q = Take();
            if (q.tok == Tok::kInteger) {
              m.quantiles.push_back(static_cast<double>(q.i));
            } else if (q.tok == Tok::kFloat) {
              m.quantiles.push_back(q.f);
            } else {
              return Unexpected(q);
            }
            if (Peek().tok != Tok::kComma) break;
            Take();
          }
        }
      }
    }
    RETURN_IF_ERROR(Expect(Tok::kCloseParen));
    if (m.op != MetricsOp::kCompare && Peek().tok == Tok::kBy) {
      Take();
      RETURN_IF_ERROR(Expect(Tok::kOpenParen));
      ASSIGN_OR_RETURN(m.by, AttributeList());
      RETURN_IF_ERROR(Expect(Tok::kCloseParen));
    }
    ASSIGN_OR_RETURN(NodePtr n, Make(NK::kMetrics, t, std::move(kids)));
    n->metrics = std::move(m);
    return n;
  }

  // with(name = value, ...); the last with() wins, as in Tempo.
  Status Hints(std::vector<Hint>& out) {
    Take();
    RETURN_IF_ERROR(Expect(Tok::kOpenParen));
    out.clear();
    for (;;) {
      const Token name = Take();
      if (name.tok != Tok::kIdentifier) return Unexpected(name);
      RETURN_IF_ERROR(Expect(Tok::kEq));
      const Token v = Take();
      Hint h{name.text, {}};
      if (auto s = LiteralOf(v)) {
        h.value = std::move(*s);
      } else if (v.tok == Tok::kIdentifier && (v.text == "minInt" || v.text == "maxInt")) {
        h.value = Static::Int(v.text == "minInt" ? INT64_MIN : INT64_MAX);
      } else if (v.tok == Tok::kIdentifier) {
        return Status::InvalidArgument(
            ParseErrorText(v.line, v.col, "unknown identifier: " + v.text));
      } else {
        return Unexpected(v);
      }
      out.push_back(std::move(h));
      if (Peek().tok != Tok::kComma) break;
      Take();
    }
    return Expect(Tok::kCloseParen);
  }

  // --- From the cover tree to the syntax tree ---------------------------------------------
  // Each conversion returns null (or nullopt) when the part is not what it is asked to be,
  // noting why in err_; the error kept is a semantic one before a syntax error, the later in
  // the query among the same kind.

  void Fail(const Token& at, std::string msg, bool semantic = false) {
    bool better =
        !err_.set || (semantic && !err_.semantic) ||
        (semantic == err_.semantic && std::pair(at.line, at.col) > std::pair(err_.line, err_.col));
    if (better) err_ = {at.line, at.col, std::move(msg), semantic, true};
  }
  void FailUnexpected(const Node& n) {
    Fail(n.tok, fmt::format("syntax error: unexpected {}", TokName(n.tok.tok)));
  }

  std::unique_ptr<RootExpr> Convert(const Node& n) {
    auto root = std::make_unique<RootExpr>();
    if (n.has_metrics) {
      root->metrics = RootMetrics(n);
      if (!root->metrics) return nullptr;
      return root;
    }
    if (auto p = ToPipeline(n)) {
      root->pipeline = std::move(*p);
      return root;
    }
    if (auto e = ToSpansetPipelineExpr(n)) {
      root->pipeline.elements.push_back(SpansetElement(std::move(e)));
      return root;
    }
    if (auto f = ToScalarPipelineFilter(n)) {
      Element el;
      el.kind = Element::Kind::kScalarFilter;
      el.scalar_filter = std::move(*f);
      root->pipeline.elements.push_back(std::move(el));
      return root;
    }
    return nullptr;
  }

  static Element SpansetElement(std::unique_ptr<SpansetExpr> e) {
    Element el;
    el.kind = Element::Kind::kSpanset;
    el.spanset = std::move(e);
    return el;
  }

  FieldPtr ToField(const Node& n) {
    switch (n.k) {
      case NK::kParen:
        return ToField(*n.kids[0]);
      case NK::kLiteral: {
        auto e = std::make_unique<FieldExpr>();
        e->value = n.value;
        return e;
      }
      case NK::kAttr: {
        auto e = std::make_unique<FieldExpr>();
        e->kind = FieldExpr::Kind::kAttribute;
        e->attr = n.attr;
        return e;
      }
      case NK::kUnary: {
        FieldPtr x = ToField(*n.kids[0]);
        if (!x) return nullptr;
        auto e = std::make_unique<FieldExpr>();
        e->kind = FieldExpr::Kind::kUnary;
        e->op = n.tok.tok == Tok::kNot ? Op::kNot : Op::kSub;
        e->lhs = std::move(x);
        return Fold(std::move(e));
      }
      case NK::kBinary:
        return ToFieldBinary(n);
      default:
        FailUnexpected(n);
        return nullptr;
    }
  }

  FieldPtr ToFieldBinary(const Node& n) {
    const Node& l = *n.kids[0];
    const Node& r = *n.kids[1];
    Tok op = n.tok.tok;
    if ((op == Tok::kEq || op == Tok::kNeq) && (l.k == NK::kNil || r.k == NK::kNil)) {
      // `x != nil` is x exists, `x = nil` x does not; nil against nil is false.
      if (l.k == NK::kNil && r.k == NK::kNil) {
        auto e = std::make_unique<FieldExpr>();
        e->value = Static::Bool(false);
        return e;
      }
      FieldPtr x = ToField(l.k == NK::kNil ? r : l);
      if (!x) return nullptr;
      auto e = std::make_unique<FieldExpr>();
      e->kind = FieldExpr::Kind::kUnary;
      e->op = op == Tok::kNeq ? Op::kExists : Op::kNotExists;
      e->lhs = std::move(x);
      return Fold(std::move(e));
    }
    auto fop = FieldOp(op);
    if (!fop) {
      FailUnexpected(n);
      return nullptr;
    }
    FieldPtr a = ToField(l);
    FieldPtr b = a ? ToField(r) : nullptr;
    if (!b) return nullptr;
    // Trace IDs compare without their leading zeros.
    auto trim = [](const FieldExpr& id, FieldExpr& other) {
      if (id.kind == FieldExpr::Kind::kAttribute && id.attr.intrinsic == Intrinsic::kTraceId &&
          other.kind == FieldExpr::Kind::kStatic && other.value.type == StaticType::kString) {
        other.value.s.erase(0, other.value.s.find_first_not_of('0'));
      }
    };
    trim(*a, *b);
    trim(*b, *a);
    auto e = std::make_unique<FieldExpr>();
    e->kind = FieldExpr::Kind::kBinary;
    e->op = *fop;
    e->lhs = std::move(a);
    e->rhs = std::move(b);
    return Fold(std::move(e));
  }

  // A spanset expression: filters combined by spanset operators.
  std::unique_ptr<SpansetExpr> ToSpanset(const Node& n) {
    switch (n.k) {
      case NK::kFilter: {
        auto e = std::make_unique<SpansetExpr>();
        if (n.kids.empty()) {
          e->filter = std::make_unique<FieldExpr>();
          e->filter->value = Static::Bool(true);
        } else {
          e->filter = ToField(*n.kids[0]);
          if (!e->filter) return nullptr;
        }
        return e;
      }
      case NK::kParen:
        return ToSpanset(*n.kids[0]);
      case NK::kBinary:
        return SpansetBinary(n, [this](const Node& x) { return ToSpanset(x); });
      default:
        FailUnexpected(n);
        return nullptr;
    }
  }

  template <typename Operand>
  std::unique_ptr<SpansetExpr> SpansetBinary(const Node& n, Operand operand) {
    auto op = SpansetOp(n.tok.tok);
    if (!op) {
      FailUnexpected(n);
      return nullptr;
    }
    auto l = operand(*n.kids[0]);
    auto r = l ? operand(*n.kids[1]) : nullptr;
    if (!r) return nullptr;
    auto e = std::make_unique<SpansetExpr>();
    e->kind = SpansetExpr::Kind::kOp;
    e->op = *op;
    e->lhs = std::move(l);
    e->rhs = std::move(r);
    return e;
  }

  // Parenthesized pipelines combined by spanset operators:
  // `({ a } | count() > 1) && ({ b })`.
  std::unique_ptr<SpansetExpr> ToSpansetPipelineExpr(const Node& n) {
    if (n.k == NK::kBinary) {
      return SpansetBinary(n, [this](const Node& x) { return ToSpansetPipelineExpr(x); });
    }
    if (n.k != NK::kParen) {
      FailUnexpected(n);
      return nullptr;
    }
    const Node& inner = *n.kids[0];
    if (inner.k == NK::kParen || inner.k == NK::kBinary) {
      if (auto e = ToSpansetPipelineExpr(inner)) return e;
    }
    auto p = ToPipeline(inner);
    if (!p) return nullptr;
    auto e = std::make_unique<SpansetExpr>();
    e->kind = SpansetExpr::Kind::kPipeline;
    e->pipeline = std::make_unique<Pipeline>(std::move(*p));
    return e;
  }

  // The stages of `n` (a pipe, or one stage).
  static std::vector<const Node*> Stages(const Node& n) {
    std::vector<const Node*> out;
    if (n.k == NK::kPipe) {
      for (const NodePtr& k : n.kids) out.push_back(k.get());
    } else {
      out.push_back(&n);
    }
    return out;
  }

  std::optional<Pipeline> ToPipeline(const Node& n) { return ToPipeline(Stages(n)); }
  std::optional<Pipeline> ToPipeline(const std::vector<const Node*>& stages) {
    Pipeline p;
    for (size_t i = 0; i < stages.size(); ++i) {
      auto el = ToElement(*stages[i], i == 0);
      if (!el) return std::nullopt;
      p.elements.push_back(std::move(*el));
    }
    return p;
  }

  std::optional<Element> ToElement(const Node& n, bool first) {
    Element el;
    switch (n.k) {
      case NK::kBy:
        el.kind = Element::Kind::kGroup;
        el.group = ToField(*n.kids[0]);
        if (!el.group) return std::nullopt;
        return el;
      case NK::kSelect:
        el.kind = Element::Kind::kSelect;
        el.select = n.attrs;
        return el;
      case NK::kCoalesce:
        if (first) {
          FailUnexpected(n);
          return std::nullopt;
        }
        el.kind = Element::Kind::kCoalesce;
        return el;
      default:
        break;
    }
    if (n.has_agg) {
      auto f = ToScalarFilter(n);
      if (!f) return std::nullopt;
      el.kind = Element::Kind::kScalarFilter;
      el.scalar_filter = std::move(*f);
      return el;
    }
    auto s = ToSpanset(n);
    if (!s) return std::nullopt;
    return SpansetElement(std::move(s));
  }

  // `avg(duration) > 1s`, `count() = min(.a)`: a comparison with an aggregate on a side.
  std::optional<ScalarFilter> ToScalarFilter(const Node& n) {
    if (n.k != NK::kBinary || !IsCompare(n.tok.tok)) {
      FailUnexpected(n);
      return std::nullopt;
    }
    ScalarFilter f;
    f.op = *FieldOp(n.tok.tok);
    f.lhs = ToScalarOperand(*n.kids[0]);
    f.rhs = f.lhs ? ToScalarOperand(*n.kids[1]) : nullptr;
    if (!f.rhs) return std::nullopt;
    return f;
  }

  std::unique_ptr<ScalarExpr> StaticScalar(const Node& n) {
    auto v = ToScalar(n);
    if (!v) return nullptr;
    auto e = std::make_unique<ScalarExpr>();
    e->kind = ScalarExpr::Kind::kStatic;
    e->value = std::move(*v);
    return e;
  }

  std::unique_ptr<ScalarExpr> ToScalarOperand(const Node& n) {
    return n.has_agg ? ToScalarExpr(n) : StaticScalar(n);
  }

  // An expression with an aggregate: aggregates and numbers under + - * / % ^.
  std::unique_ptr<ScalarExpr> ToScalarExpr(const Node& n) {
    switch (n.k) {
      case NK::kParen:
        return ToScalarExpr(*n.kids[0]);
      case NK::kAggregate: {
        auto e = std::make_unique<ScalarExpr>();
        e->agg = n.agg;
        if (!n.kids.empty()) {
          e->agg_expr = ToField(*n.kids[0]);
          if (!e->agg_expr) return nullptr;
        }
        return e;
      }
      case NK::kBinary:
        return ScalarBinary(n, [this](const Node& x) { return ToScalarOperand(x); });
      default:
        FailUnexpected(n);
        return nullptr;
    }
  }

  template <typename Operand>
  std::unique_ptr<ScalarExpr> ScalarBinary(const Node& n, Operand operand) {
    Tok t = n.tok.tok;
    if (!IsArith(t) && t != Tok::kMod && t != Tok::kPow) {
      FailUnexpected(n);
      return nullptr;
    }
    auto l = operand(*n.kids[0]);
    auto r = l ? operand(*n.kids[1]) : nullptr;
    if (!r) return nullptr;
    auto e = std::make_unique<ScalarExpr>();
    e->kind = ScalarExpr::Kind::kOp;
    e->op = *FieldOp(t);
    e->lhs = std::move(l);
    e->rhs = std::move(r);
    return e;
  }

  // Whether `n` is a number, or + - * / and unary - over numbers.
  static bool IsScalar(const Node& n) {
    switch (n.k) {
      case NK::kLiteral:
        return IsNumeric(n.value.type);
      case NK::kParen:
        return IsScalar(*n.kids[0]);
      case NK::kUnary:
        return n.tok.tok == Tok::kSub && IsScalar(*n.kids[0]);
      case NK::kBinary:
        return IsArith(n.tok.tok) && IsScalar(*n.kids[0]) && IsScalar(*n.kids[1]);
      default:
        return false;
    }
  }

  // A number, folded: `(2 + 3) / 2` is 2 (ints divide as ints), `-1.5`.
  std::optional<Static> ToScalar(const Node& n) {
    switch (n.k) {
      case NK::kLiteral:
        if (IsNumeric(n.value.type)) return n.value;
        break;
      case NK::kParen:
        return ToScalar(*n.kids[0]);
      case NK::kUnary:
        if (n.tok.tok == Tok::kSub) {
          auto v = ToScalar(*n.kids[0]);
          if (!v) return std::nullopt;
          return *EvalUnary(Op::kSub, *v);
        }
        break;
      case NK::kBinary: {
        if (!IsArith(n.tok.tok)) break;
        auto a = ToScalar(*n.kids[0]);
        auto b = a ? ToScalar(*n.kids[1]) : std::nullopt;
        if (!b) return std::nullopt;
        if (a->type == StaticType::kDuration || b->type == StaticType::kDuration) {
          Fail(n.tok, "duration cannot be used in scalar arithmetic", true);
          return std::nullopt;
        }
        auto v = EvalBinary(*FieldOp(n.tok.tok), *a, *b);
        if (!v.ok()) {
          Fail(n.tok, std::string(v.status().message()), true);
          return std::nullopt;
        }
        if (v->type == StaticType::kFloat && !std::isfinite(v->f)) {
          Fail(n.tok, "division by zero", true);
          return std::nullopt;
        }
        return std::move(*v);
      }
      default:
        break;
    }
    FailUnexpected(n);
    return std::nullopt;
  }

  // `({ a } | count()) > ({ b } | count())`, `({ a } | avg(duration)) < 2s`.
  std::optional<ScalarFilter> ToScalarPipelineFilter(const Node& n) {
    if (n.k != NK::kBinary || !IsCompare(n.tok.tok)) {
      FailUnexpected(n);
      return std::nullopt;
    }
    ScalarFilter f;
    f.op = *FieldOp(n.tok.tok);
    f.lhs = ToScalarPipelineExpr(*n.kids[0]);
    if (!f.lhs) return std::nullopt;
    const Node& r = *n.kids[1];
    f.rhs = IsScalar(r) ? StaticScalar(r) : ToScalarPipelineExpr(r);
    if (!f.rhs) return std::nullopt;
    return f;
  }

  // Parenthesized pipelines ending in an aggregate, under + - * / % ^.
  std::unique_ptr<ScalarExpr> ToScalarPipelineExpr(const Node& n) {
    if (n.k == NK::kBinary) {
      return ScalarBinary(n, [this](const Node& x) { return ToScalarPipelineExpr(x); });
    }
    if (n.k != NK::kParen) {
      FailUnexpected(n);
      return nullptr;
    }
    const Node& inner = *n.kids[0];
    if (inner.k != NK::kPipe || inner.kids.back()->k != NK::kAggregate) {
      return ToScalarPipelineExpr(inner);
    }
    std::vector<const Node*> stages = Stages(inner);
    stages.pop_back();
    auto p = ToPipeline(stages);
    if (!p) return nullptr;
    auto agg = ToScalarExpr(*inner.kids.back());
    if (!agg) return nullptr;
    Element el;
    el.kind = Element::Kind::kAggregate;
    el.aggregate = std::move(agg);
    p->elements.push_back(std::move(el));
    auto e = std::make_unique<ScalarExpr>();
    e->kind = ScalarExpr::Kind::kPipeline;
    e->pipeline = std::make_unique<Pipeline>(std::move(*p));
    return e;
  }

  // --- Metrics ----------------------------------------------------------------------------

  // Splits `x > 1 <= 2` into x and its comparisons with numbers, in order.
  static const Node& Peel(const Node& n, std::vector<const Node*>* filters) {
    const Node* cur = &n;
    while (cur->k == NK::kBinary && IsCompare(cur->tok.tok) && IsScalar(*cur->kids[1])) {
      filters->push_back(cur);
      cur = cur->kids[0].get();
    }
    std::reverse(filters->begin(), filters->end());
    return *cur;
  }

  bool AddFilters(const std::vector<const Node*>& filters, std::vector<SecondStage>* out) {
    for (const Node* f : filters) {
      auto v = ToScalar(*f->kids[1]);
      if (!v) return false;
      SecondStage s;
      s.kind = SecondStage::Kind::kFilter;
      s.op = *FieldOp(f->tok.tok);
      // Durations compare in seconds.
      s.value = v->type == StaticType::kDuration ? v->AsFloat() / 1e9 : v->AsFloat();
      out->push_back(s);
    }
    return true;
  }

  // Second stages after the first: `| topk(5) > 10 | bottomk(2)`.
  bool AddSecondStages(const std::vector<const Node*>& stages, size_t from,
                       std::vector<SecondStage>* out) {
    for (size_t i = from; i < stages.size(); ++i) {
      std::vector<const Node*> filters;
      const Node& core = Peel(*stages[i], &filters);
      if (core.k != NK::kSecondStage) {
        FailUnexpected(core);
        return false;
      }
      out->push_back(core.second);
      if (!AddFilters(filters, out)) return false;
    }
    return true;
  }

  // `spanset pipeline | first stage [second stages]`.
  std::unique_ptr<MetricsExpr> MetricsQuery(const Node& pipe) {
    std::vector<const Node*> stages = Stages(pipe);
    size_t j = 0;
    std::vector<const Node*> filters;
    for (; j < stages.size(); ++j) {
      filters.clear();
      if (Peel(*stages[j], &filters).k == NK::kMetrics) break;
    }
    if (j == 0 || j == stages.size()) {
      FailUnexpected(*stages[std::min(j, stages.size() - 1)]);
      return nullptr;
    }
    auto p = ToPipeline(std::vector<const Node*>(stages.begin(), stages.begin() + j));
    if (!p) return nullptr;
    filters.clear();
    const Node& first = Peel(*stages[j], &filters);
    auto m = std::make_unique<MetricsExpr>();
    m->pipeline = std::move(*p);
    m->first.op = first.metrics.op;
    m->first.attr = first.metrics.attr;
    m->first.by = first.metrics.by;
    m->first.quantiles = first.metrics.quantiles;
    m->first.compare_top = first.metrics.compare_top;
    m->first.compare_start = first.metrics.compare_start;
    m->first.compare_end = first.metrics.compare_end;
    if (first.metrics.op == MetricsOp::kCompare) {
      if (first.kids.empty()) {
        m->first.compare = std::make_unique<FieldExpr>();
        m->first.compare->value = Static::Bool(true);
      } else {
        m->first.compare = ToField(*first.kids[0]);
        if (!m->first.compare) return nullptr;
      }
    }
    if (!AddFilters(filters, &m->stages) || !AddSecondStages(stages, j + 1, &m->stages)) {
      return nullptr;
    }
    return m;
  }

  // A number in arithmetic with metrics; durations are refused.
  std::optional<double> MetricsScalar(const Node& n) {
    auto v = ToScalar(n);
    if (!v) return std::nullopt;
    if (v->type == StaticType::kDuration) {
      Fail(n.tok, "duration cannot be used as a scalar operand in metric arithmetic", true);
      return std::nullopt;
    }
    return v->AsFloat();
  }

  // Parenthesized metrics queries under + - * /, and numbers with them.
  std::unique_ptr<MetricsExpr> ToMetrics(const Node& n) {
    if (n.k == NK::kParen) {
      const Node& inner = *n.kids[0];
      if (inner.k == NK::kPipe && !Stages(inner).front()->has_metrics) return MetricsQuery(inner);
      return ToMetrics(inner);
    }
    if (n.k != NK::kBinary || !IsArith(n.tok.tok)) {
      FailUnexpected(n);
      return nullptr;
    }
    const Node& l = *n.kids[0];
    const Node& r = *n.kids[1];
    Op op = *FieldOp(n.tok.tok);
    if (l.has_metrics && r.has_metrics) {
      auto a = ToMetrics(l);
      auto b = a ? ToMetrics(r) : nullptr;
      if (!b) return nullptr;
      auto m = std::make_unique<MetricsExpr>();
      m->kind = MetricsExpr::Kind::kMath;
      m->op = op;
      m->lhs = std::move(a);
      m->rhs = std::move(b);
      return m;
    }
    bool scalar_left = r.has_metrics;
    auto m = ToMetrics(scalar_left ? r : l);
    if (!m) return nullptr;
    auto v = MetricsScalar(scalar_left ? l : r);
    if (!v) return nullptr;
    SecondStage s;
    s.kind = SecondStage::Kind::kScalarOp;
    s.op = op;
    s.value = *v;
    s.scalar_on_left = scalar_left;
    m->stages.push_back(s);
    return m;
  }

  std::unique_ptr<MetricsExpr> RootMetrics(const Node& n) {
    std::vector<const Node*> stages = Stages(n);
    std::vector<const Node*> filters;
    const Node& core = Peel(*stages.front(), &filters);
    if (core.has_metrics && (core.k == NK::kParen || core.k == NK::kBinary)) {
      // Metrics arithmetic, then second stages.
      auto m = ToMetrics(core);
      if (!m || !AddFilters(filters, &m->stages) || !AddSecondStages(stages, 1, &m->stages)) {
        return nullptr;
      }
      return m;
    }
    return MetricsQuery(n);
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int nesting_ = 0;
  struct Error {
    int line = 0, col = 0;
    std::string msg;
    bool semantic = false;
    bool set = false;
  } err_;
};

}  // namespace

Result<std::unique_ptr<RootExpr>> Parse(std::string_view query) {
  if (query.size() > kMaxQueryBytes) {
    return Status::InvalidArgument(fmt::format("query of {} bytes is over the limit of {} bytes",
                                               query.size(), kMaxQueryBytes));
  }
  ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(query));
  return Parser(std::move(toks)).Run();
}

Result<Attribute> ParseIdentifier(std::string_view s) {
  auto root = Parse(fmt::format("{{{}}}", s));
  auto fail = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("failed to parse identifier {}: {}", s, why));
  };
  if (!root.ok()) return fail(root.status().message());
  const Pipeline& p = (*root)->pipeline;
  if ((*root)->metrics || p.elements.size() != 1 || !p.elements[0].spanset ||
      p.elements[0].spanset->kind != SpansetExpr::Kind::kFilter ||
      p.elements[0].spanset->filter->kind != FieldExpr::Kind::kAttribute) {
    return fail("not an attribute");
  }
  return p.elements[0].spanset->filter->attr;
}

}  // namespace strata::traceql
