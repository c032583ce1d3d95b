#include "logql/lexer.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "base/labels.h"
#include "base/units.h"

namespace strata::logql {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;  // letters beyond ASCII, as Go's scanner
}
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
std::string LowerString(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

struct Word {
  std::string_view text;
  Tok tok;
};

// Names that are keywords only when a call follows: `(`, or by/without and `(`.
constexpr auto kFunctionWords = std::to_array<Word>({
    {"rate", Tok::kRate},
    {"rate_counter", Tok::kRateCounter},
    {"count_over_time", Tok::kCountOverTime},
    {"bytes_rate", Tok::kBytesRate},
    {"bytes_over_time", Tok::kBytesOverTime},
    {"avg_over_time", Tok::kAvgOverTime},
    {"sum_over_time", Tok::kSumOverTime},
    {"min_over_time", Tok::kMinOverTime},
    {"max_over_time", Tok::kMaxOverTime},
    {"stdvar_over_time", Tok::kStdvarOverTime},
    {"stddev_over_time", Tok::kStddevOverTime},
    {"quantile_over_time", Tok::kQuantileOverTime},
    {"first_over_time", Tok::kFirstOverTime},
    {"last_over_time", Tok::kLastOverTime},
    {"absent_over_time", Tok::kAbsentOverTime},
    {"vector", Tok::kVector},
    {"sum", Tok::kSum},
    {"avg", Tok::kAvg},
    {"max", Tok::kMax},
    {"min", Tok::kMin},
    {"count", Tok::kCount},
    {"stddev", Tok::kStddev},
    {"stdvar", Tok::kStdvar},
    {"bottomk", Tok::kBottomk},
    {"topk", Tok::kTopk},
    {"sort", Tok::kSort},
    {"sort_desc", Tok::kSortDesc},
    {"label_replace", Tok::kLabelReplace},
    {"approx_topk", Tok::kApproxTopk},
    {"bytes", Tok::kBytesConv},
    {"duration", Tok::kDurationConv},
    {"duration_seconds", Tok::kDurationSecondsConv},
    {"ip", Tok::kIp},
});

// Keywords wherever they appear.
constexpr auto kKeywords = std::to_array<Word>({
    {"by", Tok::kBy},
    {"without", Tok::kWithout},
    {"bool", Tok::kBool},
    {"offset", Tok::kOffset},
    {"on", Tok::kOn},
    {"ignoring", Tok::kIgnoring},
    {"group_left", Tok::kGroupLeft},
    {"group_right", Tok::kGroupRight},
    {"or", Tok::kOr},
    {"and", Tok::kAnd},
    {"unless", Tok::kUnless},
    {"json", Tok::kJson},
    {"regexp", Tok::kRegexp},
    {"logfmt", Tok::kLogfmt},
    {"unpack", Tok::kUnpack},
    {"pattern", Tok::kPattern},
    {"label_format", Tok::kLabelFmt},
    {"line_format", Tok::kLineFmt},
    {"decolorize", Tok::kDecolorize},
    {"drop", Tok::kDrop},
    {"keep", Tok::kKeep},
    {"unwrap", Tok::kUnwrap},
    {"label_replace", Tok::kLabelReplace},
    {"ip", Tok::kIp},
});

struct Punct {
  std::string_view text;
  Tok tok;
};
constexpr auto kPunct = std::to_array<Punct>({
    {"|=", Tok::kPipeExact},  {"|~", Tok::kPipeMatch},   {"|>", Tok::kPipePattern},
    {"!=", Tok::kNeq},        {"!~", Tok::kNre},         {"!>", Tok::kNpa},
    {"=~", Tok::kRe},         {"==", Tok::kCmpEq},       {">=", Tok::kGte},
    {"<=", Tok::kLte},        {",", Tok::kComma},        {".", Tok::kDot},
    {"{", Tok::kOpenBrace},   {"}", Tok::kCloseBrace},   {"=", Tok::kEq},
    {"|", Tok::kPipe},        {"(", Tok::kOpenParen},    {")", Tok::kCloseParen},
    {"[", Tok::kOpenBracket}, {"]", Tok::kCloseBracket}, {"+", Tok::kAdd},
    {"-", Tok::kSub},         {"*", Tok::kMul},          {"/", Tok::kDiv},
    {"%", Tok::kMod},         {"^", Tok::kPow},          {">", Tok::kGt},
    {"<", Tok::kLt},
});

// Whether s[i..] starts a valid UTF-8 sequence (an ASCII byte included).
bool ValidUtf8At(std::string_view s, size_t i) {
  uint32_t cp = 0;
  return DecodeRune(s, i, &cp) != 0;
}

int HexVal(char c) {
  if (IsDigit(c)) return c - '0';
  c = Lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Go's strconv.Unquote of a double-quoted literal whose escapes the scanner has checked.
bool UnquoteDouble(std::string_view lit, std::string* out) {
  out->clear();
  for (size_t i = 1; i + 1 < lit.size(); ++i) {
    char c = lit[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    char e = lit[++i];
    switch (e) {
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '"':
        out->push_back('"');
        break;
      case 'x': {
        int v = HexVal(lit[i + 1]) * 16 + HexVal(lit[i + 2]);
        out->push_back(static_cast<char>(v));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        size_t n = e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 1; k <= n; ++k) cp = cp * 16 + static_cast<uint32_t>(HexVal(lit[i + k]));
        AppendUtf8(*out, cp);
        i += n;
        break;
      }
      default: {  // octal \ooo
        int v = (e - '0') * 64 + (lit[i + 1] - '0') * 8 + (lit[i + 2] - '0');
        if (v > 255) return false;
        out->push_back(static_cast<char>(v));
        i += 2;
        break;
      }
    }
  }
  return true;
}

bool IsDurationChar(std::string_view s, size_t i, size_t* len) {
  *len = 1;
  char c = s[i];
  if (IsDigit(c) || c == '.') return true;
  switch (c) {
    case 'n':
    case 'u':
    case 'm':
    case 's':
    case 'h':
    case 'd':
    case 'w':
    case 'y':
      return true;
    default:
      break;
  }
  if (s.substr(i, 2) == "\xC2\xB5") {
    *len = 2;
    return true;
  }
  return false;
}

bool IsBytesChar(char c) {
  switch (c) {
    case 'B':
    case 'i':
    case 'k':
    case 'K':
    case 'M':
    case 'G':
    case 'T':
    case 'P':
      return true;
    default:
      return IsDigit(c) || c == '.';
  }
}

}  // namespace

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEof:
      return "$end";
    case Tok::kError:
      return "error";
    case Tok::kOther:
      return "IDENTIFIER";
    case Tok::kBytes:
      return "BYTES";
    case Tok::kIdentifier:
      return "IDENTIFIER";
    case Tok::kString:
      return "STRING";
    case Tok::kNumber:
      return "NUMBER";
    case Tok::kFunctionFlag:
      return "FUNCTION_FLAG";
    case Tok::kDuration:
      return "DURATION";
    case Tok::kRange:
      return "RANGE";
    case Tok::kCountOverTime:
      return "COUNT_OVER_TIME";
    case Tok::kRate:
      return "RATE";
    case Tok::kRateCounter:
      return "RATE_COUNTER";
    case Tok::kSum:
      return "SUM";
    case Tok::kSort:
      return "SORT";
    case Tok::kSortDesc:
      return "SORT_DESC";
    case Tok::kAvg:
      return "AVG";
    case Tok::kMax:
      return "MAX";
    case Tok::kMin:
      return "MIN";
    case Tok::kCount:
      return "COUNT";
    case Tok::kStddev:
      return "STDDEV";
    case Tok::kStdvar:
      return "STDVAR";
    case Tok::kBottomk:
      return "BOTTOMK";
    case Tok::kTopk:
      return "TOPK";
    case Tok::kApproxTopk:
      return "APPROX_TOPK";
    case Tok::kBytesOverTime:
      return "BYTES_OVER_TIME";
    case Tok::kBytesRate:
      return "BYTES_RATE";
    case Tok::kAvgOverTime:
      return "AVG_OVER_TIME";
    case Tok::kSumOverTime:
      return "SUM_OVER_TIME";
    case Tok::kMinOverTime:
      return "MIN_OVER_TIME";
    case Tok::kMaxOverTime:
      return "MAX_OVER_TIME";
    case Tok::kStdvarOverTime:
      return "STDVAR_OVER_TIME";
    case Tok::kStddevOverTime:
      return "STDDEV_OVER_TIME";
    case Tok::kQuantileOverTime:
      return "QUANTILE_OVER_TIME";
    case Tok::kBytesConv:
      return "BYTES_CONV";
    case Tok::kDurationConv:
      return "DURATION_CONV";
    case Tok::kDurationSecondsConv:
      return "DURATION_SECONDS_CONV";
    case Tok::kFirstOverTime:
      return "FIRST_OVER_TIME";
    case Tok::kLastOverTime:
      return "LAST_OVER_TIME";
    case Tok::kAbsentOverTime:
      return "ABSENT_OVER_TIME";
    case Tok::kVector:
      return "VECTOR";
    default:
      break;
  }
  for (const auto& w : kKeywords) {
    if (w.tok == t) return w.text;
  }
  for (const auto& p : kPunct) {
    if (p.tok == t) return p.text;
  }
  return "?";
}

void Lexer::Advance() {
  if (AtEnd()) return;
  if (in_[pos_] == '\n') {
    ++line_;
    col_ = 1;
    ++pos_;
    return;
  }
  uint32_t cp = 0;
  size_t n = DecodeRune(in_, pos_, &cp);
  pos_ = std::min(in_.size(), pos_ + std::max<size_t>(n, 1));
  ++col_;
}

Token Lexer::Error(Token t, std::string msg) {
  error_ = std::move(msg);
  t.type = Tok::kError;
  return t;
}

Token Lexer::Make(Tok type, size_t start, Token t) const {
  t.type = type;
  t.text = in_.substr(start, pos_ - start);
  return t;
}

bool Lexer::IsFunctionCallAhead() const {
  size_t i = pos_;
  auto skip = [&] {
    while (i < in_.size() && IsSpace(in_[i])) ++i;
  };
  skip();
  if (i < in_.size() && in_[i] == '(') return true;
  std::string rest = LowerString(in_.substr(i, 7));
  size_t kw = 0;
  if (rest.starts_with("by")) {
    kw = 2;
  } else if (rest == "without") {
    kw = 7;
  } else {
    return false;
  }
  i += kw;
  skip();
  return i < in_.size() && in_[i] == '(';
}

Token Lexer::Next() {
  Token t;
  for (;;) {
    while (!AtEnd() && IsSpace(in_[pos_])) Advance();
    if (Peek() == '#') {
      while (!AtEnd() && in_[pos_] != '\n') Advance();
      continue;
    }
    if (Peek() == '/' && (Peek(1) == '/' || Peek(1) == '*')) {
      t.line = line_;
      t.col = col_;
      bool block = Peek(1) == '*';
      Advance();
      Advance();
      if (!block) {
        while (!AtEnd() && in_[pos_] != '\n') Advance();
        continue;
      }
      bool closed = false;
      while (!AtEnd()) {
        if (Peek() == '*' && Peek(1) == '/') {
          Advance();
          Advance();
          closed = true;
          break;
        }
        Advance();
      }
      if (!closed) return Error(t, "comment not terminated");
      continue;
    }
    break;
  }
  t.line = line_;
  t.col = col_;
  size_t start = pos_;
  if (AtEnd()) {
    t.type = Tok::kEof;
    return t;
  }
  if (!ValidUtf8At(in_, pos_)) return Error(t, "invalid UTF-8 encoding");
  char c = in_[pos_];
  if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return LexNumber(start, std::move(t));
  if (IsIdentStart(c)) return LexWord(start, std::move(t));
  if (c == '"' || c == '`' || c == '\'') return LexString(start, std::move(t), c);
  if (c == '[') return LexRange(start, std::move(t));
  if (c == '-') {
    Advance();
    if (Peek() == '-') {  // a parser flag: --strict, --keep-empty
      size_t end = pos_;
      while (end < in_.size() &&
             (std::isalpha(static_cast<unsigned char>(in_[end])) != 0 || in_[end] == '-')) {
        ++end;
      }
      std::string_view flag = in_.substr(start, end - start);
      if (flag == "--strict" || flag == "--keep-empty") {
        while (pos_ < end) Advance();
        t.str = std::string(flag);
        t.line = 0;
        return Make(Tok::kFunctionFlag, start, std::move(t));
      }
    }
    // A negative duration: -5m.
    if (TakeDuration(start, t)) return Make(Tok::kDuration, start, std::move(t));
    return Make(Tok::kSub, start, std::move(t));
  }
  // Punctuation: two characters first.
  for (const auto& p : kPunct) {
    if (p.text.size() == 2 && in_.substr(pos_, 2) == p.text) {
      Advance();
      Advance();
      t.line = 0;
      return Make(p.tok, start, std::move(t));
    }
  }
  for (const auto& p : kPunct) {
    if (p.text.size() == 1 && c == p.text[0]) {
      Advance();
      return Make(p.tok, start, std::move(t));
    }
  }
  Advance();
  return Make(Tok::kOther, start, std::move(t));
}

bool Lexer::ScanNumberText(std::string* err) {
  // Go's scanner: decimal, 0x/0o/0b prefixed, with '_' separators, fractions and exponents.
  auto digits = [&](int base) {
    size_t n = 0;
    while (!AtEnd()) {
      char c = in_[pos_];
      bool ok = c == '_' || (base == 16 ? HexVal(c) >= 0 : IsDigit(c));
      if (!ok) break;
      Advance();
      ++n;
    }
    return n;
  };
  int base = 10;
  char prefix = 0;
  if (Peek() == '0' && std::string_view("xXoObB").find(Peek(1)) != std::string_view::npos) {
    prefix = Lower(Peek(1));
    base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : 2;
    Advance();
    Advance();
  }
  size_t n = digits(base);
  if (Peek() == '.') {
    Advance();
    n += digits(base);
  }
  if (prefix != 0 && n == 0) {
    *err = fmt::format("{} literal has no digits", prefix == 'x'   ? "hexadecimal"
                                                   : prefix == 'o' ? "octal"
                                                                   : "binary");
    return false;
  }
  char e = Lower(Peek());
  if ((e == 'e' && base == 10) || (e == 'p' && base == 16)) {
    Advance();
    if (Peek() == '+' || Peek() == '-') Advance();
    if (digits(10) == 0) {
      *err = "exponent has no digits";
      return false;
    }
  }
  return true;
}

bool Lexer::TakeDuration(size_t start, Token& t) {
  size_t end = pos_;
  size_t len = 0;
  while (end < in_.size() && !IsSpace(in_[end]) && IsDurationChar(in_, end, &len)) end += len;
  int64_t ns = 0;
  if (end == pos_ || !ParsePromOrGoDuration(in_.substr(start, end - start), &ns)) return false;
  while (pos_ < end) Advance();
  t.dur_ns = ns;
  t.line = 0;
  return true;
}

Token Lexer::LexNumber(size_t start, Token t) {
  std::string err;
  if (!ScanNumberText(&err)) return Error(std::move(t), err);
  std::string_view number = in_.substr(start, pos_ - start);
  // A unit right after the number makes it a duration (5m, 1.5s), else a byte size (10KB).
  if (TakeDuration(start, t)) return Make(Tok::kDuration, start, std::move(t));
  size_t end = pos_;
  while (end < in_.size() && !IsSpace(in_[end]) && IsBytesChar(in_[end])) ++end;
  uint64_t b = 0;
  if (end > pos_ && ParseHumanBytes(in_.substr(start, end - start), &b)) {
    while (pos_ < end) Advance();
    t.bytes = b;
    t.line = 0;
    return Make(Tok::kBytes, start, std::move(t));
  }
  t.str = std::string(number);
  return Make(Tok::kNumber, start, std::move(t));
}

Token Lexer::LexWord(size_t start, Token t) {
  while (!AtEnd() && IsIdentChar(in_[pos_])) {
    if (!ValidUtf8At(in_, pos_)) return Error(std::move(t), "invalid UTF-8 encoding");
    Advance();
  }
  std::string_view text = in_.substr(start, pos_ - start);
  std::string lower = LowerString(text);
  for (const auto& w : kFunctionWords) {
    if (w.text == lower) {
      if (IsFunctionCallAhead()) return Make(w.tok, start, std::move(t));
      t.str = std::string(text);
      return Make(Tok::kIdentifier, start, std::move(t));
    }
  }
  for (const auto& w : kKeywords) {
    if (w.text == lower) return Make(w.tok, start, std::move(t));
  }
  t.str = std::string(text);
  return Make(Tok::kIdentifier, start, std::move(t));
}

Token Lexer::LexString(size_t start, Token t, char quote) {
  Advance();  // the opening quote
  size_t chars = 0;
  for (;;) {
    if (AtEnd() || (quote != '`' && in_[pos_] == '\n')) {
      return Error(std::move(t), "literal not terminated");
    }
    if (!ValidUtf8At(in_, pos_)) return Error(std::move(t), "invalid UTF-8 encoding");
    char c = in_[pos_];
    Advance();
    if (c == quote) break;
    ++chars;
    if (c != '\\' || quote == '`') continue;
    // Go's escapes: \a \b \f \n \r \t \v \\ \<quote>, octal, \x, \u, \U.
    char e = Peek();
    if (std::string_view("abfnrtv\\").find(e) != std::string_view::npos || e == quote) {
      Advance();
      continue;
    }
    size_t n = 0;
    int base = 0;
    uint32_t max = 0;
    if (e >= '0' && e <= '7') {
      n = 3, base = 8, max = 255;
    } else if (e == 'x') {
      Advance();
      n = 2, base = 16, max = 255;
    } else if (e == 'u') {
      Advance();
      n = 4, base = 16, max = 0x10FFFF;
    } else if (e == 'U') {
      Advance();
      n = 8, base = 16, max = 0x10FFFF;
    } else {
      return Error(std::move(t), "invalid char escape");
    }
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      int d = HexVal(Peek());
      if (d < 0 || d >= base) return Error(std::move(t), "invalid char escape");
      v = v * static_cast<uint32_t>(base) + static_cast<uint32_t>(d);
      Advance();
    }
    if (v > max || (v >= 0xD800 && v < 0xE000)) {
      return Error(std::move(t), "escape sequence is invalid Unicode code point");
    }
  }
  std::string_view lit = in_.substr(start, pos_ - start);
  if (quote == '\'') {
    // A Go character literal: no LogQL token.
    if (chars != 1) return Error(std::move(t), "invalid char literal");
    return Make(Tok::kOther, start, std::move(t));
  }
  if (quote == '`') {
    t.str = std::string(lit.substr(1, lit.size() - 2));
    // Go drops carriage returns from raw strings.
    std::erase(t.str, '\r');
  } else if (!UnquoteDouble(lit, &t.str)) {
    return Error(std::move(t), "invalid syntax");
  }
  return Make(Tok::kString, start, std::move(t));
}

Token Lexer::LexRange(size_t start, Token t) {
  Advance();  // [
  size_t body = pos_;
  while (!AtEnd() && in_[pos_] != ']') Advance();
  t.line = 0;
  if (AtEnd()) return Error(std::move(t), "missing closing ']' in duration");
  std::string_view d = in_.substr(body, pos_ - body);
  Advance();  // ]
  std::string err;
  if (!ParsePromDuration(d, &t.dur_ns, &err)) return Error(std::move(t), err);
  return Make(Tok::kRange, start, std::move(t));
}

bool ParseHumanBytes(std::string_view s, uint64_t* out) {
  size_t digits = 0;
  while (digits < s.size() && (IsDigit(s[digits]) || s[digits] == '.' || s[digits] == ',')) {
    ++digits;
  }
  std::string num;
  for (char c : s.substr(0, digits)) {
    if (c != ',') num.push_back(c);
  }
  double f = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), f);
  if (num.empty() || ec != std::errc() || ptr != num.data() + num.size()) return false;
  std::string unit = LowerString(s.substr(digits));
  struct Size {
    std::string_view name;
    double mult;
  };
  static constexpr std::array<Size, 26> kSizes = {{
      {"", 1},         {"b", 1},        {"kib", 0x1p10}, {"ki", 0x1p10},  {"kb", 1e3},
      {"k", 1e3},      {"mib", 0x1p20}, {"mi", 0x1p20},  {"mb", 1e6},     {"m", 1e6},
      {"gib", 0x1p30}, {"gi", 0x1p30},  {"gb", 1e9},     {"g", 1e9},      {"tib", 0x1p40},
      {"ti", 0x1p40},  {"tb", 1e12},    {"t", 1e12},     {"pib", 0x1p50}, {"pi", 0x1p50},
      {"pb", 1e15},    {"p", 1e15},     {"eib", 0x1p60}, {"ei", 0x1p60},  {"eb", 1e18},
      {"e", 1e18},
  }};
  for (const auto& sz : kSizes) {
    if (sz.name == unit) {
      double v = f * sz.mult;
      if (v >= 0x1p64) return false;
      *out = static_cast<uint64_t>(v);
      return true;
    }
  }
  return false;
}

std::string FormatHumanBytes(uint64_t b) {
  if (b < 10) return fmt::format("{}B", b);
  static constexpr std::array<std::string_view, 7> kUnits = {"B",  "kB", "MB", "GB",
                                                             "TB", "PB", "EB"};
  auto s = static_cast<double>(b);
  double e = std::floor(std::log(s) / std::log(1000.0));
  double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  auto unit = kUnits[static_cast<size_t>(e)];
  return val < 10 ? fmt::format("{:.1f}{}", val, unit) : fmt::format("{:.0f}{}", val, unit);
}

}  // namespace strata::logql
