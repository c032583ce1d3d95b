#pragma once

// TraceQL's tokens, read as Tempo's lexer reads them: Go's text/scanner for numbers, strings,
// identifiers and comments; the longest run of characters that is a known token for
// operators and scopes (`!>>`, `span.`, `trace:`); and after a `.`-scope, an attribute name
// that runs to the next space or one of `{}()=~!<>&|^,` (quoted parts may hold anything, with
// \" and \\ escaped).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::traceql {

enum class Tok : uint8_t {
  kEof,
  kIdentifier,
  kString,
  kInteger,
  kFloat,
  kDuration,
  kEndAttribute,
  // punctuation and operators
  kComma,
  kDot,
  kOpenBrace,
  kCloseBrace,
  kOpenParen,
  kCloseParen,
  kEq,
  kNeq,
  kRe,
  kNre,  // `!~`: not-regex in a field expression, not-sibling between spansets
  kGt,
  kGte,
  kLt,
  kLte,
  kAdd,
  kSub,
  kDiv,
  kMod,
  kMul,
  kPow,
  kAnd,
  kOr,
  kNot,
  kPipe,
  kDesc,
  kAnce,
  kSibl,
  kNotChild,
  kNotParent,
  kNotDesc,
  kNotAnce,
  kUnionSibl,
  kUnionChild,
  kUnionParent,
  kUnionDesc,
  kUnionAnce,
  // statics
  kTrue,
  kFalse,
  kNil,
  kStatusOk,
  kStatusError,
  kStatusUnset,
  kKindUnspecified,
  kKindInternal,
  kKindServer,
  kKindClient,
  kKindProducer,
  kKindConsumer,
  // intrinsics
  kIDuration,
  kChildCount,
  kName,
  kStatus,
  kStatusMessage,
  kKind,
  kRootName,
  kRootServiceName,
  kRootService,
  kTraceDuration,
  kNestedSetLeft,
  kNestedSetRight,
  kNestedSetParent,
  kId,
  kTraceId,
  kSpanId,
  kParentId,
  kTimeSinceStart,
  kVersion,
  kParent,
  // scopes
  kParentDot,
  kResourceDot,
  kSpanDot,
  kTraceColon,
  kSpanColon,
  kEventColon,
  kEventDot,
  kLinkColon,
  kLinkDot,
  kInstrumentationColon,
  kInstrumentationDot,
  // functions and keywords
  kCount,
  kAvg,
  kMax,
  kMin,
  kSum,
  kBy,
  kCoalesce,
  kSelect,
  kRate,
  kCountOverTime,
  kMinOverTime,
  kMaxOverTime,
  kAvgOverTime,
  kSumOverTime,
  kQuantileOverTime,
  kHistogramOverTime,
  kCompare,
  kTopk,
  kBottomk,
  kWith,
};

// How a token is named in "unexpected X" (its text for keywords and operators, IDENTIFIER,
// STRING, INTEGER, FLOAT, DURATION, END_ATTRIBUTE, $end).
std::string_view TokName(Tok t);

struct Token {
  Tok tok = Tok::kEof;
  std::string text;  // kIdentifier, kString: the value (unquoted)
  int64_t i = 0;     // kInteger; kDuration in nanoseconds
  double f = 0;      // kFloat
  int line = 1, col = 1;
};

// The tokens of `query`, ending with kEof; an error as Tempo words it ("parse error at line
// 1, col 5: invalid escape sequence").
Result<std::vector<Token>> Lex(std::string_view query);

// Where Tempo's errors are: "parse error at line L, col C: msg".
std::string ParseErrorText(int line, int col, std::string_view msg);

// Whether `c` may appear unquoted in an attribute name.
bool IsAttributeChar(uint32_t c);

}  // namespace strata::traceql
