#include "logql/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <unordered_map>
#include <utility>

#include "base/labels.h"
#include "logql/lexer.h"
#include "logql/pipeline.h"

namespace strata::logql {

namespace {

constexpr std::string_view kNeedsMatcher =
    "queries require at least one regexp or equality matcher that does not have an "
    "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
    "app=~\".+\" will";

// Thrown inside the parser only.
struct ParseFailure {
  std::string msg;
  int line = 0;
  int col = 0;
};

std::string FormatError(const ParseFailure& f) {
  if (f.line == 0 && f.col == 0) return "parse error : " + f.msg;
  return fmt::format("parse error at line {}, col {}: {}", f.line, f.col, f.msg);
}

[[noreturn]] void FailAt0(std::string msg) { throw ParseFailure{std::move(msg), 0, 0}; }

// Go's strconv.Atoi.
bool GoAtoi(std::string_view s, int64_t* out) {
  std::string_view t = s;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return !t.empty() && ec == std::errc() && ptr == t.data() + t.size();
}

// Go's "%f".
std::string GoFixed6(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{:.6f}", v);
}

// The value of `l op r` for two literals, as Loki folds them (comparisons give 1 or 0,
// division and modulo by zero NaN).
double FoldLiterals(BinOp op, double l, double r) {
  switch (op) {
    case BinOp::kAdd:
      return l + r;
    case BinOp::kSub:
      return l - r;
    case BinOp::kMul:
      return l * r;
    case BinOp::kDiv:
      return r == 0 ? std::nan("") : l / r;
    case BinOp::kMod:
      return r == 0 ? std::nan("") : std::fmod(l, r);
    case BinOp::kPow:
      return std::pow(l, r);
    case BinOp::kEq:
      return l == r ? 1 : 0;
    case BinOp::kNeq:
      return l != r ? 1 : 0;
    case BinOp::kGt:
      return l > r ? 1 : 0;
    case BinOp::kGte:
      return l >= r ? 1 : 0;
    case BinOp::kLt:
      return l < r ? 1 : 0;
    case BinOp::kLte:
      return l <= r ? 1 : 0;
    default:
      return 0;
  }
}

int Precedence(BinOp op) {
  switch (op) {
    case BinOp::kOr:
      return 1;
    case BinOp::kAnd:
    case BinOp::kUnless:
      return 2;
    case BinOp::kEq:
    case BinOp::kNeq:
    case BinOp::kLt:
    case BinOp::kLte:
    case BinOp::kGt:
    case BinOp::kGte:
      return 3;
    case BinOp::kAdd:
    case BinOp::kSub:
      return 4;
    case BinOp::kMul:
    case BinOp::kDiv:
    case BinOp::kMod:
      return 5;
    case BinOp::kPow:
      return 6;
  }
  return 0;
}

std::optional<BinOp> BinOpOf(Tok t) {
  switch (t) {
    case Tok::kOr:
      return BinOp::kOr;
    case Tok::kAnd:
      return BinOp::kAnd;
    case Tok::kUnless:
      return BinOp::kUnless;
    case Tok::kCmpEq:
      return BinOp::kEq;
    case Tok::kNeq:
      return BinOp::kNeq;
    case Tok::kLt:
      return BinOp::kLt;
    case Tok::kLte:
      return BinOp::kLte;
    case Tok::kGt:
      return BinOp::kGt;
    case Tok::kGte:
      return BinOp::kGte;
    case Tok::kAdd:
      return BinOp::kAdd;
    case Tok::kSub:
      return BinOp::kSub;
    case Tok::kMul:
      return BinOp::kMul;
    case Tok::kDiv:
      return BinOp::kDiv;
    case Tok::kMod:
      return BinOp::kMod;
    case Tok::kPow:
      return BinOp::kPow;
    default:
      return std::nullopt;
  }
}

std::optional<RangeOp> RangeOpOf(Tok t) {
  switch (t) {
    case Tok::kCountOverTime:
      return RangeOp::kCount;
    case Tok::kRate:
      return RangeOp::kRate;
    case Tok::kRateCounter:
      return RangeOp::kRateCounter;
    case Tok::kBytesOverTime:
      return RangeOp::kBytes;
    case Tok::kBytesRate:
      return RangeOp::kBytesRate;
    case Tok::kAvgOverTime:
      return RangeOp::kAvg;
    case Tok::kSumOverTime:
      return RangeOp::kSum;
    case Tok::kMinOverTime:
      return RangeOp::kMin;
    case Tok::kMaxOverTime:
      return RangeOp::kMax;
    case Tok::kStdvarOverTime:
      return RangeOp::kStdvar;
    case Tok::kStddevOverTime:
      return RangeOp::kStddev;
    case Tok::kQuantileOverTime:
      return RangeOp::kQuantile;
    case Tok::kFirstOverTime:
      return RangeOp::kFirst;
    case Tok::kLastOverTime:
      return RangeOp::kLast;
    case Tok::kAbsentOverTime:
      return RangeOp::kAbsent;
    default:
      return std::nullopt;
  }
}

std::optional<VectorOp> VectorOpOf(Tok t) {
  switch (t) {
    case Tok::kSum:
      return VectorOp::kSum;
    case Tok::kAvg:
      return VectorOp::kAvg;
    case Tok::kCount:
      return VectorOp::kCount;
    case Tok::kMax:
      return VectorOp::kMax;
    case Tok::kMin:
      return VectorOp::kMin;
    case Tok::kStddev:
      return VectorOp::kStddev;
    case Tok::kStdvar:
      return VectorOp::kStdvar;
    case Tok::kBottomk:
      return VectorOp::kBottomk;
    case Tok::kTopk:
      return VectorOp::kTopk;
    case Tok::kSort:
      return VectorOp::kSort;
    case Tok::kSortDesc:
      return VectorOp::kSortDesc;
    case Tok::kApproxTopk:
      return VectorOp::kApproxTopk;
    default:
      return std::nullopt;
  }
}

std::optional<LineMatch> LineMatchOf(Tok t) {
  switch (t) {
    case Tok::kPipeExact:
      return LineMatch::kContains;
    case Tok::kNeq:
      return LineMatch::kNotContains;
    case Tok::kPipeMatch:
      return LineMatch::kRegex;
    case Tok::kNre:
      return LineMatch::kNotRegex;
    case Tok::kPipePattern:
      return LineMatch::kPattern;
    case Tok::kNpa:
      return LineMatch::kNotPattern;
    default:
      return std::nullopt;
  }
}

std::optional<Cmp> CmpOf(Tok t) {
  switch (t) {
    case Tok::kEq:
    case Tok::kCmpEq:
      return Cmp::kEq;
    case Tok::kNeq:
      return Cmp::kNeq;
    case Tok::kGt:
      return Cmp::kGt;
    case Tok::kGte:
      return Cmp::kGte;
    case Tok::kLt:
      return Cmp::kLt;
    case Tok::kLte:
      return Cmp::kLte;
    default:
      return std::nullopt;
  }
}

std::optional<Matcher::Type> MatchTypeOf(Tok t) {
  switch (t) {
    case Tok::kEq:
      return Matcher::Type::kEqual;
    case Tok::kNeq:
      return Matcher::Type::kNotEqual;
    case Tok::kRe:
      return Matcher::Type::kRegex;
    case Tok::kNre:
      return Matcher::Type::kNotRegex;
    default:
      return std::nullopt;
  }
}

// Loki's names for the Go types of a log query in "unexpected type" errors.
std::string_view GoTypeName(const Expr& e) {
  return As<LogExpr>(e).selector.stages.empty() ? "*syntax.MatchersExpr" : "*syntax.PipelineExpr";
}

class Parser {
 public:
  explicit Parser(std::string_view q) : lex_(q) { Advance(); }

  ExprPtr ParseRoot() {
    ExprPtr e = ParseExpr(0);
    if (tok_.type != Tok::kEof) Unexpected({});
    return e;
  }

  // A query that must be a bare stream selector.
  std::vector<Matcher> ParseSelectorOnly() {
    ExprPtr e = ParseRoot();
    if (e->kind != ExprKind::kLog || !As<LogExpr>(*e).selector.stages.empty()) {
      throw NotMatchers{};
    }
    return std::move(static_cast<LogExpr&>(*e).selector.matchers);
  }
  struct NotMatchers {};

  // Loki checks these after parsing, walking the tree from the left.
  void Validate(const Expr& e) {
    if (auto it = deferred_.find(&e); it != deferred_.end()) FailAt0(it->second);
    switch (e.kind) {
      case ExprKind::kLog:
        ValidateMatchers(As<LogExpr>(e).selector.matchers);
        return;
      case ExprKind::kRangeAgg:
        ValidateMatchers(As<RangeAggregation>(e).selector.matchers);
        return;
      case ExprKind::kVectorAgg: {
        const auto& v = As<VectorAggregation>(e);
        if ((v.op == VectorOp::kSort || v.op == VectorOp::kSortDesc) &&
            !v.grouping.labels.empty()) {
          FailAt0("sort and sort_desc doesn't allow grouping by ");
        }
        Validate(*v.expr);
        return;
      }
      case ExprKind::kLabelReplace:
        Validate(*As<LabelReplaceExpr>(e).expr);
        return;
      case ExprKind::kBinary:
        Validate(*As<BinaryExpr>(e).lhs);
        Validate(*As<BinaryExpr>(e).rhs);
        return;
      case ExprKind::kLiteral:
      case ExprKind::kVector:
        return;
    }
  }

  static void ValidateMatchers(const std::vector<Matcher>& ms) {
    bool any = std::any_of(ms.begin(), ms.end(), [](const Matcher& m) { return !m.Matches(""); });
    if (!any) FailAt0(std::string(kNeedsMatcher));
  }

 private:
  void Advance() {
    if (has_peek_) {
      tok_ = std::move(peek_);
      has_peek_ = false;
      return;
    }
    tok_ = Lex();
  }
  Token Lex() {
    Token t = lex_.Next();
    if (t.type == Tok::kError) throw ParseFailure{lex_.error(), t.line, t.col};
    return t;
  }
  const Token& PeekToken() {
    if (!has_peek_) {
      peek_ = Lex();
      has_peek_ = true;
    }
    return peek_;
  }

  // A syntax error at the current token; `expected` is listed when the grammar allows at
  // most four tokens there, as Loki's parser does.
  [[noreturn]] void Unexpected(std::initializer_list<Tok> expected) {
    std::string msg = "syntax error: unexpected ";
    msg += TokName(tok_.type);
    std::vector<Tok> ex(expected);
    std::sort(ex.begin(), ex.end());
    if (!ex.empty() && ex.size() <= 4) {
      for (size_t i = 0; i < ex.size(); ++i) {
        msg += i == 0 ? ", expecting " : " or ";
        msg += TokName(ex[i]);
      }
    }
    throw ParseFailure{std::move(msg), tok_.line, tok_.col};
  }
  void Expect(Tok t, std::initializer_list<Tok> expected) {
    if (tok_.type != t) Unexpected(expected);
    Advance();
  }
  std::string ExpectString() {
    if (tok_.type != Tok::kString) Unexpected({Tok::kString});
    std::string s = std::move(tok_.str);
    Advance();
    return s;
  }
  std::string ExpectIdentifier(std::initializer_list<Tok> expected) {
    if (tok_.type != Tok::kIdentifier) Unexpected(expected);
    std::string s = std::move(tok_.str);
    Advance();
    return s;
  }

  void Defer(const Expr* e, std::string msg) { deferred_.emplace(e, std::move(msg)); }

  // Bounds the recursion of the parser and of everything that walks the tree after it.
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) FailAt0("query nesting too deep");
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Parser& p_;
  };
  static constexpr int kMaxDepth = 200;

  // --- expressions ---

  ExprPtr ParseExpr(int min_prec) {
    ExprPtr lhs = ParseOperand();
    std::vector<std::unique_ptr<DepthGuard>> chain;  // a chain of operations nests too
    for (;;) {
      auto op = BinOpOf(tok_.type);
      if (!op || Precedence(*op) < min_prec) return lhs;
      chain.push_back(std::make_unique<DepthGuard>(*this));
      Advance();
      auto b = std::make_unique<BinaryExpr>();
      b->op = *op;
      ParseBinOpModifier(*b);
      b->rhs = ParseExpr(*op == BinOp::kPow ? Precedence(*op) : Precedence(*op) + 1);
      b->lhs = std::move(lhs);
      lhs = FinishBinary(std::move(b));
    }
  }

  void ParseBinOpModifier(BinaryExpr& b) {
    if (tok_.type == Tok::kBool) {
      b.return_bool = true;
      Advance();
    }
    if (tok_.type != Tok::kOn && tok_.type != Tok::kIgnoring) return;
    b.on = tok_.type == Tok::kOn;
    Advance();
    b.matching = ParseLabelList();
    if (tok_.type != Tok::kGroupLeft && tok_.type != Tok::kGroupRight) return;
    b.card = tok_.type == Tok::kGroupLeft ? Card::kManyToOne : Card::kOneToMany;
    Advance();
    if (tok_.type == Tok::kOpenParen) b.include = ParseLabelList();
  }

  // `( a, b )`, the current token being `(`.
  std::vector<std::string> ParseLabelList() {
    Expect(Tok::kOpenParen, {Tok::kOpenParen});
    std::vector<std::string> out;
    if (tok_.type == Tok::kCloseParen) {
      Advance();
      return out;
    }
    out.push_back(ExpectIdentifier({Tok::kIdentifier, Tok::kCloseParen}));
    while (tok_.type == Tok::kComma) {
      Advance();
      out.push_back(ExpectIdentifier({Tok::kIdentifier}));
    }
    Expect(Tok::kCloseParen, {Tok::kComma, Tok::kCloseParen});
    return out;
  }

  ExprPtr FinishBinary(std::unique_ptr<BinaryExpr> b) {
    std::string op(BinOpName(b->op));
    const Expr* self = b.get();
    if (!b->lhs->IsMetric()) {
      Defer(self, fmt::format("unexpected type for left leg of binary operation ({}): {}", op,
                              GoTypeName(*b->lhs)));
      return b;
    }
    if (!b->rhs->IsMetric()) {
      Defer(self, fmt::format("unexpected type for right leg of binary operation ({}): {}", op,
                              GoTypeName(*b->rhs)));
      return b;
    }
    bool l_lit = b->lhs->kind == ExprKind::kLiteral;
    bool r_lit = b->rhs->kind == ExprKind::kLiteral;
    // A literal whose own text was no number: Loki reports it in place of the operation.
    for (const Expr* side : {b->lhs.get(), b->rhs.get()}) {
      if (auto it = deferred_.find(side);
          it != deferred_.end() && side->kind == ExprKind::kLiteral) {
        Defer(self, it->second);
        return b;
      }
    }
    if (IsSetOp(b->op) && l_lit) {
      Defer(self, fmt::format("unexpected literal for left leg of logical/set binary operation "
                              "({}): {}",
                              op, GoFixed6(As<LiteralExpr>(*b->lhs).value)));
      return b;
    }
    if (IsSetOp(b->op) && r_lit) {
      Defer(self, fmt::format("unexpected literal for right leg of logical/set binary operation "
                              "({}): {}",
                              op, GoFixed6(As<LiteralExpr>(*b->rhs).value)));
      return b;
    }
    if (l_lit && r_lit) {
      auto lit = std::make_unique<LiteralExpr>();
      lit->value =
          FoldLiterals(b->op, As<LiteralExpr>(*b->lhs).value, As<LiteralExpr>(*b->rhs).value);
      return lit;
    }
    return b;
  }

  ExprPtr ParseOperand() {
    DepthGuard guard(*this);
    switch (tok_.type) {
      case Tok::kOpenBrace: {
        auto e = std::make_unique<LogExpr>();
        e->selector.matchers = ParseSelector();
        e->selector.stages = ParsePipeline();
        return e;
      }
      case Tok::kOpenParen: {
        Advance();
        ExprPtr e = ParseExpr(0);
        if (tok_.type != Tok::kCloseParen) Unexpected({});
        Advance();
        return e;
      }
      case Tok::kNumber:
      case Tok::kAdd:
      case Tok::kSub:
        return ParseLiteral();
      case Tok::kLabelReplace:
        return ParseLabelReplace();
      case Tok::kVector:
        return ParseVector();
      default:
        break;
    }
    if (auto op = RangeOpOf(tok_.type)) return ParseRangeAggregation(*op);
    if (auto op = VectorOpOf(tok_.type)) return ParseVectorAggregation(*op);
    Unexpected({});
  }

  ExprPtr ParseLiteral() {
    bool neg = tok_.type == Tok::kSub;
    if (tok_.type != Tok::kNumber) {
      Advance();
      if (tok_.type != Tok::kNumber) Unexpected({Tok::kNumber});
    }
    auto lit = std::make_unique<LiteralExpr>();
    std::string err;
    if (!ParseGoFloat(tok_.str, &lit->value, &err)) {
      Defer(lit.get(), "unable to parse literal as a float: " + err);
    }
    if (neg) lit->value = -lit->value;
    Advance();
    return lit;
  }

  ExprPtr ParseVector() {
    Advance();
    Expect(Tok::kOpenParen, {Tok::kOpenParen});
    if (tok_.type != Tok::kNumber) Unexpected({Tok::kNumber});
    auto v = std::make_unique<VectorExpr>();
    std::string err;
    if (!ParseGoFloat(tok_.str, &v->value, &err)) {
      Defer(v.get(), "unable to parse vectorExpr as a float: " + err);
    }
    Advance();
    Expect(Tok::kCloseParen, {Tok::kCloseParen});
    return v;
  }

  ExprPtr ParseLabelReplace() {
    Advance();
    Expect(Tok::kOpenParen, {Tok::kOpenParen});
    auto l = std::make_unique<LabelReplaceExpr>();
    l->expr = ParseMetricExpr();
    std::string* fields[] = {&l->dst, &l->replacement, &l->src, &l->regex};
    for (std::string* f : fields) {
      Expect(Tok::kComma,
             f == &l->dst ? std::initializer_list<Tok>{} : std::initializer_list<Tok>{Tok::kComma});
      *f = ExpectString();
    }
    Expect(Tok::kCloseParen, {Tok::kCloseParen});
    auto re = Matcher::Make(Matcher::Type::kRegex, "", l->regex);
    if (!re.ok())
      Defer(l.get(), "invalid regex in label_replace: " + std::string(re.status().message()));
    return l;
  }

  // An expression that must be a metric query: a log query there is a syntax error at the
  // token after it, as in Loki's grammar.
  ExprPtr ParseMetricExpr() {
    ExprPtr e = ParseExpr(0);
    if (!e->IsMetric()) Unexpected({});
    return e;
  }

  std::optional<Grouping> ParseGrouping() {
    if (tok_.type != Tok::kBy && tok_.type != Tok::kWithout) return std::nullopt;
    Grouping g;
    g.without = tok_.type == Tok::kWithout;
    Advance();
    g.labels = ParseLabelList();
    return g;
  }

  ExprPtr ParseVectorAggregation(VectorOp op) {
    Advance();
    auto v = std::make_unique<VectorAggregation>();
    v->op = op;
    std::optional<Grouping> g = ParseGrouping();
    Expect(Tok::kOpenParen,
           g ? std::initializer_list<Tok>{Tok::kOpenParen}
             : std::initializer_list<Tok>{Tok::kOpenParen, Tok::kBy, Tok::kWithout});
    std::optional<std::string> param;
    if (tok_.type == Tok::kNumber && PeekToken().type == Tok::kComma) {
      param = tok_.str;
      Advance();
      Advance();
    }
    v->expr = ParseMetricExpr();
    Expect(Tok::kCloseParen, {});
    if (!g) g = ParseGrouping();
    bool k_op = op == VectorOp::kTopk || op == VectorOp::kBottomk || op == VectorOp::kApproxTopk;
    std::string name(VectorOpName(op));
    if (k_op) {
      if (!param) {
        Defer(v.get(), "parameter required for operation " + name);
      } else if (!GoAtoi(*param, &v->param)) {
        Defer(v.get(), fmt::format("invalid parameter {}({},", name, *param));
      } else if (v->param <= 0) {
        Defer(v.get(),
              fmt::format("invalid parameter (must be greater than 0) {}({}", name, *param));
      } else if (op == VectorOp::kApproxTopk && g) {
        Defer(v.get(), "grouping not allowed for approx_topk aggregation");
      }
    } else if (param) {
      Defer(v.get(), fmt::format("unsupported parameter for operation {}({},", name, *param));
    }
    if (g) v->grouping = std::move(*g);
    return v;
  }

  ExprPtr ParseRangeAggregation(RangeOp op) {
    Advance();
    Expect(Tok::kOpenParen, {Tok::kOpenParen});
    auto r = std::make_unique<RangeAggregation>();
    r->op = op;
    std::optional<std::string> param;
    if (tok_.type == Tok::kNumber) {
      param = tok_.str;
      Advance();
      Expect(Tok::kComma, {Tok::kComma});
    } else if (tok_.type != Tok::kOpenBrace && tok_.type != Tok::kOpenParen) {
      Unexpected({Tok::kNumber, Tok::kOpenBrace, Tok::kOpenParen});
    }
    ParseLogRange(*r);
    Expect(Tok::kCloseParen, {});
    r->grouping = ParseGrouping();
    std::string name(RangeOpName(op));
    if (param) {
      double p = 0;
      std::string err;
      if (op != RangeOp::kQuantile) {
        Defer(r.get(), fmt::format("parameter {} not supported for operation {}", *param, name));
      } else if (!ParseGoFloat(*param, &p, &err)) {
        Defer(r.get(), fmt::format("invalid parameter for operation {}: {}", name, err));
      } else {
        r->param = p;
      }
    } else if (op == RangeOp::kQuantile) {
      Defer(r.get(), "parameter required for operation " + name);
    }
    if (!deferred_.contains(r.get())) {
      if (auto err = CheckRangeAggregation(*r)) Defer(r.get(), *err);
    }
    return r;
  }

  static std::optional<std::string> CheckRangeAggregation(const RangeAggregation& r) {
    std::string name(RangeOpName(r.op));
    bool unwrapped_op = r.op == RangeOp::kAvg || r.op == RangeOp::kStddev ||
                        r.op == RangeOp::kStdvar || r.op == RangeOp::kQuantile ||
                        r.op == RangeOp::kMax || r.op == RangeOp::kMin || r.op == RangeOp::kFirst ||
                        r.op == RangeOp::kLast;
    if (r.grouping && !unwrapped_op) return "grouping not allowed for " + name + " aggregation";
    if (r.unwrap) {
      if (unwrapped_op || r.op == RangeOp::kSum || r.op == RangeOp::kRate ||
          r.op == RangeOp::kRateCounter || r.op == RangeOp::kAbsent) {
        return std::nullopt;
      }
      return "invalid aggregation " + name + " with unwrap";
    }
    if (r.op == RangeOp::kBytes || r.op == RangeOp::kBytesRate || r.op == RangeOp::kCount ||
        r.op == RangeOp::kRate || r.op == RangeOp::kAbsent) {
      return std::nullopt;
    }
    return "invalid aggregation " + name + " without unwrap";
  }

  // The forms Loki takes: `{..} |.. [5m]`, `{..} [5m] |..`, `({..} |..)[5m]`, each with
  // offset and unwrap in their places, and any of them in parentheses.
  void ParseLogRange(RangeAggregation& r) {
    DepthGuard guard(*this);
    if (tok_.type == Tok::kOpenParen) {
      Advance();
      if (tok_.type == Tok::kOpenParen) {
        ParseLogRange(r);
        Expect(Tok::kCloseParen, {});
        return;
      }
      if (tok_.type != Tok::kOpenBrace) Unexpected({Tok::kOpenBrace, Tok::kOpenParen});
      r.selector.matchers = ParseSelector();
      r.selector.stages = ParsePipeline();
      bool inner = !r.selector.stages.empty();
      if (IsUnwrapAhead()) {
        r.unwrap = ParseUnwrap();
        inner = true;
      }
      if (tok_.type == Tok::kRange) {  // the whole range expression is in parentheses
        FinishRangeAfterSelector(r);
        Expect(Tok::kCloseParen, {});
        return;
      }
      Expect(Tok::kCloseParen, {});
      ParseRangeToken(r, {Tok::kRange});
      ParseOffset(r);
      if (!inner && IsUnwrapAhead()) r.unwrap = ParseUnwrap();
      return;
    }
    if (tok_.type != Tok::kOpenBrace) Unexpected({Tok::kOpenBrace, Tok::kOpenParen});
    r.selector.matchers = ParseSelector();
    if (tok_.type == Tok::kRange) {
      FinishRangeAfterSelector(r);
      return;
    }
    r.selector.stages = ParsePipeline();
    if (IsUnwrapAhead()) r.unwrap = ParseUnwrap();
    ParseRangeToken(r, {});
    ParseOffset(r);
  }

  // `[5m] [offset 1h] [| pipeline] [| unwrap ...]` after a bare selector.
  void FinishRangeAfterSelector(RangeAggregation& r) {
    ParseRangeToken(r, {});
    ParseOffset(r);
    if (r.selector.stages.empty() && !r.unwrap) {
      r.selector.stages = ParsePipeline();
      if (IsUnwrapAhead()) r.unwrap = ParseUnwrap();
    }
  }

  void ParseRangeToken(RangeAggregation& r, std::initializer_list<Tok> expected) {
    if (tok_.type != Tok::kRange) Unexpected(expected);
    r.range_ns = tok_.dur_ns;
    Advance();
  }

  void ParseOffset(RangeAggregation& r) {
    if (tok_.type != Tok::kOffset) return;
    Advance();
    if (tok_.type != Tok::kDuration) Unexpected({Tok::kDuration});
    r.offset_ns = tok_.dur_ns;
    Advance();
  }

  bool IsUnwrapAhead() { return tok_.type == Tok::kPipe && PeekToken().type == Tok::kUnwrap; }

  Unwrap ParseUnwrap() {
    Advance();  // |
    Advance();  // unwrap
    Unwrap u;
    switch (tok_.type) {
      case Tok::kIdentifier:
        u.label = tok_.str;
        Advance();
        break;
      case Tok::kBytesConv:
      case Tok::kDurationConv:
      case Tok::kDurationSecondsConv:
        u.conv = tok_.type == Tok::kBytesConv      ? Conv::kBytes
                 : tok_.type == Tok::kDurationConv ? Conv::kDuration
                                                   : Conv::kDurationSeconds;
        Advance();
        Expect(Tok::kOpenParen, {Tok::kOpenParen});
        u.label = ExpectIdentifier({Tok::kIdentifier});
        Expect(Tok::kCloseParen, {Tok::kCloseParen});
        break;
      default:
        Unexpected(
            {Tok::kIdentifier, Tok::kBytesConv, Tok::kDurationConv, Tok::kDurationSecondsConv});
    }
    while (tok_.type == Tok::kPipe) {
      Advance();
      u.post_filters.push_back(ParseLabelFilter());
    }
    return u;
  }

  // --- selectors and pipelines ---

  std::vector<Matcher> ParseSelector() {
    Advance();  // {
    std::vector<Matcher> out;
    if (tok_.type == Tok::kCloseBrace) {
      Advance();
      return out;
    }
    out.push_back(ParseMatcher({Tok::kIdentifier, Tok::kCloseBrace}));
    while (tok_.type == Tok::kComma) {
      Advance();
      out.push_back(ParseMatcher({Tok::kIdentifier}));
    }
    Expect(Tok::kCloseBrace, {Tok::kCloseBrace, Tok::kComma});
    return out;
  }

  Matcher ParseMatcher(std::initializer_list<Tok> expected) {
    std::string name = ExpectIdentifier(expected);
    auto type = MatchTypeOf(tok_.type);
    if (!type) Unexpected({Tok::kEq, Tok::kRe, Tok::kNre, Tok::kNeq});
    Advance();
    return MakeMatcher(*type, std::move(name), ExpectString());
  }

  static Matcher MakeMatcher(Matcher::Type type, std::string name, std::string value) {
    auto m = Matcher::Make(type, std::move(name), std::move(value));
    if (!m.ok()) FailAt0(std::string(m.status().message()));
    return std::move(*m);
  }

  std::vector<Stage> ParsePipeline() {
    std::vector<Stage> stages;
    for (;;) {
      if (LineMatchOf(tok_.type)) {
        stages.push_back(ParseLineFilters());
        continue;
      }
      if (tok_.type != Tok::kPipe || PeekToken().type == Tok::kUnwrap) return stages;
      Advance();
      stages.push_back(ParseStage());
    }
  }

  Stage ParseLineFilters() {
    Stage st;
    st.kind = StageKind::kLineFilter;
    while (auto m = LineMatchOf(tok_.type)) {
      Advance();
      LineFilter f;
      f.match = *m;
      f.any.push_back(ParseLineFilterArg());
      while (tok_.type == Tok::kOr) {
        Advance();
        f.any.push_back(ParseLineFilterArg());
      }
      if (IsNegative(f.match) && f.any.size() > 1) {
        // Not (a or b) is (not a) and (not b): Loki keeps them as separate filters.
        for (auto& a : f.any) st.filters.push_back(LineFilter{f.match, {std::move(a)}});
      } else {
        st.filters.push_back(std::move(f));
      }
    }
    return st;
  }

  LineFilterArg ParseLineFilterArg() {
    LineFilterArg a;
    if (tok_.type == Tok::kIp) {
      Advance();
      Expect(Tok::kOpenParen, {Tok::kOpenParen});
      a.ip = true;
      a.value = ExpectString();
      Expect(Tok::kCloseParen, {Tok::kCloseParen});
      return a;
    }
    if (tok_.type != Tok::kString) Unexpected({Tok::kString, Tok::kIp});
    a.value = std::move(tok_.str);
    Advance();
    return a;
  }

  Stage ParseStage() {
    Stage st;
    switch (tok_.type) {
      case Tok::kLogfmt:
        st.kind = StageKind::kLogfmt;
        Advance();
        while (tok_.type == Tok::kFunctionFlag) {
          (tok_.str == "--strict" ? st.strict : st.keep_empty) = true;
          Advance();
        }
        if (tok_.type == Tok::kIdentifier) st.extractions = ParseExtractions();
        return st;
      case Tok::kJson:
        st.kind = StageKind::kJson;
        Advance();
        if (tok_.type == Tok::kIdentifier) st.extractions = ParseExtractions();
        return st;
      case Tok::kRegexp:
      case Tok::kPattern: {
        bool regexp = tok_.type == Tok::kRegexp;
        st.kind = regexp ? StageKind::kRegexp : StageKind::kPattern;
        Advance();
        st.param = ExpectString();
        if (auto err = regexp ? CheckRegexpParser(st.param) : CheckPattern(st.param)) {
          FailAt0(fmt::format("invalid {} parser: {}", regexp ? "regexp" : "pattern", *err));
        }
        return st;
      }
      case Tok::kUnpack:
        st.kind = StageKind::kUnpack;
        Advance();
        return st;
      case Tok::kLineFmt:
        st.kind = StageKind::kLineFormat;
        Advance();
        st.param = ExpectString();
        return st;
      case Tok::kDecolorize:
        st.kind = StageKind::kDecolorize;
        Advance();
        return st;
      case Tok::kLabelFmt:
        st.kind = StageKind::kLabelFormat;
        Advance();
        st.label_fmts.push_back(ParseLabelFmt());
        while (tok_.type == Tok::kComma) {
          Advance();
          st.label_fmts.push_back(ParseLabelFmt());
        }
        return st;
      case Tok::kDrop:
      case Tok::kKeep:
        st.kind = tok_.type == Tok::kDrop ? StageKind::kDrop : StageKind::kKeep;
        Advance();
        st.named.push_back(ParseNamedMatcher());
        while (tok_.type == Tok::kComma) {
          Advance();
          st.named.push_back(ParseNamedMatcher());
        }
        return st;
      case Tok::kIdentifier:
      case Tok::kOpenParen:
        st.kind = StageKind::kLabelFilter;
        st.label_filter = ParseLabelFilter();
        return st;
      default:
        Unexpected({});
    }
  }

  std::vector<Extraction> ParseExtractions() {
    std::vector<Extraction> out;
    for (;;) {
      Extraction x;
      x.label = ExpectIdentifier({Tok::kIdentifier});
      if (tok_.type == Tok::kEq) {
        Advance();
        x.expr = ExpectString();
      } else {
        x.expr = x.label;
      }
      out.push_back(std::move(x));
      if (tok_.type != Tok::kComma) return out;
      Advance();
    }
  }

  LabelFmt ParseLabelFmt() {
    LabelFmt f;
    f.dst = ExpectIdentifier({Tok::kIdentifier});
    Expect(Tok::kEq, {Tok::kEq});
    if (tok_.type == Tok::kIdentifier) {
      f.rename = true;
      f.value = tok_.str;
    } else if (tok_.type == Tok::kString) {
      f.value = tok_.str;
    } else {
      Unexpected({Tok::kIdentifier, Tok::kString});
    }
    Advance();
    return f;
  }

  NamedMatcher ParseNamedMatcher() {
    NamedMatcher n;
    n.name = ExpectIdentifier({Tok::kIdentifier});
    if (auto type = MatchTypeOf(tok_.type)) {
      Advance();
      n.matcher = MakeMatcher(*type, std::move(n.name), ExpectString());
      n.name.clear();
    }
    return n;
  }

  // Label filters: `and` binds tighter than `or`; `,` and juxtaposition join a filter with
  // everything after it, as Loki's grammar resolves them.
  std::unique_ptr<LabelFilter> ParseLabelFilter() {
    auto lhs = ParseLabelFilterAnd();
    std::vector<std::unique_ptr<DepthGuard>> chain;  // the tree nests one level per operator
    while (tok_.type == Tok::kOr) {
      chain.push_back(std::make_unique<DepthGuard>(*this));
      Advance();
      lhs = Join(LabelFilter::Kind::kOr, std::move(lhs), ParseLabelFilterAnd());
    }
    return lhs;
  }

  std::unique_ptr<LabelFilter> ParseLabelFilterAnd() {
    auto lhs = ParseLabelFilterUnit();
    std::vector<std::unique_ptr<DepthGuard>> chain;
    while (tok_.type == Tok::kAnd) {
      chain.push_back(std::make_unique<DepthGuard>(*this));
      Advance();
      lhs = Join(LabelFilter::Kind::kAnd, std::move(lhs), ParseLabelFilterUnit());
    }
    return lhs;
  }

  std::unique_ptr<LabelFilter> ParseLabelFilterUnit() {
    DepthGuard guard(*this);
    auto atom = ParseLabelFilterAtom();
    if (tok_.type == Tok::kComma) {
      Advance();
      return Join(LabelFilter::Kind::kAnd, std::move(atom), ParseLabelFilter());
    }
    if (tok_.type == Tok::kIdentifier || tok_.type == Tok::kOpenParen) {
      return Join(LabelFilter::Kind::kAnd, std::move(atom), ParseLabelFilter());
    }
    return atom;
  }

  static std::unique_ptr<LabelFilter> Join(LabelFilter::Kind k, std::unique_ptr<LabelFilter> l,
                                           std::unique_ptr<LabelFilter> r) {
    auto f = std::make_unique<LabelFilter>();
    f->kind = k;
    f->lhs = std::move(l);
    f->rhs = std::move(r);
    return f;
  }

  std::unique_ptr<LabelFilter> ParseLabelFilterAtom() {
    if (tok_.type == Tok::kOpenParen) {
      Advance();
      auto f = ParseLabelFilter();
      Expect(Tok::kCloseParen, {});
      return f;
    }
    auto f = std::make_unique<LabelFilter>();
    f->name = ExpectIdentifier({Tok::kIdentifier, Tok::kOpenParen});
    Tok op = tok_.type;
    auto cmp = CmpOf(op);
    bool matcher_op = MatchTypeOf(op).has_value();
    if (!cmp && !matcher_op) {
      Unexpected({});
    }
    Advance();
    if (tok_.type == Tok::kString && matcher_op) {
      f->kind = LabelFilter::Kind::kString;
      f->matcher = MakeMatcher(*MatchTypeOf(op), std::move(f->name), std::move(tok_.str));
      f->name.clear();
      Advance();
      return f;
    }
    if (op == Tok::kRe || op == Tok::kNre) Unexpected({Tok::kString});
    if (tok_.type == Tok::kIp && (op == Tok::kEq || op == Tok::kNeq)) {
      Advance();
      Expect(Tok::kOpenParen, {Tok::kOpenParen});
      f->kind = LabelFilter::Kind::kIp;
      f->cmp = *cmp;
      f->ip = ExpectString();
      Expect(Tok::kCloseParen, {Tok::kCloseParen});
      return f;
    }
    f->cmp = *cmp;
    switch (tok_.type) {
      case Tok::kDuration:
        f->kind = LabelFilter::Kind::kDuration;
        f->duration_ns = tok_.dur_ns;
        Advance();
        return f;
      case Tok::kBytes:
        f->kind = LabelFilter::Kind::kBytes;
        f->bytes = tok_.bytes;
        Advance();
        return f;
      case Tok::kNumber:
      case Tok::kAdd:
      case Tok::kSub: {
        bool neg = tok_.type == Tok::kSub;
        if (tok_.type != Tok::kNumber) {
          Advance();
          if (tok_.type != Tok::kNumber) Unexpected({Tok::kNumber});
        }
        f->kind = LabelFilter::Kind::kNumber;
        std::string err;
        if (!ParseGoFloat(tok_.str, &f->number, &err)) {
          FailAt0("unable to parse literal as a float: " + err);
        }
        // -0 compares as 0, and printed as "-0" it would read back as a duration.
        if (neg && f->number != 0) f->number = -f->number;
        Advance();
        return f;
      }
      default:
        Unexpected({});
    }
  }

  // The checks Loki's regexp and pattern parsers make when a query is parsed.
  static std::optional<std::string> CheckRegexpParser(const std::string& re) {
    auto compiled = CompileLineRegex(re);
    if (!compiled.ok()) return std::string(compiled.status().message());
    if ((*compiled)->NamedCapturingGroups().empty()) {
      return std::string("at least one named capture must be supplied");
    }
    return std::nullopt;
  }

  static std::optional<std::string> CheckPattern(const std::string& p) {
    auto nodes = ParsePattern(p, PatternUse::kParser);
    if (!nodes.ok()) return std::string(nodes.status().message());
    return std::nullopt;
  }

  int depth_ = 0;
  Lexer lex_;
  Token tok_;
  Token peek_;
  bool has_peek_ = false;
  // Errors Loki finds only when it validates the tree, reported in its order.
  std::unordered_map<const Expr*, std::string> deferred_;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view query) {
  if (query.size() >= kMaxQuerySize) {
    return Status::InvalidArgument(FormatError(ParseFailure{
        fmt::format("input size too long ({} > {})", query.size(), kMaxQuerySize), 0, 0}));
  }
  try {
    Parser p(query);
    ExprPtr e = p.ParseRoot();
    p.Validate(*e);
    return e;
  } catch (const ParseFailure& f) {
    return Status::InvalidArgument(FormatError(f));
  }
}

Result<std::vector<Matcher>> ParseMatchers(std::string_view selector, bool validate) {
  if (selector.size() >= kMaxQuerySize) {
    return Status::InvalidArgument(FormatError(ParseFailure{
        fmt::format("input size too long ({} > {})", selector.size(), kMaxQuerySize), 0, 0}));
  }
  try {
    Parser p(selector);
    auto ms = p.ParseSelectorOnly();
    if (validate) Parser::ValidateMatchers(ms);
    return ms;
  } catch (const ParseFailure& f) {
    return Status::InvalidArgument(FormatError(f));
  } catch (const Parser::NotMatchers&) {
    return Status::InvalidArgument("only label matchers are supported");
  }
}

}  // namespace strata::logql
