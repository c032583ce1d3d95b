#include "traceql/lexer.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <utility>

#include "base/labels.h"
#include "base/units.h"

namespace strata::traceql {

namespace {

struct Word {
  std::string_view text;
  Tok tok;
};

// Every token with a fixed spelling, as Tempo's lexer knows them.
constexpr auto kWords = std::to_array<Word>({
    {",", Tok::kComma},
    {".", Tok::kDot},
    {"{", Tok::kOpenBrace},
    {"}", Tok::kCloseBrace},
    {"(", Tok::kOpenParen},
    {")", Tok::kCloseParen},
    {"=", Tok::kEq},
    {"!=", Tok::kNeq},
    {"=~", Tok::kRe},
    {"!~", Tok::kNre},
    {">", Tok::kGt},
    {">=", Tok::kGte},
    {"<", Tok::kLt},
    {"<=", Tok::kLte},
    {"+", Tok::kAdd},
    {"-", Tok::kSub},
    {"/", Tok::kDiv},
    {"%", Tok::kMod},
    {"*", Tok::kMul},
    {"^", Tok::kPow},
    {"&&", Tok::kAnd},
    {"||", Tok::kOr},
    {"!", Tok::kNot},
    {"|", Tok::kPipe},
    {">>", Tok::kDesc},
    {"<<", Tok::kAnce},
    {"~", Tok::kSibl},
    {"!>", Tok::kNotChild},
    {"!<", Tok::kNotParent},
    {"!>>", Tok::kNotDesc},
    {"!<<", Tok::kNotAnce},
    {"&~", Tok::kUnionSibl},
    {"&>", Tok::kUnionChild},
    {"&<", Tok::kUnionParent},
    {"&>>", Tok::kUnionDesc},
    {"&<<", Tok::kUnionAnce},
    {"true", Tok::kTrue},
    {"false", Tok::kFalse},
    {"nil", Tok::kNil},
    {"ok", Tok::kStatusOk},
    {"error", Tok::kStatusError},
    {"unset", Tok::kStatusUnset},
    {"unspecified", Tok::kKindUnspecified},
    {"internal", Tok::kKindInternal},
    {"server", Tok::kKindServer},
    {"client", Tok::kKindClient},
    {"producer", Tok::kKindProducer},
    {"consumer", Tok::kKindConsumer},
    {"duration", Tok::kIDuration},
    {"childCount", Tok::kChildCount},
    {"name", Tok::kName},
    {"status", Tok::kStatus},
    {"statusMessage", Tok::kStatusMessage},
    {"kind", Tok::kKind},
    {"rootName", Tok::kRootName},
    {"rootServiceName", Tok::kRootServiceName},
    {"rootService", Tok::kRootService},
    {"traceDuration", Tok::kTraceDuration},
    {"nestedSetLeft", Tok::kNestedSetLeft},
    {"nestedSetRight", Tok::kNestedSetRight},
    {"nestedSetParent", Tok::kNestedSetParent},
    {"id", Tok::kId},
    {"traceID", Tok::kTraceId},
    {"spanID", Tok::kSpanId},
    {"parentID", Tok::kParentId},
    {"timeSinceStart", Tok::kTimeSinceStart},
    {"version", Tok::kVersion},
    {"parent", Tok::kParent},
    {"parent.", Tok::kParentDot},
    {"resource.", Tok::kResourceDot},
    {"span.", Tok::kSpanDot},
    {"trace:", Tok::kTraceColon},
    {"span:", Tok::kSpanColon},
    {"event:", Tok::kEventColon},
    {"event.", Tok::kEventDot},
    {"link:", Tok::kLinkColon},
    {"link.", Tok::kLinkDot},
    {"instrumentation:", Tok::kInstrumentationColon},
    {"instrumentation.", Tok::kInstrumentationDot},
    {"count", Tok::kCount},
    {"avg", Tok::kAvg},
    {"max", Tok::kMax},
    {"min", Tok::kMin},
    {"sum", Tok::kSum},
    {"by", Tok::kBy},
    {"coalesce", Tok::kCoalesce},
    {"select", Tok::kSelect},
    {"rate", Tok::kRate},
    {"count_over_time", Tok::kCountOverTime},
    {"min_over_time", Tok::kMinOverTime},
    {"max_over_time", Tok::kMaxOverTime},
    {"avg_over_time", Tok::kAvgOverTime},
    {"sum_over_time", Tok::kSumOverTime},
    {"quantile_over_time", Tok::kQuantileOverTime},
    {"histogram_over_time", Tok::kHistogramOverTime},
    {"compare", Tok::kCompare},
    {"topk", Tok::kTopk},
    {"bottomk", Tok::kBottomk},
    {"with", Tok::kWith},
});

const Word* FindWord(std::string_view s) {
  for (const Word& w : kWords) {
    if (w.text == s) return &w;
  }
  return nullptr;
}

bool StartsAttribute(Tok t) {
  return t == Tok::kDot || t == Tok::kResourceDot || t == Tok::kSpanDot || t == Tok::kParentDot ||
         t == Tok::kEventDot || t == Tok::kLinkDot || t == Tok::kInstrumentationDot;
}

bool IsScope(Tok t) {
  return t == Tok::kParentDot || t == Tok::kSpanDot || t == Tok::kResourceDot ||
         t == Tok::kSpanColon || t == Tok::kTraceColon || t == Tok::kEventColon ||
         t == Tok::kLinkColon || t == Tok::kInstrumentationColon || t == Tok::kEventDot ||
         t == Tok::kLinkDot || t == Tok::kInstrumentationDot;
}

bool IsDigit(uint32_t c) { return c >= '0' && c <= '9'; }

// Go's unicode.IsSpace.
bool IsSpace(uint32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Letters of identifiers: ASCII letters, '_', and (approximating Go's unicode.IsLetter) any
// non-ASCII character.
bool IsIdentStart(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool IsDurationChar(uint32_t c) {
  switch (c) {
    case 'n':
    case 's':
    case 'u':
    case 'm':
    case 'h':
    case 0xB5:  // µ
    case 'd':
    case 'w':
    case 'y':
      return true;
    default:
      return false;
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> out;
    for (;;) {
      Token t;
      if (Status st = Next(t); !st.ok()) return st;
      Tok tok = t.tok;
      out.push_back(std::move(t));
      if (tok == Tok::kEof) return out;
    }
  }

 private:
  // The character at byte offset `at` (U+FFFD for invalid UTF-8) and its length; 0 at the end.
  uint32_t CharAt(size_t at, size_t* len) const {
    if (at >= in_.size()) {
      *len = 0;
      return 0;
    }
    uint32_t c = 0;
    *len = DecodeRune(in_, at, &c);
    if (*len == 0) {
      *len = 1;
      return 0xFFFD;
    }
    return c;
  }
  bool AtEnd() const { return pos_ >= in_.size(); }
  uint32_t Peek() const {
    size_t len = 0;
    return CharAt(pos_, &len);
  }
  void Advance() {
    size_t len = 0;
    uint32_t c = CharAt(pos_, &len);
    pos_ += len;
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
  }
  Status Error(std::string_view msg) const {
    return Status::InvalidArgument(ParseErrorText(tok_line_, tok_col_, msg));
  }
  void Make(Token& t, Tok tok) const {
    t.tok = tok;
    t.line = tok_line_;
    t.col = tok_col_;
  }

  Status Next(Token& t) {
    if (in_attribute_) {
      if (AtEnd() || !IsAttributeChar(Peek())) {
        in_attribute_ = false;
        Make(t, Tok::kEndAttribute);
        return Status::Ok();
      }
      if (scope_ == Tok::kParentDot) {
        // `parent.span.x`, `parent.resource.x`: the second scope.
        for (std::string_view s : {"span.", "resource."}) {
          if (in_.substr(pos_).starts_with(s)) {
            for (size_t i = 0; i < s.size(); ++i) Advance();
            scope_ = FindWord(s)->tok;
            Make(t, scope_);
            return Status::Ok();
          }
        }
      }
      RETURN_IF_ERROR(AttributeName(t.text));
      Make(t, Tok::kIdentifier);
      return Status::Ok();
    }
    RETURN_IF_ERROR(SkipSpaceAndComments());
    tok_line_ = line_;
    tok_col_ = col_;
    if (AtEnd()) {
      Make(t, Tok::kEof);
      return Status::Ok();
    }
    size_t start = pos_;
    uint32_t c = Peek();
    size_t len = 0;
    if (IsDigit(c) || (c == '.' && IsDigit(CharAt(pos_ + 1, &len)))) return Number(t);
    if (c == '"' || c == '`') return String(t, static_cast<char>(c));
    if (IsIdentStart(c)) {
      while (!AtEnd() && (IsIdentStart(Peek()) || IsDigit(Peek()))) Advance();
    } else if (c == '\'') {
      // A Go character literal: no TraceQL token; an identifier that nothing accepts.
      Advance();
      while (!AtEnd() && Peek() != '\'' && Peek() != '\n') Advance();
      if (AtEnd() || Peek() != '\'') return Error("literal not terminated");
      Advance();
    } else {
      Advance();
    }
    std::string text(in_.substr(start, pos_ - start));
    // The longest known token this one starts (`!` `>` `>` is `!>>`, `span` `.` is `span.`).
    const Word* longer = nullptr;
    for (;;) {
      size_t n = 0;
      CharAt(pos_, &n);
      if (n == 0) break;
      const Word* w = FindWord(text + std::string(in_.substr(pos_, n)));
      if (w == nullptr) break;
      text = std::string(w->text);
      longer = w;
      Advance();
    }
    const Word* w = longer != nullptr ? longer : FindWord(text);
    if (w == nullptr) {
      t.text = std::move(text);
      Make(t, Tok::kIdentifier);
      return Status::Ok();
    }
    if (longer != nullptr && IsScope(w->tok)) scope_ = w->tok;
    in_attribute_ = StartsAttribute(w->tok);
    Make(t, w->tok);
    return Status::Ok();
  }

  Status SkipSpaceAndComments() {
    for (;;) {
      while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
        Advance();
      }
      if (!in_.substr(pos_).starts_with("//") && !in_.substr(pos_).starts_with("/*")) {
        return Status::Ok();
      }
      tok_line_ = line_;
      tok_col_ = col_;
      if (in_[pos_ + 1] == '/') {
        while (!AtEnd() && Peek() != '\n') Advance();
        continue;
      }
      Advance();
      Advance();
      while (!AtEnd() && !in_.substr(pos_).starts_with("*/")) Advance();
      if (AtEnd()) return Error("comment not terminated");
      Advance();
      Advance();
    }
  }

  // An attribute name after a scope: unquoted attribute characters and "quoted" parts.
  Status AttributeName(std::string& out) {
    while (!AtEnd()) {
      uint32_t c = Peek();
      if (c == '"') {
        Advance();
        for (;;) {
          if (AtEnd()) return Error("unexpected EOF, expecting \"");
          uint32_t q = Peek();
          size_t at = pos_;
          Advance();
          if (q == '"') break;
          if (q == '\\') {
            if (AtEnd() || (Peek() != '"' && Peek() != '\\')) {
              return Error("invalid escape sequence");
            }
            out += static_cast<char>(Peek());
            Advance();
            continue;
          }
          out += in_.substr(at, pos_ - at);
        }
      } else if (IsAttributeChar(c)) {
        size_t at = pos_;
        Advance();
        out += in_.substr(at, pos_ - at);
      } else {
        break;
      }
    }
    return Status::Ok();
  }

  // Go's text/scanner number, then a duration if the characters after it make one ("1h30m",
  // "1.5s", "3d"), else an int (strconv.Atoi) or a float.
  Status Number(Token& t) {
    size_t start = pos_;
    bool is_float = false;
    // Go literals: decimal digits, or 0x/0o/0b and hex digits; '_' between them. Only
    // decimal parses (strconv.Atoi); the others are taken whole and refused.
    auto based = in_.substr(pos_, 2);
    bool prefixed =
        based.size() == 2 && based[0] == '0' &&
        ((based[1] | 0x20) == 'x' || (based[1] | 0x20) == 'o' || (based[1] | 0x20) == 'b');
    if (prefixed) {
      Advance();
      Advance();
    }
    auto digits = [&] {
      while (!AtEnd()) {
        uint32_t c = Peek();
        bool hex = prefixed && (c | 0x20) >= 'a' && (c | 0x20) <= 'f';
        if (!IsDigit(c) && c != '_' && !hex) break;
        Advance();
      }
    };
    digits();
    if (!prefixed && !AtEnd() && Peek() == '.') {
      is_float = true;
      Advance();
      digits();
    }
    if (!prefixed && !AtEnd() && (Peek() | 0x20) == 'e') {
      is_float = true;
      Advance();
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) Advance();
      if (AtEnd() || !IsDigit(Peek())) return Error("exponent has no digits");
      digits();
    }
    std::string_view number = in_.substr(start, pos_ - start);
    // A duration: the number and what follows up to a space, if it is all digits, '.' and
    // duration units and parses as one.
    size_t end = pos_;
    while (end < in_.size()) {
      size_t n = 0;
      uint32_t c = CharAt(end, &n);
      if (IsSpace(c) || (!IsDigit(c) && !IsDurationChar(c) && c != '.')) break;
      end += n;
    }
    if (end > pos_) {
      int64_t ns = 0;
      if (ParsePromOrGoDuration(in_.substr(start, end - start), &ns)) {
        while (pos_ < end) Advance();
        t.i = ns;
        Make(t, Tok::kDuration);
        return Status::Ok();
      }
    }
    if (is_float) {
      std::string err;
      if (!ParseGoFloat(number, &t.f, &err)) return Error(err);
      Make(t, Tok::kFloat);
      return Status::Ok();
    }
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), t.i);
    if (ec == std::errc::result_out_of_range) {
      return Error(fmt::format("strconv.Atoi: parsing {}: value out of range", GoQuote(number)));
    }
    if (ec != std::errc() || ptr != number.data() + number.size()) {
      return Error(fmt::format("strconv.Atoi: parsing {}: invalid syntax", GoQuote(number)));
    }
    Make(t, Tok::kInteger);
    return Status::Ok();
  }

  // A Go string literal: "..." with escapes, or `raw`.
  Status String(Token& t, char quote) {
    size_t start = pos_;
    Advance();
    for (;;) {
      if (AtEnd() || (quote == '"' && Peek() == '\n')) return Error("literal not terminated");
      uint32_t c = Peek();
      Advance();
      if (c == static_cast<uint32_t>(quote)) break;
      if (c == '\\' && quote == '"' && !AtEnd()) Advance();
    }
    auto s = GoUnquote(in_.substr(start, pos_ - start));
    if (!s.ok()) return Error("invalid char escape");
    t.text = std::move(*s);
    Make(t, Tok::kString);
    return Status::Ok();
  }

  std::string_view in_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
  int tok_line_ = 1, tok_col_ = 1;  // where the last token scanned began
  bool in_attribute_ = false;
  Tok scope_ = Tok::kEof;  // the last scope token
};

}  // namespace

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEof:
      return "$end";
    case Tok::kIdentifier:
      return "IDENTIFIER";
    case Tok::kString:
      return "STRING";
    case Tok::kInteger:
      return "INTEGER";
    case Tok::kFloat:
      return "FLOAT";
    case Tok::kDuration:
      return "DURATION";
    case Tok::kEndAttribute:
      return "END_ATTRIBUTE";
    default:
      break;
  }
  for (const Word& w : kWords) {
    if (w.tok == t) return w.text;
  }
  return "?";
}

std::string ParseErrorText(int line, int col, std::string_view msg) {
  return fmt::format("parse error at line {}, col {}: {}", line, col, msg);
}

bool IsAttributeChar(uint32_t c) {
  if (IsSpace(c)) return false;
  switch (c) {
    case '{':
    case '}':
    case '(':
    case ')':
    case '=':
    case '~':
    case '!':
    case '<':
    case '>':
    case '&':
    case '|':
    case '^':
    case ',':
      return false;
    default:
      return true;
  }
}

Result<std::vector<Token>> Lex(std::string_view query) { return Lexer(query).Run(); }

}  // namespace strata::traceql
