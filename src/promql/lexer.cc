#include "promql/lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "base/labels.h"

namespace strata::promql {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct Keyword {
  std::string_view word;
  Tok tok;
};
constexpr std::array<Keyword, 28> kKeywords = {{
    {"and", Tok::kAnd},
    {"or", Tok::kOr},
    {"unless", Tok::kUnless},
    {"atan2", Tok::kAtan2},
    {"sum", Tok::kAggregator},
    {"avg", Tok::kAggregator},
    {"count", Tok::kAggregator},
    {"min", Tok::kAggregator},
    {"max", Tok::kAggregator},
    {"group", Tok::kAggregator},
    {"stddev", Tok::kAggregator},
    {"stdvar", Tok::kAggregator},
    {"topk", Tok::kAggregator},
    {"bottomk", Tok::kAggregator},
    {"count_values", Tok::kAggregator},
    {"quantile", Tok::kAggregator},
    {"limitk", Tok::kAggregator},
    {"limit_ratio", Tok::kAggregator},
    {"bool", Tok::kBool},
    {"by", Tok::kBy},
    {"without", Tok::kWithout},
    {"on", Tok::kOn},
    {"ignoring", Tok::kIgnoring},
    {"group_left", Tok::kGroupLeft},
    {"group_right", Tok::kGroupRight},
    {"offset", Tok::kOffset},
    {"start", Tok::kStart},
    {"end", Tok::kEnd},
}};

}  // namespace

Token Lexer::Error(size_t start, std::string msg) {
  error_ = std::move(msg);
  return Token{Tok::kError, in_.substr(start, pos_ - start), static_cast<int>(start)};
}

Token Lexer::Next() {
  for (;;) {
    while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
    if (pos_ < in_.size() && in_[pos_] == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
      continue;
    }
    break;
  }
  size_t start = pos_;
  if (pos_ >= in_.size()) return Make(Tok::kEof, start);
  char c = in_[pos_];
  char n = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';
  auto one = [&](Tok t) {
    ++pos_;
    return Make(t, start);
  };
  auto two = [&](Tok t) {
    pos_ += 2;
    return Make(t, start);
  };
  switch (c) {
    case '(':
      return one(Tok::kLeftParen);
    case ')':
      return one(Tok::kRightParen);
    case '{':
      return one(Tok::kLeftBrace);
    case '}':
      return one(Tok::kRightBrace);
    case '[':
      ++bracket_depth_;
      return one(Tok::kLeftBracket);
    case ']':
      --bracket_depth_;
      return one(Tok::kRightBracket);
    case ',':
      return one(Tok::kComma);
    case ':':
      // Outside brackets a colon starts a metric name (":a:b"); inside, it splits a subquery.
      if (bracket_depth_ <= 0) return LexIdentifier(start);
      return one(Tok::kColon);
    case '@':
      return one(Tok::kAt);
    case '+':
      return one(Tok::kAdd);
    case '-':
      return one(Tok::kSub);
    case '*':
      return one(Tok::kMul);
    case '/':
      return one(Tok::kDiv);
    case '%':
      return one(Tok::kMod);
    case '^':
      return one(Tok::kPow);
    case '=':
      if (n == '=') return two(Tok::kEqlc);
      if (n == '~') return two(Tok::kEqlRegex);
      return one(Tok::kAssign);
    case '!':
      if (n == '=') return two(Tok::kNeq);
      if (n == '~') return two(Tok::kNeqRegex);
      ++pos_;
      return Error(start, "unexpected character after '!': " + std::string(1, n));
    case '<':
      if (n == '=') return two(Tok::kLte);
      return one(Tok::kLss);
    case '>':
      if (n == '=') return two(Tok::kGte);
      return one(Tok::kGtr);
    case '"':
    case '\'':
    case '`':
      return LexString(start, c);
    default:
      break;
  }
  if (IsDigit(c) || (c == '.' && IsDigit(n))) return LexNumberOrDuration(start);
  if (IsAlpha(c)) return LexIdentifier(start);
  ++pos_;
  return Error(start, fmt::format("unexpected character: '{}'", c));
}

Token Lexer::LexNumberOrDuration(size_t start) {
  auto digits = [&](auto pred) {
    size_t b = pos_;
    while (pos_ < in_.size() && pred(in_[pos_])) ++pos_;
    return pos_ > b;
  };
  auto at = [&](size_t i) { return i < in_.size() ? in_[i] : '\0'; };
  bool is_number = true;
  if (at(pos_) == '0' && (at(pos_ + 1) == 'x' || at(pos_ + 1) == 'X')) {
    pos_ += 2;
    digits([](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; });
  } else {
    digits(IsDigit);
    bool plain_int = true;
    if (at(pos_) == '.') {
      plain_int = false;
      ++pos_;
      digits(IsDigit);
    }
    if ((at(pos_) == 'e' || at(pos_) == 'E') &&
        (IsDigit(at(pos_ + 1)) ||
         ((at(pos_ + 1) == '+' || at(pos_ + 1) == '-') && IsDigit(at(pos_ + 2))))) {
      plain_int = false;
      pos_ += 2;
      digits(IsDigit);
    }
    // A duration: integer followed by units, possibly repeated ("1h30m").
    if (plain_int && std::string_view("ywdhms").find(at(pos_)) != std::string_view::npos &&
        at(pos_) != '\0') {
      is_number = false;
      for (;;) {
        if (at(pos_) == 'm' && at(pos_ + 1) == 's') {
          pos_ += 2;
        } else if (std::string_view("ywdhms").find(at(pos_)) != std::string_view::npos &&
                   at(pos_) != '\0') {
          ++pos_;
        } else {
          break;
        }
        if (!digits(IsDigit)) break;
      }
    }
  }
  if (IsAlnum(at(pos_)) || at(pos_) == '.') {
    ++pos_;
    return Error(start, fmt::format("bad number or duration syntax: \"{}\"",
                                    in_.substr(start, pos_ - start)));
  }
  return Make(is_number ? Tok::kNumber : Tok::kDuration, start);
}

Token Lexer::LexString(size_t start, char quote) {
  ++pos_;
  while (pos_ < in_.size()) {
    char c = in_[pos_];
    if (c == quote) {
      ++pos_;
      return Make(Tok::kString, start);
    }
    if (c == '\\' && quote != '`') {
      pos_ += 2;
      continue;
    }
    if (c == '\n' && quote != '`') break;
    ++pos_;
  }
  return Error(start, "unterminated quoted string");
}

Token Lexer::LexIdentifier(size_t start) {
  bool colon = false;
  while (pos_ < in_.size() && (IsAlnum(in_[pos_]) || in_[pos_] == ':')) {
    colon |= in_[pos_] == ':';
    ++pos_;
  }
  std::string_view word = in_.substr(start, pos_ - start);
  if (colon) return Make(Tok::kMetricIdentifier, start);
  std::string lower(word);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (lower == "inf" || lower == "nan") return Make(Tok::kNumber, start);
  for (const auto& k : kKeywords) {
    if (k.word == lower) return Make(k.tok, start);
  }
  return Make(Tok::kIdentifier, start);
}

std::string DescribeToken(const Token& t) {
  switch (t.type) {
    case Tok::kEof:
      return "end of input";
    case Tok::kIdentifier:
    case Tok::kMetricIdentifier:
      return fmt::format("identifier \"{}\"", t.text);
    case Tok::kNumber:
      return fmt::format("number \"{}\"", t.text);
    case Tok::kDuration:
      return fmt::format("duration \"{}\"", t.text);
    case Tok::kString:
      return fmt::format("string {}", t.text);
    case Tok::kAggregator:
      return fmt::format("<aggr:{}>", t.text);
    case Tok::kAdd:
    case Tok::kSub:
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kPow:
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kLte:
    case Tok::kLss:
    case Tok::kGte:
    case Tok::kGtr:
    case Tok::kEqlRegex:
    case Tok::kNeqRegex:
    case Tok::kAnd:
    case Tok::kOr:
    case Tok::kUnless:
    case Tok::kAtan2:
      return fmt::format("<op:{}>", t.text);
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
      return fmt::format("<{}>", t.text);
    default:
      return fmt::format("\"{}\"", t.text);
  }
}

}  // namespace strata::promql
