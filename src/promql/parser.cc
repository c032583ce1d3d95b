#include "promql/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "base/units.h"
#include "promql/functions.h"
#include "promql/lexer.h"

namespace strata::promql {

namespace {

// Thrown inside the parser only; ParseExpr turns it into a Status.
struct ParseError {
  int pos;
  std::string msg;
};

std::string FormatParseError(std::string_view query, int pos, std::string_view msg) {
  int line = 1;
  int last_break = -1;
  for (int i = 0; i < pos && i < static_cast<int>(query.size()); ++i) {
    if (query[i] == '\n') {
      last_break = i;
      ++line;
    }
  }
  return fmt::format("{}:{}: parse error: {}", line, pos - last_break, msg);
}

int Precedence(Tok t) {
  switch (t) {
    case Tok::kOr:
      return 1;
    case Tok::kAnd:
    case Tok::kUnless:
      return 2;
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kLte:
    case Tok::kLss:
    case Tok::kGte:
    case Tok::kGtr:
      return 3;
    case Tok::kAdd:
    case Tok::kSub:
      return 4;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kAtan2:
      return 5;
    case Tok::kPow:
      return 6;
    default:
      return -1;
  }
}
constexpr int kUnaryOperandPrecedence = 6;  // unary minus binds like `*`: -a^b = -(a^b)

BinOp ToBinOp(Tok t) {
  switch (t) {
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
    case Tok::kAtan2:
      return BinOp::kAtan2;
    case Tok::kEqlc:
      return BinOp::kEql;
    case Tok::kNeq:
      return BinOp::kNeq;
    case Tok::kGtr:
      return BinOp::kGtr;
    case Tok::kLss:
      return BinOp::kLss;
    case Tok::kGte:
      return BinOp::kGte;
    case Tok::kLte:
      return BinOp::kLte;
    case Tok::kAnd:
      return BinOp::kAnd;
    case Tok::kOr:
      return BinOp::kOr;
    default:
      return BinOp::kUnless;
  }
}

std::optional<AggOp> ToAggOp(std::string_view word) {
  std::string w(word);
  std::transform(w.begin(), w.end(), w.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::pair<std::string_view, AggOp> kOps[] = {
      {"sum", AggOp::kSum},
      {"avg", AggOp::kAvg},
      {"count", AggOp::kCount},
      {"min", AggOp::kMin},
      {"max", AggOp::kMax},
      {"group", AggOp::kGroup},
      {"stddev", AggOp::kStddev},
      {"stdvar", AggOp::kStdvar},
      {"topk", AggOp::kTopk},
      {"bottomk", AggOp::kBottomk},
      {"count_values", AggOp::kCountValues},
      {"quantile", AggOp::kQuantile},
      {"limitk", AggOp::kLimitk},
      {"limit_ratio", AggOp::kLimitRatio},
  };
  for (const auto& [name, op] : kOps) {
    if (name == w) return op;
  }
  return std::nullopt;
}

bool AggTakesParam(AggOp op) {
  return op == AggOp::kTopk || op == AggOp::kBottomk || op == AggOp::kCountValues ||
         op == AggOp::kQuantile || op == AggOp::kLimitk || op == AggOp::kLimitRatio;
}

bool IsKeywordLike(Tok t) {
  switch (t) {
    case Tok::kAnd:
    case Tok::kOr:
    case Tok::kUnless:
    case Tok::kAtan2:
    case Tok::kAggregator:
    case Tok::kBool:
    case Tok::kBy:
    case Tok::kWithout:
    case Tok::kOn:
    case Tok::kIgnoring:
    case Tok::kGroupLeft:
    case Tok::kGroupRight:
    case Tok::kOffset:
    case Tok::kStart:
    case Tok::kEnd:
      return true;
    default:
      return false;
  }
}

Result<double> ParseNumber(std::string_view text) {
  std::string s(text);
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "inf") return HUGE_VAL;
  if (lower == "nan") return std::nan("");
  // Go's ParseInt with base 0 first (hex, octal), then ParseFloat, as Prometheus does.
  if (lower.size() > 2 && lower[0] == '0' && lower[1] == 'x') {
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str() + 2, &end, 16);
    if (*end != '\0' || errno != 0) return Status::InvalidArgument("invalid number");
    return static_cast<double>(v);
  }
  if (s.size() > 1 && s[0] == '0' &&
      std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return static_cast<double>(std::strtoull(s.c_str(), nullptr, 8));
  }
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return Status::InvalidArgument("invalid number");
  return v;
}

class Parser {
 public:
  explicit Parser(std::string_view query) : query_(query) {
    Lexer lex(query);
    for (;;) {
      Token t = lex.Next();
      if (t.type == Tok::kError) throw ParseError{t.pos, lex.error()};
      toks_.push_back(t);
      if (t.type == Tok::kEof) break;
    }
  }

  ExprPtr ParseTop() {
    if (Peek().type == Tok::kEof) throw ParseError{0, "no expression found in input"};
    ExprPtr e = ParseBinary(0);
    if (Peek().type != Tok::kEof) Unexpected("");
    return e;
  }

  std::vector<Matcher> ParseSelectorOnly() {
    ExprPtr e = ParseTop();
    if (e->kind != ExprKind::kVectorSelector) {
      throw ParseError{
          0, fmt::format("expected type vector selector, got {}", ValueTypeName(e->Type()))};
    }
    auto& vs = static_cast<VectorSelector&>(*e);
    if (vs.offset_ms != 0 || vs.at.present()) {
      throw ParseError{0, "unexpected offset or @ modifier in series selector"};
    }
    return std::move(vs.matchers);
  }

  std::pair<Labels, size_t> ParseSeriesDesc() {
    Labels out;
    std::string name;
    if (Peek().type == Tok::kIdentifier || Peek().type == Tok::kMetricIdentifier ||
        IsKeywordLike(Peek().type)) {
      name = std::string(Next().text);
    }
    if (Peek().type == Tok::kLeftBrace) {
      Next();
      while (Peek().type != Tok::kRightBrace) {
        std::string lname = LabelName();
        if (Peek().type != Tok::kAssign) {
          if (name.empty() && (Peek().type == Tok::kComma || Peek().type == Tok::kRightBrace) &&
              toks_[idx_ - 1].type == Tok::kString) {
            name = lname;  // {"metric.name", ...}
          } else {
            Unexpected("label matching");
          }
        } else {
          Next();
          out.push_back({lname, StringValue()});
        }
        if (Peek().type == Tok::kComma) {
          Next();
        } else if (Peek().type != Tok::kRightBrace) {
          Unexpected("label matching");
        }
      }
      Next();
    }
    if (!name.empty()) out.push_back({std::string(kMetricNameLabel), name});
    std::sort(out.begin(), out.end());
    for (size_t i = 1; i < out.size(); ++i) {
      if (out[i].name == out[i - 1].name) {
        throw ParseError{0, fmt::format("label {} given twice", out[i].name)};
      }
    }
    const Token& end = toks_[idx_ - 1];
    return {std::move(out), static_cast<size_t>(end.pos) + end.text.size()};
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(idx_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& Next() {
    const Token& t = toks_[idx_];
    if (idx_ + 1 < toks_.size()) ++idx_;
    return t;
  }
  [[noreturn]] void Unexpected(std::string_view context, std::string_view expected = "") {
    const Token& t = Peek();
    std::string msg = "unexpected " + DescribeToken(t);
    if (!context.empty()) msg += fmt::format(" in {}", context);
    if (!expected.empty()) msg += fmt::format(", expected {}", expected);
    throw ParseError{t.pos, msg};
  }
  void Expect(Tok t, std::string_view context, std::string_view expected) {
    if (Peek().type != t) Unexpected(context, expected);
    Next();
  }
  [[noreturn]] static void Fail(const Expr& at, std::string msg) {
    throw ParseError{at.pos.start, std::move(msg)};
  }
  int EndOfPrev() const {
    const Token& t = toks_[idx_ - 1];
    return t.pos + static_cast<int>(t.text.size());
  }

  // Bounds recursion (parser, printer and evaluator all recurse over the tree).
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) {
        throw ParseError{p_.Peek().pos, "expression nesting too deep"};
      }
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };
  static constexpr int kMaxDepth = 200;

  ExprPtr ParseBinary(int min_prec) {
    DepthGuard guard(*this);
    ExprPtr lhs = ParseUnary();
    for (;;) {
      Tok t = Peek().type;
      int prec = Precedence(t);
      if (prec < 0 || prec < min_prec) return lhs;
      const Token op_tok = Next();
      auto bin = std::make_unique<BinaryExpr>();
      bin->op = ToBinOp(t);
      // After an arithmetic operator `bool` can only be a metric name.
      if (Peek().type == Tok::kBool && IsComparison(bin->op)) {
        Next();
        bin->return_bool = true;
      }
      VectorMatching vm;
      // on/ignoring without a label list can only be a metric name.
      if ((Peek().type == Tok::kOn || Peek().type == Tok::kIgnoring) &&
          Peek(1).type == Tok::kLeftParen) {
        vm.on = Next().type == Tok::kOn;
        vm.written = true;
        vm.labels = GroupingLabels();
      }
      // group_left/group_right only follow on(...) or ignoring(...).
      if (vm.written && (Peek().type == Tok::kGroupLeft || Peek().type == Tok::kGroupRight)) {
        vm.card =
            Next().type == Tok::kGroupLeft ? Cardinality::kManyToOne : Cardinality::kOneToMany;
        vm.written = true;
        if (Peek().type == Tok::kLeftParen) vm.include = GroupingLabels();
      }
      int next_min = t == Tok::kPow ? prec : prec + 1;
      bin->rhs = ParseBinary(next_min);
      bin->pos = {lhs->pos.start, bin->rhs->pos.end};
      bin->lhs = std::move(lhs);
      CheckBinary(*bin, std::move(vm), op_tok);
      lhs = std::move(bin);
    }
  }

  void CheckBinary(BinaryExpr& b, VectorMatching vm, const Token& op_tok) {
    ValueType lt = b.lhs->Type();
    ValueType rt = b.rhs->Type();
    auto op_err = [&](std::string msg) { throw ParseError{op_tok.pos, std::move(msg)}; };
    if (b.return_bool && !IsComparison(b.op)) {
      op_err("bool modifier can only be used on comparison operators");
    }
    if (IsComparison(b.op) && !b.return_bool && lt == ValueType::kScalar &&
        rt == ValueType::kScalar) {
      op_err("comparisons between scalars must use BOOL modifier");
    }
    if (IsSetOperator(b.op) && vm.card == Cardinality::kOneToOne) {
      vm.card = Cardinality::kManyToMany;
    }
    if (vm.on) {
      for (const auto& l : vm.labels) {
        if (std::find(vm.include.begin(), vm.include.end(), l) != vm.include.end()) {
          op_err(fmt::format("label \"{}\" must not occur in ON and GROUP clause at once", l));
        }
      }
    }
    auto operand_ok = [](ValueType t) {
      return t == ValueType::kScalar || t == ValueType::kVector;
    };
    if (!operand_ok(lt))
      Fail(*b.lhs, "binary expression must contain only scalar and instant vector types");
    if (!operand_ok(rt))
      Fail(*b.rhs, "binary expression must contain only scalar and instant vector types");
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!vm.labels.empty()) op_err("vector matching only allowed between instant vectors");
      if (IsSetOperator(b.op)) {
        op_err(fmt::format("set operator \"{}\" not allowed in binary scalar expression",
                           BinOpName(b.op)));
      }
      return;
    }
    if (IsSetOperator(b.op) &&
        (vm.card == Cardinality::kOneToMany || vm.card == Cardinality::kManyToOne)) {
      op_err(fmt::format("no grouping allowed for \"{}\" operation", BinOpName(b.op)));
    }
    b.matching = std::move(vm);
  }

  ExprPtr ParseUnary() {
    if (Peek().type == Tok::kSub || Peek().type == Tok::kAdd) {
      const Token op = Next();
      ExprPtr operand = ParseBinary(kUnaryOperandPrecedence);
      if (operand->kind == ExprKind::kNumber) {
        auto& n = static_cast<NumberLiteral&>(*operand);
        if (op.type == Tok::kSub) n.val = -n.val;
        n.pos.start = op.pos;
        return operand;
      }
      ValueType t = operand->Type();
      if (t != ValueType::kScalar && t != ValueType::kVector) {
        Fail(*operand, fmt::format("unary expression only allowed on expressions of type scalar "
                                   "or instant vector, got \"{}\"",
                                   ValueTypeName(t)));
      }
      // Unary plus changes nothing; dropping it keeps printing and reparsing stable.
      if (op.type == Tok::kAdd) {
        operand->pos.start = op.pos;
        return operand;
      }
      auto u = std::make_unique<UnaryExpr>();
      u->pos = {op.pos, operand->pos.end};
      u->expr = std::move(operand);
      return u;
    }
    return ParsePostfix(ParsePrimary());
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    for (;;) {
      switch (Peek().type) {
        case Tok::kLeftBracket:
          e = ParseRangeOrSubquery(std::move(e));
          break;
        case Tok::kOffset:
          ParseOffset(*e);
          break;
        case Tok::kAt:
          ParseAt(*e);
          break;
        default:
          return e;
      }
    }
  }

  int64_t DurationValue(std::string_view context, bool allow_sign) {
    bool neg = false;
    if (allow_sign && (Peek().type == Tok::kSub || Peek().type == Tok::kAdd)) {
      neg = Next().type == Tok::kSub;
    }
    const Token& t = Peek();
    int64_t ms = 0;
    if (t.type == Tok::kDuration) {
      auto d = ParseDurationMillis(t.text);
      if (!d.ok()) throw ParseError{t.pos, d.status().message()};
      ms = d.value();
    } else if (t.type == Tok::kNumber) {
      auto v = ParseNumber(t.text);
      if (!v.ok() || !std::isfinite(v.value()) || std::fabs(v.value()) > 9.2e15) {
        throw ParseError{t.pos, fmt::format("invalid duration \"{}\"", t.text)};
      }
      ms = static_cast<int64_t>(std::llround(v.value() * 1000));
    } else {
      Unexpected(context, "duration");
    }
    Next();
    return neg ? -ms : ms;
  }

  ExprPtr ParseRangeOrSubquery(ExprPtr e) {
    const Token open = Next();
    int64_t range = DurationValue("range", false);
    if (Peek().type == Tok::kRightBracket) {
      Next();
      if (e->kind != ExprKind::kVectorSelector) {
        throw ParseError{open.pos, "ranges only allowed for vector selectors"};
      }
      auto& vs = static_cast<VectorSelector&>(*e);
      if (vs.offset_ms != 0) throw ParseError{open.pos, "no offset modifiers allowed before range"};
      if (vs.at.present()) throw ParseError{open.pos, "no @ modifiers allowed before range"};
      if (range <= 0) throw ParseError{open.pos, "range duration must be positive"};
      auto ms = std::make_unique<MatrixSelector>();
      ms->pos = {e->pos.start, EndOfPrev()};
      ms->range_ms = range;
      ms->vs.reset(static_cast<VectorSelector*>(e.release()));
      return ms;
    }
    Expect(Tok::kColon, "subquery selector", "\"]\" or \":\"");
    int64_t step = 0;
    if (Peek().type != Tok::kRightBracket) step = DurationValue("subquery selector", false);
    Expect(Tok::kRightBracket, "subquery selector", "\"]\"");
    if (range <= 0) throw ParseError{open.pos, "subquery range must be positive"};
    if (step < 0) throw ParseError{open.pos, "subquery step must be positive"};
    if (e->Type() != ValueType::kVector) {
      Fail(*e, fmt::format("subquery is only allowed on instant vector, got {}",
                           ValueTypeName(e->Type())));
    }
    auto sq = std::make_unique<SubqueryExpr>();
    sq->pos = {e->pos.start, EndOfPrev()};
    sq->range_ms = range;
    sq->step_ms = step;
    sq->expr = std::move(e);
    return sq;
  }

  void ParseOffset(Expr& e) {
    const Token kw = Next();
    int64_t off = DurationValue("offset", true);
    int64_t* target = nullptr;
    if (e.kind == ExprKind::kVectorSelector) {
      target = &static_cast<VectorSelector&>(e).offset_ms;
    } else if (e.kind == ExprKind::kMatrixSelector) {
      target = &static_cast<MatrixSelector&>(e).vs->offset_ms;
    } else if (e.kind == ExprKind::kSubquery) {
      target = &static_cast<SubqueryExpr&>(e).offset_ms;
    } else {
      throw ParseError{kw.pos,
                       "offset modifier must be preceded by an instant vector selector or range "
                       "vector selector or a subquery"};
    }
    if (*target != 0) throw ParseError{kw.pos, "offset may not be set multiple times"};
    *target = off;
    e.pos.end = EndOfPrev();
  }

  void ParseAt(Expr& e) {
    const Token at_tok = Next();
    AtModifier at;
    if (Peek().type == Tok::kStart || Peek().type == Tok::kEnd) {
      at.kind = Next().type == Tok::kStart ? AtModifier::Kind::kStart : AtModifier::Kind::kEnd;
      Expect(Tok::kLeftParen, "@", "\"(\"");
      Expect(Tok::kRightParen, "@", "\")\"");
    } else {
      bool neg = false;
      if (Peek().type == Tok::kSub || Peek().type == Tok::kAdd) neg = Next().type == Tok::kSub;
      // A number, or a duration as its seconds (Prometheus's `number`: `@ 1h` is @ 3600).
      if (Peek().type != Tok::kNumber && Peek().type != Tok::kDuration) {
        Unexpected("@", "timestamp");
      }
      const Token& t = Next();
      double secs = NAN;
      if (t.type == Tok::kDuration) {
        auto d = ParseDurationMillis(t.text);
        if (!d.ok()) throw ParseError{t.pos, d.status().message()};
        secs = static_cast<double>(d.value()) / 1000.0;
      } else if (auto v = ParseNumber(t.text); v.ok()) {
        secs = v.value();
      }
      if (neg) secs = -secs;
      // Bounded so that milliseconds fit in int64 with room for offsets and ranges.
      if (!std::isfinite(secs) || std::fabs(secs) > 9.2e12) {
        throw ParseError{t.pos, "timestamp out of bounds for @ modifier"};
      }
      at.kind = AtModifier::Kind::kTimestamp;
      at.ts_ms = static_cast<int64_t>(std::llround(secs * 1000));
    }
    AtModifier* target = nullptr;
    if (e.kind == ExprKind::kVectorSelector) {
      target = &static_cast<VectorSelector&>(e).at;
    } else if (e.kind == ExprKind::kMatrixSelector) {
      target = &static_cast<MatrixSelector&>(e).vs->at;
    } else if (e.kind == ExprKind::kSubquery) {
      target = &static_cast<SubqueryExpr&>(e).at;
    } else {
      throw ParseError{at_tok.pos,
                       "@ modifier must be preceded by an instant vector selector or range vector "
                       "selector or a subquery"};
    }
    if (target->present()) {
      throw ParseError{at_tok.pos, "@ <timestamp> may not be set multiple times"};
    }
    *target = at;
    e.pos.end = EndOfPrev();
  }

  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber:
      case Tok::kDuration: {
        auto n = std::make_unique<NumberLiteral>();
        n->pos = {t.pos, t.pos + static_cast<int>(t.text.size())};
        if (t.type == Tok::kDuration) {
          auto d = ParseDurationMillis(t.text);
          if (!d.ok()) throw ParseError{t.pos, d.status().message()};
          n->val = static_cast<double>(d.value()) / 1000.0;
          n->duration = true;
        } else {
          auto v = ParseNumber(t.text);
          if (!v.ok()) throw ParseError{t.pos, fmt::format("error parsing number: {}", t.text)};
          n->val = v.value();
        }
        Next();
        return n;
      }
      case Tok::kString: {
        auto s = std::make_unique<StringLiteral>();
        s->pos = {t.pos, t.pos + static_cast<int>(t.text.size())};
        s->val = StringValue();
        return s;
      }
      case Tok::kLeftParen: {
        const Token open = Next();
        auto p = std::make_unique<ParenExpr>();
        p->expr = ParseBinary(0);
        if (Peek().type != Tok::kRightParen) {
          if (Peek().type == Tok::kEof) throw ParseError{open.pos, "unclosed left parenthesis"};
          Unexpected("paren expression", "\")\"");
        }
        Next();
        p->pos = {open.pos, EndOfPrev()};
        return p;
      }
      case Tok::kLeftBrace:
        return ParseSelector(t.pos, "");
      case Tok::kIdentifier:
      case Tok::kMetricIdentifier: {
        if (Peek(1).type == Tok::kLeftParen && t.type == Tok::kIdentifier) return ParseCall();
        const Token name = Next();
        return ParseSelector(name.pos, std::string(name.text));
      }
      case Tok::kAggregator:
        if (Peek(1).type == Tok::kLeftParen || Peek(1).type == Tok::kBy ||
            Peek(1).type == Tok::kWithout) {
          return ParseAggregate();
        }
        [[fallthrough]];
      case Tok::kAnd:
      case Tok::kOr:
      case Tok::kUnless:
      case Tok::kAtan2:
      case Tok::kBy:
      case Tok::kWithout:
      case Tok::kOffset:
      case Tok::kStart:
      case Tok::kEnd:
      case Tok::kBool:
      case Tok::kOn:
      case Tok::kIgnoring:
      case Tok::kGroupLeft:
      case Tok::kGroupRight: {
        if (Peek(1).type == Tok::kLeftParen && FindFunction(t.text) != nullptr) return ParseCall();
        const Token name = Next();
        return ParseSelector(name.pos, std::string(name.text));
      }
      default:
        Unexpected("");
    }
  }

  std::string StringValue() {
    const Token& t = Peek();
    if (t.type != Tok::kString) Unexpected("", "string");
    auto s = GoUnquote(t.text);
    if (!s.ok()) throw ParseError{t.pos, s.status().message()};
    Next();
    return std::move(s).value();
  }

  // Identifiers that lex as something else (keywords, "inf", "nan") are label names here.
  bool IsLabelNameToken(const Token& t) const {
    if (t.type == Tok::kIdentifier || IsKeywordLike(t.type)) return true;
    if (t.type != Tok::kNumber || t.text.size() != 3) return false;
    std::string lower(t.text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower == "inf" || lower == "nan";
  }

  std::string LabelName() {
    const Token& t = Peek();
    if (t.type == Tok::kString) return StringValue();
    if (IsLabelNameToken(t)) return std::string(Next().text);
    Unexpected("label matching", "label name");
  }

  ExprPtr ParseSelector(int start, std::string name) {
    auto vs = std::make_unique<VectorSelector>();
    vs->name = std::move(name);
    std::string name_from_braces;
    bool has_name_matcher = false;
    if (Peek().type == Tok::kLeftBrace) {
      Next();
      while (Peek().type != Tok::kRightBrace) {
        const Token& lt = Peek();
        bool quoted = lt.type == Tok::kString;
        std::string lname = LabelName();
        Matcher::Type mt;
        switch (Peek().type) {
          case Tok::kAssign:
            mt = Matcher::Type::kEqual;
            break;
          case Tok::kNeq:
            mt = Matcher::Type::kNotEqual;
            break;
          case Tok::kEqlRegex:
            mt = Matcher::Type::kRegex;
            break;
          case Tok::kNeqRegex:
            mt = Matcher::Type::kNotRegex;
            break;
          case Tok::kComma:
          case Tok::kRightBrace:
            if (quoted) {  // {"metric.name"}: a quoted metric name
              if (!vs->name.empty() || !name_from_braces.empty()) {
                throw ParseError{
                    lt.pos, fmt::format("metric name must not be set twice: \"{}\" or \"{}\"",
                                        vs->name.empty() ? name_from_braces : vs->name, lname)};
              }
              name_from_braces = lname;
              vs->name = lname;
              if (Peek().type == Tok::kComma) Next();
              continue;
            }
            [[fallthrough]];
          default:
            Unexpected("label matching", "label matching operator");
        }
        Next();
        const Token& vt = Peek();
        if (vt.type != Tok::kString) Unexpected("label matching", "string");
        std::string value = StringValue();
        if (lname == kMetricNameLabel) has_name_matcher = true;
        auto m = Matcher::Make(mt, lname, std::move(value));
        if (!m.ok()) throw ParseError{vt.pos, m.status().message()};
        vs->matchers.push_back(std::move(m).value());
        if (Peek().type == Tok::kComma) {
          Next();
        } else if (Peek().type != Tok::kRightBrace) {
          Unexpected("label matching", "\",\" or \"}\"");
        }
      }
      Next();
    }
    vs->pos = {start, EndOfPrev()};
    if (!vs->name.empty()) {
      if (has_name_matcher) {
        std::string other;
        for (const auto& m : vs->matchers) {
          if (m.name() == kMetricNameLabel) other = m.value();
        }
        throw ParseError{start, fmt::format("metric name must not be set twice: \"{}\" or \"{}\"",
                                            vs->name, other)};
      }
      vs->matchers.insert(
          vs->matchers.begin(),
          Matcher::Make(Matcher::Type::kEqual, std::string(kMetricNameLabel), vs->name).value());
    }
    bool non_empty = std::any_of(vs->matchers.begin(), vs->matchers.end(),
                                 [](const Matcher& m) { return !m.Matches(""); });
    if (!non_empty) {
      throw ParseError{start, "vector selector must contain at least one non-empty matcher"};
    }
    return vs;
  }

  std::vector<std::string> GroupingLabels() {
    Expect(Tok::kLeftParen, "grouping opts", "\"(\"");
    std::vector<std::string> out;
    while (Peek().type != Tok::kRightParen) {
      const Token& t = Peek();
      if (t.type == Tok::kString) {
        out.push_back(StringValue());
      } else if (IsLabelNameToken(t)) {
        out.emplace_back(Next().text);
      } else {
        Unexpected("grouping opts", "label");
      }
      if (Peek().type == Tok::kComma) {
        Next();
      } else if (Peek().type != Tok::kRightParen) {
        Unexpected("grouping opts", "\",\" or \")\"");
      }
    }
    Next();
    return out;
  }

  ExprPtr ParseCall() {
    const Token name = Next();
    const FunctionDef* f = FindFunction(name.text);
    if (f == nullptr) {
      throw ParseError{name.pos, fmt::format("unknown function with name \"{}\"", name.text)};
    }
    auto call = std::make_unique<Call>();
    call->func = f;
    Next();  // (
    while (Peek().type != Tok::kRightParen) {
      call->args.push_back(ParseBinary(0));
      if (Peek().type == Tok::kComma) {
        const Token comma = Next();
        if (Peek().type == Tok::kRightParen) {
          throw ParseError{comma.pos, "trailing commas not allowed in function call args"};
        }
      } else if (Peek().type != Tok::kRightParen) {
        if (Peek().type == Tok::kEof) throw ParseError{name.pos, "unclosed left parenthesis"};
        Unexpected("function call args", "\",\" or \")\"");
      }
    }
    Next();
    call->pos = {name.pos, EndOfPrev()};
    CheckCall(*call);
    return call;
  }

  void CheckCall(const Call& c) {
    const FunctionDef& f = *c.func;
    size_t nargs = f.arg_types.size();
    size_t got = c.args.size();
    if (f.variadic == 0) {
      if (got != nargs) {
        Fail(c,
             fmt::format("expected {} argument(s) in call to \"{}\", got {}", nargs, f.name, got));
      }
    } else {
      size_t min = nargs - 1;
      if (got < min) {
        Fail(c, fmt::format("expected at least {} argument(s) in call to \"{}\", got {}", min,
                            f.name, got));
      }
      if (f.variadic > 0 && got > min + static_cast<size_t>(f.variadic)) {
        Fail(c, fmt::format("expected at most {} argument(s) in call to \"{}\", got {}",
                            min + f.variadic, f.name, got));
      }
    }
    for (size_t i = 0; i < got; ++i) {
      ValueType want = f.arg_types[std::min(i, nargs - 1)];
      ValueType have = c.args[i]->Type();
      if (want != have) {
        Fail(*c.args[i], fmt::format("expected type {} in call to function \"{}\", got {}",
                                     ValueTypeName(want), f.name, ValueTypeName(have)));
      }
    }
  }

  ExprPtr ParseAggregate() {
    const Token op_tok = Next();
    auto agg = std::make_unique<AggregateExpr>();
    agg->op = *ToAggOp(op_tok.text);
    auto grouping = [&] {
      if (agg->grouping_written) {
        Unexpected("aggregation");
      }
      agg->without = Next().type == Tok::kWithout;
      agg->grouping = GroupingLabels();
      agg->grouping_written = true;
    };
    if (Peek().type == Tok::kBy || Peek().type == Tok::kWithout) grouping();
    const Token open = Peek();
    Expect(Tok::kLeftParen, "aggregation", "\"(\"");
    std::vector<ExprPtr> args;
    while (Peek().type != Tok::kRightParen) {
      args.push_back(ParseBinary(0));
      if (Peek().type == Tok::kComma) {
        Next();
      } else if (Peek().type != Tok::kRightParen) {
        if (Peek().type == Tok::kEof) throw ParseError{open.pos, "unclosed left parenthesis"};
        Unexpected("aggregation", "\",\" or \")\"");
      }
    }
    Next();
    if (Peek().type == Tok::kBy || Peek().type == Tok::kWithout) grouping();
    agg->pos = {op_tok.pos, EndOfPrev()};
    size_t want = AggTakesParam(agg->op) ? 2 : 1;
    if (args.size() != want) {
      Fail(*agg, fmt::format("wrong number of arguments for aggregate expression provided, "
                             "expected {}, got {}",
                             want, args.size()));
    }
    if (want == 2) agg->param = std::move(args[0]);
    agg->expr = std::move(args.back());
    if (agg->expr->Type() != ValueType::kVector) {
      Fail(*agg->expr, fmt::format("expected type instant vector in aggregation expression, got {}",
                                   ValueTypeName(agg->expr->Type())));
    }
    if (agg->param) {
      ValueType pt = agg->param->Type();
      ValueType want_t = agg->op == AggOp::kCountValues ? ValueType::kString : ValueType::kScalar;
      if (pt != want_t) {
        Fail(*agg->param, fmt::format("expected type {} in aggregation parameter, got {}",
                                      ValueTypeName(want_t), ValueTypeName(pt)));
      }
    }
    return agg;
  }

  std::string_view query_;
  std::vector<Token> toks_;
  size_t idx_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view query) {
  try {
    Parser p(query);
    return p.ParseTop();
  } catch (const ParseError& e) {
    return Status::InvalidArgument(FormatParseError(query, e.pos, e.msg));
  }
}

Result<std::vector<Matcher>> ParseMetricSelector(std::string_view selector) {
  try {
    Parser p(selector);
    return p.ParseSelectorOnly();
  } catch (const ParseError& e) {
    return Status::InvalidArgument(FormatParseError(selector, e.pos, e.msg));
  }
}

Result<std::pair<Labels, size_t>> ParseSeriesLabels(std::string_view text) {
  // Lex only the series part: stop at the first whitespace outside braces and quotes.
  size_t end = 0;
  int depth = 0;
  char quote = 0;
  for (; end < text.size(); ++end) {
    char c = text[end];
    if (quote != 0) {
      if (c == '\\') {
        ++end;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      quote = c;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
      if (depth == 0) {
        ++end;
        break;
      }
    } else if ((c == ' ' || c == '\t') && depth == 0) {
      break;
    }
  }
  std::string_view part = text.substr(0, end);
  try {
    Parser p(part);
    auto r = p.ParseSeriesDesc();
    r.second = end;
    return r;
  } catch (const ParseError& e) {
    return Status::InvalidArgument(FormatParseError(part, e.pos, e.msg));
  }
}

}  // namespace strata::promql
