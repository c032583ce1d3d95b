#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/units.h"

namespace strata::logql {

// LogQL's tokens, in the order Loki's grammar declares them: "expecting ..." lists in syntax
// errors name tokens in this order.
enum class Tok : uint8_t {
  kEof,
  kError,
  // A character no token starts with ('@', '!' alone...). Loki's lexer passes it on as an
  // identifier; it is never valid where one is, and errors name it IDENTIFIER as Loki does.
  kOther,
  kBytes,
  kIdentifier,
  kString,
  kNumber,
  kFunctionFlag,
  kDuration,
  kRange,
  kEq,
  kRe,
  kNre,
  kNpa,
  kOpenBrace,
  kCloseBrace,
  kOpenBracket,
  kCloseBracket,
  kComma,
  kDot,
  kPipeMatch,
  kPipeExact,
  kPipePattern,
  kOpenParen,
  kCloseParen,
  kBy,
  kWithout,
  kCountOverTime,
  kRate,
  kRateCounter,
  kSum,
  kSort,
  kSortDesc,
  kAvg,
  kMax,
  kMin,
  kCount,
  kStddev,
  kStdvar,
  kBottomk,
  kTopk,
  kApproxTopk,
  kBytesOverTime,
  kBytesRate,
  kBool,
  kJson,
  kRegexp,
  kLogfmt,
  kPipe,
  kLineFmt,
  kLabelFmt,
  kUnwrap,
  kAvgOverTime,
  kSumOverTime,
  kMinOverTime,
  kMaxOverTime,
  kStdvarOverTime,
  kStddevOverTime,
  kQuantileOverTime,
  kBytesConv,
  kDurationConv,
  kDurationSecondsConv,
  kFirstOverTime,
  kLastOverTime,
  kAbsentOverTime,
  kVector,
  kLabelReplace,
  kUnpack,
  kOffset,
  kPattern,
  kIp,
  kOn,
  kIgnoring,
  kGroupLeft,
  kGroupRight,
  kDecolorize,
  kDrop,
  kKeep,
  // Binary operators, lowest precedence first.
  kOr,
  kAnd,
  kUnless,
  kCmpEq,
  kNeq,
  kLt,
  kLte,
  kGt,
  kGte,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
};

// The token's name in Loki's error messages: its text for punctuation and keywords ("}",
// "by"), its grammar name otherwise ("IDENTIFIER", "RATE"); "$end" at the end.
std::string_view TokName(Tok t);

struct Token {
  Tok type = Tok::kEof;
  std::string_view text;  // raw bytes
  std::string str;        // kString: unquoted; kIdentifier, kNumber, kFunctionFlag: the text
  int64_t dur_ns = 0;     // kDuration, kRange
  uint64_t bytes = 0;     // kBytes
  // Where Loki reports an error at this token. Loki's scanner forgets the line of tokens it
  // completes by reading ahead (two-character operators, durations, ranges...): line 0.
  int line = 1;
  int col = 1;
};

// Splits a LogQL query as Loki's lexer does: keywords are case-insensitive, function names
// are keywords only before `(` (or by/without and `(`), a number directly followed by a unit
// is a duration or a byte size, `[...]` is one range token, and `#`, `//` and `/* */` start
// comments. Borrows the query text.
class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}
  // The next token; kError tokens carry the message in `error()` and the position of the
  // token being scanned.
  Token Next();
  const std::string& error() const { return error_; }

 private:
  // Advances one UTF-8 character, keeping line and column.
  void Advance();
  char Peek(size_t ahead = 0) const { return pos_ + ahead < in_.size() ? in_[pos_ + ahead] : 0; }
  bool AtEnd() const { return pos_ >= in_.size(); }
  Token Error(Token t, std::string msg);
  Token Make(Tok type, size_t start, Token t) const;
  bool ScanNumberText(std::string* err);
  // Takes the unit characters after in_[start, pos_) when they make a duration with it
  // ("5m", "-1.5s"), setting t.dur_ns.
  bool TakeDuration(size_t start, Token& t);
  Token LexNumber(size_t start, Token t);
  Token LexWord(size_t start, Token t);
  Token LexString(size_t start, Token t, char quote);
  Token LexRange(size_t start, Token t);
  bool IsFunctionCallAhead() const;

  std::string_view in_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;  // column of in_[pos_], counted in characters
  std::string error_;
};

// go-humanize's ParseBytes ("5KB", "1.5MiB", "10k"): false when not a size.
bool ParseHumanBytes(std::string_view s, uint64_t* out);
// go-humanize's Bytes() without its space ("250kB", "1.5MB").
std::string FormatHumanBytes(uint64_t b);

}  // namespace strata::logql
