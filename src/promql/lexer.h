#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace strata::promql {

enum class Tok {
  kEof,
  kError,
  kIdentifier,        // [a-zA-Z_][a-zA-Z0-9_]*
  kMetricIdentifier,  // like an identifier, with colons
  kNumber,
  kDuration,
  kString,
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAt,
  kAssign,  // `=` in a label matcher
  // Operators.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,  // ==
  kNeq,
  kLte,
  kLss,
  kGte,
  kGtr,
  kEqlRegex,
  kNeqRegex,
  // Keyword operators.
  kAnd,
  kOr,
  kUnless,
  kAtan2,
  // Other keywords.
  kAggregator,  // sum, avg, ... (Token::text says which)
  kBool,
  kBy,
  kWithout,
  kOn,
  kIgnoring,
  kGroupLeft,
  kGroupRight,
  kOffset,
  kStart,
  kEnd,
};

struct Token {
  Tok type = Tok::kEof;
  std::string_view text;  // the raw bytes of the token in the query
  int pos = 0;            // byte offset
};

// Lexer splits a PromQL query into tokens. It is context-free: the parser decides whether an
// identifier that spells a keyword is used as one. Borrows the query text.
class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}
  // The next token; kError tokens carry the message in `error()`.
  Token Next();
  const std::string& error() const { return error_; }

 private:
  Token Make(Tok t, size_t start) const {
    return Token{t, in_.substr(start, pos_ - start), static_cast<int>(start)};
  }
  Token Error(size_t start, std::string msg);
  Token LexNumberOrDuration(size_t start);
  Token LexString(size_t start, char quote);
  Token LexIdentifier(size_t start);

  std::string_view in_;
  size_t pos_ = 0;
  int bracket_depth_ = 0;
  std::string error_;
};

// Describes a token for "unexpected ..." messages, as Prometheus does.
std::string DescribeToken(const Token& t);

}  // namespace strata::promql
