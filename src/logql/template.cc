#include "logql/template.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <utility>

#include "base/encoding.h"
#include "base/labels.h"
#include "base/math.h"
#include "base/units.h"
#include "logql/lexer.h"

namespace strata::logql {

// ---- syntax ----------------------------------------------------------------------------

struct Pipe;

struct Arg {
  enum class Kind : uint8_t { kField, kDot, kString, kInt, kFloat, kBool, kNil, kIdent, kPipe };
  Kind kind = Kind::kNil;
  std::string s;  // field name, string, identifier
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::shared_ptr<Pipe> pipe;
};

struct Command {
  std::vector<Arg> args;
};

struct Pipe {
  std::vector<Command> cmds;
};

struct TemplateNode {
  enum class Kind : uint8_t { kList, kText, kAction, kIf, kWith };
  Kind kind = Kind::kList;
  std::string text;
  Pipe pipe;
  std::vector<TemplateNode> list;
  std::vector<TemplateNode> else_list;
};

namespace {

constexpr int kMaxDepth = 100;  // nesting of actions, parentheses and calls
// The most bytes a template's output, or any value it computes, may hold.
constexpr size_t kMaxValueBytes = size_t{1} << 20;

// Every function a template may call: Go's built-ins, Loki's, and the sprig ones Loki takes.
constexpr std::string_view kFunctions[] = {"eq",
                                           "ne",
                                           "lt",
                                           "le",
                                           "gt",
                                           "ge",
                                           "and",
                                           "or",
                                           "not",
                                           "len",
                                           "print",
                                           "printf",
                                           "println",
                                           "__line__",
                                           "__timestamp__",
                                           "ToLower",
                                           "ToUpper",
                                           "Replace",
                                           "Trim",
                                           "TrimLeft",
                                           "TrimRight",
                                           "TrimPrefix",
                                           "TrimSuffix",
                                           "TrimSpace",
                                           "regexReplaceAll",
                                           "regexReplaceAllLiteral",
                                           "count",
                                           "urldecode",
                                           "urlencode",
                                           "bytes",
                                           "duration",
                                           "duration_seconds",
                                           "unixEpochMillis",
                                           "unixEpochNanos",
                                           "unixToTime",
                                           "alignLeft",
                                           "alignRight",
                                           "b64dec",
                                           "b64enc",
                                           "lower",
                                           "upper",
                                           "title",
                                           "trunc",
                                           "substr",
                                           "contains",
                                           "hasPrefix",
                                           "hasSuffix",
                                           "indent",
                                           "nindent",
                                           "replace",
                                           "repeat",
                                           "trim",
                                           "trimAll",
                                           "trimSuffix",
                                           "trimPrefix",
                                           "int",
                                           "float64",
                                           "add",
                                           "sub",
                                           "mul",
                                           "div",
                                           "mod",
                                           "addf",
                                           "subf",
                                           "mulf",
                                           "divf",
                                           "max",
                                           "min",
                                           "maxf",
                                           "minf",
                                           "ceil",
                                           "floor",
                                           "round",
                                           "date",
                                           "now",
                                           "unixEpoch",
                                           "default"};

struct TemplateError {
  std::string msg;
};

[[noreturn]] void Throw(std::string msg) { throw TemplateError{std::move(msg)}; }

bool IsTemplateSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Splits a template into text and the contents of its actions, applying trim markers.
struct Piece {
  bool action = false;
  std::string text;
  int line = 1;
};

// Where the action starting at `body` ends ("}}" outside quoted strings), or npos.
size_t ActionEnd(std::string_view t, size_t body) {
  for (size_t i = body; i + 1 < t.size(); ++i) {
    char c = t[i];
    if (c == '"' || c == '`' || c == '\'') {
      for (++i; i < t.size() && t[i] != c; ++i) {
        if (c != '`' && t[i] == '\\') ++i;
      }
      continue;
    }
    if (c == '}' && t[i + 1] == '}') return i;
  }
  return std::string_view::npos;
}

std::vector<Piece> Split(std::string_view t, std::string_view name) {
  std::vector<Piece> out;
  size_t pos = 0;
  int line = 1;
  bool trim_next = false;
  while (pos <= t.size()) {
    size_t open = t.find("{{", pos);
    std::string_view text =
        t.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos);
    // "{{- " and " -}}" trim the white space beside them (any white space after the dash).
    bool trim_prev = open != std::string_view::npos && open + 3 < t.size() && t[open + 2] == '-' &&
                     IsTemplateSpace(t[open + 3]);
    std::string txt(text);
    if (trim_next) {
      size_t k = 0;
      while (k < txt.size() && IsTemplateSpace(txt[k])) ++k;
      txt.erase(0, k);
    }
    if (trim_prev) {
      while (!txt.empty() && IsTemplateSpace(txt.back())) txt.pop_back();
    }
    if (!txt.empty()) out.push_back({false, txt, line});
    line += static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    if (open == std::string_view::npos) break;
    size_t body = open + 2 + (trim_prev ? 1 : 0);
    size_t close = std::string_view::npos;
    size_t lead = body;
    while (lead < t.size() && IsTemplateSpace(t[lead])) ++lead;
    if (t.substr(lead).starts_with("/*")) {
      // A comment ends at "*/" and then "}}".
      size_t end = t.find("*/", lead + 2);
      if (end == std::string_view::npos) {
        Throw(fmt::format("template: {}:{}: unclosed comment", name, line));
      }
      close = t.find("}}", end);
    } else {
      close = ActionEnd(t, body);
    }
    if (close == std::string_view::npos) {
      Throw(fmt::format("template: {}:{}: unclosed action", name, line));
    }
    size_t body_end = close;
    trim_next = false;
    if (body_end >= body + 2 && t[body_end - 1] == '-' && IsTemplateSpace(t[body_end - 2])) {
      trim_next = true;
      body_end -= 1;
    }
    std::string_view action = t.substr(body, body_end - body);
    line += static_cast<int>(std::count(action.begin(), action.end(), '\n'));
    std::string_view trimmed = action;
    while (!trimmed.empty() && IsTemplateSpace(trimmed.front())) trimmed.remove_prefix(1);
    while (!trimmed.empty() && IsTemplateSpace(trimmed.back())) trimmed.remove_suffix(1);
    if (!trimmed.starts_with("/*")) out.push_back({true, std::string(trimmed), line});
    pos = close + 2;
  }
  return out;
}

// Parses the inside of an action.
class ActionParser {
 public:
  ActionParser(std::string_view s, std::string_view name, int line)
      : s_(s), name_(name), line_(line) {}

  [[noreturn]] void Fail(std::string_view msg) {
    Throw(fmt::format("template: {}:{}: {}", name_, line_, msg));
  }

  // The leading keyword (if, else, end, with, range, template, define, block), if any.
  std::string_view Keyword() {
    Skip();
    size_t j = i_;
    while (j < s_.size() && IsWordChar(s_[j])) ++j;
    std::string_view w = s_.substr(i_, j - i_);
    static constexpr std::string_view kKeywords[] = {
        "if", "else", "end", "with", "range", "template", "define", "block", "break", "continue"};
    for (auto k : kKeywords) {
      if (w == k) {
        i_ = j;
        return k;
      }
    }
    return {};
  }

  bool AtEnd() {
    Skip();
    return i_ >= s_.size();
  }

  Pipe ParsePipe(int depth) {
    if (depth > kMaxDepth) Fail("nesting too deep");
    Pipe p;
    for (;;) {
      Skip();
      if (i_ < s_.size() && (s_[i_] == '$' || s_.substr(i_).starts_with(":="))) {
        Fail("variables are not supported");
      }
      Command c;
      while (true) {
        Skip();
        if (i_ >= s_.size() || s_[i_] == '|' || s_[i_] == ')') break;
        c.args.push_back(ParseOperand(depth));
      }
      if (c.args.empty()) Fail(p.cmds.empty() ? "missing value for command" : "missing command");
      p.cmds.push_back(std::move(c));
      Skip();
      if (i_ < s_.size() && s_[i_] == '|') {
        ++i_;
        continue;
      }
      return p;
    }
  }

  size_t pos() const { return i_; }

 private:
  void Skip() {
    while (i_ < s_.size() && IsTemplateSpace(s_[i_])) ++i_;
  }

  Arg ParseOperand(int depth) {
    Arg a;
    char c = s_[i_];
    if (c == '(') {
      ++i_;
      a.kind = Arg::Kind::kPipe;
      a.pipe = std::make_shared<Pipe>(ParsePipe(depth + 1));
      Skip();
      if (i_ >= s_.size() || s_[i_] != ')') Fail("unclosed left paren");
      ++i_;
      return a;
    }
    if (c == '.') {
      size_t j = i_ + 1;
      while (j < s_.size() && IsWordChar(s_[j])) ++j;
      if (j == i_ + 1) {
        a.kind = Arg::Kind::kDot;
      } else {
        a.kind = Arg::Kind::kField;
        a.s = std::string(s_.substr(i_ + 1, j - i_ - 1));
        if (j < s_.size() && s_[j] == '.') Fail("nested fields are not supported on labels");
      }
      i_ = j;
      return a;
    }
    if (c == '"' || c == '`') {
      size_t j = i_ + 1;
      while (j < s_.size() && s_[j] != c) j += (c == '"' && s_[j] == '\\') ? 2 : 1;
      if (j >= s_.size()) Fail("unterminated quoted string");
      std::string_view lit = s_.substr(i_, j + 1 - i_);
      i_ = j + 1;
      a.kind = Arg::Kind::kString;
      if (c == '`') {
        a.s = std::string(lit.substr(1, lit.size() - 2));
      } else {
        Lexer lx(lit);
        Token t = lx.Next();
        if (t.type != Tok::kString) Fail(fmt::format("invalid syntax: {}", lit));
        a.s = std::move(t.str);
      }
      return a;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '+') {
      size_t j = i_ + 1;
      while (j < s_.size() &&
             (std::isalnum(static_cast<unsigned char>(s_[j])) != 0 || s_[j] == '.' ||
              s_[j] == '_' ||
              ((s_[j] == '+' || s_[j] == '-') && (s_[j - 1] == 'e' || s_[j - 1] == 'E')))) {
        ++j;
      }
      std::string_view num = s_.substr(i_, j - i_);
      i_ = j;
      std::string_view digits = num;
      if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
      int64_t iv = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), iv);
      if (ec == std::errc() && p == digits.data() + digits.size()) {
        a.kind = Arg::Kind::kInt;
        a.i = iv;
        return a;
      }
      std::string err;
      if (!ParseGoFloat(num, &a.f, &err)) Fail(fmt::format("bad number syntax: \"{}\"", num));
      a.kind = Arg::Kind::kFloat;
      return a;
    }
    if (IsWordChar(c)) {
      size_t j = i_;
      while (j < s_.size() && IsWordChar(s_[j])) ++j;
      std::string_view w = s_.substr(i_, j - i_);
      i_ = j;
      if (w == "true" || w == "false") {
        a.kind = Arg::Kind::kBool;
        a.b = w == "true";
      } else if (w == "nil") {
        a.kind = Arg::Kind::kNil;
      } else {
        if (std::find(std::begin(kFunctions), std::end(kFunctions), w) == std::end(kFunctions)) {
          Fail(fmt::format("function \"{}\" not defined", w));
        }
        a.kind = Arg::Kind::kIdent;
        a.s = std::string(w);
      }
      return a;
    }
    Fail(fmt::format("unexpected \"{}\" in operand", c));
  }

  std::string_view s_;
  std::string_view name_;
  int line_;
  size_t i_ = 0;
};

// Builds the node tree from the pieces.
class TreeBuilder {
 public:
  TreeBuilder(std::vector<Piece> pieces, std::string_view name)
      : pieces_(std::move(pieces)), name_(name) {}

  TemplateNode Build() {
    TemplateNode root;
    std::string_view stop = List(root.list, 0);
    if (!stop.empty()) {
      Throw(fmt::format("template: {}:{}: unexpected {{{{{}}}}}", name_, line_, stop));
    }
    return root;
  }

 private:
  // Parses nodes until {{end}} or {{else...}}; returns which ("" at the end of input).
  std::string_view List(std::vector<TemplateNode>& out, int depth) {
    if (depth > kMaxDepth) Throw(fmt::format("template: {}: nesting too deep", name_));
    while (next_ < pieces_.size()) {
      Piece& p = pieces_[next_++];
      line_ = p.line;
      if (!p.action) {
        TemplateNode n;
        n.kind = TemplateNode::Kind::kText;
        n.text = std::move(p.text);
        out.push_back(std::move(n));
        continue;
      }
      ActionParser ap(p.text, name_, p.line);
      std::string_view kw = ap.Keyword();
      if (kw == "end") {
        if (!ap.AtEnd()) ap.Fail("unexpected token in end");
        return "end";
      }
      if (kw == "else") {
        else_rest_ = p.text.substr(ap.pos());
        return "else";
      }
      if (kw == "if" || kw == "with") {
        out.push_back(
            Branch(kw == "if" ? TemplateNode::Kind::kIf : TemplateNode::Kind::kWith, ap, depth));
        continue;
      }
      if (!kw.empty()) ap.Fail(fmt::format("{} is not supported", kw));
      if (ap.AtEnd()) ap.Fail("missing value for command");
      TemplateNode n;
      n.kind = TemplateNode::Kind::kAction;
      n.pipe = ap.ParsePipe(0);
      if (!ap.AtEnd()) ap.Fail("unexpected token in command");
      out.push_back(std::move(n));
    }
    return {};
  }

  TemplateNode Branch(TemplateNode::Kind kind, ActionParser& ap, int depth) {
    TemplateNode n;
    n.kind = kind;
    if (ap.AtEnd())
      ap.Fail(fmt::format("missing value for {}", kind == TemplateNode::Kind::kIf ? "if" : "with"));
    n.pipe = ap.ParsePipe(0);
    if (!ap.AtEnd()) ap.Fail("unexpected token in command");
    std::string_view stop = List(n.list, depth + 1);
    if (stop == "else") {
      std::string rest = else_rest_;
      ActionParser ep(rest, name_, line_);
      std::string_view kw = ep.Keyword();
      if (kw == "if" || kw == "with") {
        // {{else if x}} ... {{end}}: a branch inside the else branch, sharing its end.
        n.else_list.push_back(Branch(
            kw == "if" ? TemplateNode::Kind::kIf : TemplateNode::Kind::kWith, ep, depth + 1));
        return n;
      }
      if (!ep.AtEnd()) ep.Fail("unexpected token in else");
      stop = List(n.else_list, depth + 1);
    }
    if (stop != "end") Throw(fmt::format("template: {}:{}: unexpected EOF", name_, line_));
    return n;
  }

  std::vector<Piece> pieces_;
  std::string_view name_;
  size_t next_ = 0;
  int line_ = 1;
  std::string else_rest_;
};

// ---- values ------------------------------------------------------------------------------

struct Value {
  enum class Kind : uint8_t { kNil, kString, kInt, kFloat, kBool, kTime };
  Kind kind = Kind::kNil;
  std::string s;
  int64_t i = 0;  // kInt; kTime: Unix ns
  double f = 0;
  bool b = false;

  static Value Str(std::string v) {
    Value x;
    x.kind = Kind::kString;
    x.s = std::move(v);
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value Float(double v) {
    Value x;
    x.kind = Kind::kFloat;
    x.f = v;
    return x;
  }
  static Value Bool(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
  static Value Time(int64_t ns) {
    Value x;
    x.kind = Kind::kTime;
    x.i = ns;
    return x;
  }
};

// Go's time layout ("2006-01-02T15:04:05Z07:00") applied to a UTC time.
std::string FormatGoTime(int64_t ns, std::string_view layout) {
  int64_t secs = FloorDiv(ns, 1'000'000'000);
  int64_t frac = ns - secs * 1'000'000'000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr std::string_view kMonths[] = {"January",   "February", "March",    "April",
                                                 "May",       "June",     "July",     "August",
                                                 "September", "October",  "November", "December"};
  static constexpr std::string_view kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                               "Thursday", "Friday", "Saturday"};
  std::string out;
  size_t i = 0;
  auto take = [&](std::string_view tok) {
    if (layout.substr(i).starts_with(tok)) {
      i += tok.size();
      return true;
    }
    return false;
  };
  while (i < layout.size()) {
    if (take("2006")) {
      out += fmt::format("{:04d}", tm.tm_year + 1900);
    } else if (take("January")) {
      out += kMonths[tm.tm_mon];
    } else if (take("Jan")) {
      out += kMonths[tm.tm_mon].substr(0, 3);
    } else if (take("Monday")) {
      out += kDays[tm.tm_wday];
    } else if (take("Mon")) {
      out += kDays[tm.tm_wday].substr(0, 3);
    } else if (take("MST")) {
      out += "UTC";
    } else if (take("01")) {
      out += fmt::format("{:02d}", tm.tm_mon + 1);
    } else if (take("02")) {
      out += fmt::format("{:02d}", tm.tm_mday);
    } else if (take("_2")) {
      out += fmt::format("{:2d}", tm.tm_mday);
    } else if (take("06")) {
      out += fmt::format("{:02d}", (tm.tm_year + 1900) % 100);
    } else if (take("15")) {
      out += fmt::format("{:02d}", tm.tm_hour);
    } else if (take("03")) {
      out += fmt::format("{:02d}", tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12);
    } else if (take("04")) {
      out += fmt::format("{:02d}", tm.tm_min);
    } else if (take("05")) {
      out += fmt::format("{:02d}", tm.tm_sec);
    } else if (take("PM")) {
      out += tm.tm_hour >= 12 ? "PM" : "AM";
    } else if (take("pm")) {
      out += tm.tm_hour >= 12 ? "pm" : "am";
    } else if (take("Z07:00") || take("Z0700") || take("Z07")) {
      out += "Z";
    } else if (take("-07:00")) {
      out += "+00:00";
    } else if (take("-0700")) {
      out += "+0000";
    } else if (take("-07")) {
      out += "+00";
    } else if (layout[i] == '.' || layout[i] == ',') {
      // Fractional seconds: .000 (fixed) or .999 (trailing zeros trimmed).
      size_t j = i + 1;
      char d = j < layout.size() ? layout[j] : 0;
      while (j < layout.size() && layout[j] == d && (d == '0' || d == '9')) ++j;
      size_t n = j - i - 1;
      if ((d == '0' || d == '9') && n > 0 &&
          (j >= layout.size() || !std::isdigit(static_cast<unsigned char>(layout[j])))) {
        std::string digits = fmt::format("{:09d}", frac).substr(0, std::min<size_t>(n, 9));
        if (d == '9') {
          while (!digits.empty() && digits.back() == '0') digits.pop_back();
          if (!digits.empty()) out += layout[i] + digits;
        } else {
          out += layout[i] + digits;
        }
        i = j;
      } else {
        out += layout[i++];
      }
    } else if (take("1")) {
      out += std::to_string(tm.tm_mon + 1);
    } else if (take("2")) {
      out += std::to_string(tm.tm_mday);
    } else if (take("3")) {
      out += std::to_string(tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12);
    } else if (take("4")) {
      out += std::to_string(tm.tm_min);
    } else if (take("5")) {
      out += std::to_string(tm.tm_sec);
    } else {
      out += layout[i++];
    }
  }
  return out;
}

std::string Print(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return "<no value>";
    case Value::Kind::kString:
      return v.s;
    case Value::Kind::kInt:
      return std::to_string(v.i);
    case Value::Kind::kFloat:
      return FormatFloatG(v.f);
    case Value::Kind::kBool:
      return v.b ? "true" : "false";
    case Value::Kind::kTime:
      return FormatGoTime(v.i, "2006-01-02 15:04:05.999999999 -0700 MST");
  }
  return "";
}

bool Truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return false;
    case Value::Kind::kString:
      return !v.s.empty();
    case Value::Kind::kInt:
      return v.i != 0;
    case Value::Kind::kFloat:
      return v.f != 0;
    case Value::Kind::kBool:
      return v.b;
    case Value::Kind::kTime:
      return true;
  }
  return false;
}

// A float truncated to an int64, clamped to its range (NaN is 0).
int64_t FloatToInt(double f) {
  if (std::isnan(f)) return 0;
  if (f >= 0x1p63) return INT64_MAX;
  if (f < -0x1p63) return INT64_MIN;
  return static_cast<int64_t>(f);
}

// sprig's cast: strings parse, floats truncate, booleans are 0/1.
int64_t ToInt(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kInt:
      return v.i;
    case Value::Kind::kFloat:
      return FloatToInt(v.f);
    case Value::Kind::kBool:
      return v.b ? 1 : 0;
    case Value::Kind::kString: {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), i);
      if (ec == std::errc() && p == v.s.data() + v.s.size()) return i;
      double f = 0;
      std::string err;
      return ParseGoFloat(v.s, &f, &err) ? FloatToInt(f) : 0;
    }
    default:
      return 0;
  }
}

double ToFloat(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kInt:
      return static_cast<double>(v.i);
    case Value::Kind::kFloat:
      return v.f;
    case Value::Kind::kBool:
      return v.b ? 1 : 0;
    case Value::Kind::kString: {
      double f = 0;
      std::string err;
      return ParseGoFloat(v.s, &f, &err) ? f : 0;
    }
    default:
      return 0;
  }
}

std::string ToStr(const Value& v) { return v.kind == Value::Kind::kNil ? "" : Print(v); }

bool Numeric(const Value& v) {
  return v.kind == Value::Kind::kInt || v.kind == Value::Kind::kFloat;
}

// Go's eq/lt/...: same kinds compare; numbers compare across int and float.
int Compare(const Value& a, const Value& b, std::string_view fn) {
  if (Numeric(a) && Numeric(b)) {
    if (a.kind == Value::Kind::kInt && b.kind == Value::Kind::kInt)
      return (a.i > b.i) - (a.i < b.i);
    double x = ToFloat(a), y = ToFloat(b);
    return (x > y) - (x < y);
  }
  if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString) {
    return a.s.compare(b.s) < 0 ? -1 : a.s == b.s ? 0 : 1;
  }
  if (a.kind == Value::Kind::kBool && b.kind == Value::Kind::kBool && (fn == "eq" || fn == "ne")) {
    return a.b == b.b ? 0 : 1;
  }
  Throw(fmt::format("error calling {}: incompatible types for comparison", fn));
}

std::string Repeat(std::string_view s, int64_t n) {
  std::string out;
  if (n <= 0 || s.empty()) return out;
  if (static_cast<uint64_t>(n) > kMaxValueBytes / s.size()) Throw("repeat: result too large");
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) out += s;
  return out;
}

std::vector<uint32_t> Runes(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = DecodeRune(s, i, &cp);
    if (n == 0) {
      cp = 0xFFFD;
      n = 1;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string FromRunes(const std::vector<uint32_t>& r, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end && i < r.size(); ++i) AppendUtf8(out, r[i]);
  return out;
}

std::string TrimCutset(std::string_view s, std::string_view cutset, bool left, bool right) {
  auto in = [&](char c) { return cutset.find(c) != std::string_view::npos; };
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e && in(s[b])) ++b;
  }
  if (right) {
    while (e > b && in(s[e - 1])) --e;
  }
  return std::string(s.substr(b, e - b));
}

std::string Base64DecodeLoki(std::string v) {
  // Loki pads a value short of a multiple of 4, and prints Go's error on failure.
  if (size_t rem = v.size() % 4; rem != 0 && rem != 1) v.append(4 - rem, '=');
  std::string out;
  if (!Base64Decode(v, &out)) return "illegal base64 data at input byte 0";
  return out;
}

// A compiled regex, kept per thread for the patterns a query's lines use again and again.
const RE2& Regex(const std::string& pattern) {
  thread_local std::map<std::string, std::unique_ptr<RE2>> cache;
  if (auto it = cache.find(pattern); it != cache.end()) return *it->second;
  if (cache.size() >= 64) cache.clear();
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(int64_t{1} << 20);
  auto r = std::make_unique<RE2>(pattern, opts);
  if (!r->ok()) Throw("error parsing regexp: " + r->error());
  return *cache.emplace(pattern, std::move(r)).first->second;
}

// Go's regexp.ReplaceAllString: $1, ${name} expanded.
std::string RegexReplace(const std::string& re, const std::string& s, const std::string& repl,
                         bool literal) {
  const RE2& r = Regex(re);
  std::string rewrite;
  if (literal) {
    for (char c : repl) {
      if (c == '\\') rewrite += '\\';
      rewrite += c;
    }
  } else {
    // $1 / ${1} become RE2's \1; named groups by their index.
    for (size_t i = 0; i < repl.size(); ++i) {
      char c = repl[i];
      if (c == '\\') {
        rewrite += "\\\\";
        continue;
      }
      if (c != '$' || i + 1 >= repl.size()) {
        rewrite += c;
        continue;
      }
      if (repl[i + 1] == '$') {  // "$$" is a literal "$"
        rewrite += '$';
        ++i;
        continue;
      }
      std::string name;
      size_t j = i + 1;
      if (repl[j] == '{') {
        size_t end = repl.find('}', j);
        if (end == std::string::npos) {
          rewrite += c;
          continue;
        }
        name = repl.substr(j + 1, end - j - 1);
        j = end + 1;
      } else {
        while (j < repl.size() && IsWordChar(repl[j])) ++j;
        name = repl.substr(i + 1, j - i - 1);
      }
      if (name.empty()) {
        rewrite += c;
        continue;
      }
      int idx = -1;
      if (std::all_of(name.begin(), name.end(),
                      [](char d) { return std::isdigit(static_cast<unsigned char>(d)) != 0; })) {
        idx = std::stoi(name.substr(0, 6));
      } else if (auto it = r.NamedCapturingGroups().find(name);
                 it != r.NamedCapturingGroups().end()) {
        idx = it->second;
      }
      if (idx >= 0 && idx <= r.NumberOfCapturingGroups() && idx <= 9)
        rewrite += "\\" + std::to_string(idx);
      i = j - 1;
    }
  }
  // Bound the result before building it: the text plus every match replaced.
  size_t matches = 0;
  re2::StringPiece m;
  for (size_t pos = 0; pos <= s.size() && r.Match(s, pos, s.size(), RE2::UNANCHORED, &m, 1);) {
    ++matches;
    size_t end = static_cast<size_t>(m.data() - s.data()) + m.size();
    pos = m.empty() ? end + 1 : end;
  }
  if (matches > 0 &&
      repl.size() > (kMaxValueBytes - std::min(s.size(), kMaxValueBytes)) / matches) {
    Throw("regexReplaceAll: result too large");
  }
  std::string out = s;
  RE2::GlobalReplace(&out, r, rewrite);
  return out;
}

class Executor {
 public:
  Executor(const TemplateInput& in, std::string_view name) : in_(in), name_(name) {}

  void Run(const std::vector<TemplateNode>& nodes, const Value* dot, std::string& out, int depth) {
    if (depth > kMaxDepth) Throw("nesting too deep");
    for (const auto& n : nodes) {
      switch (n.kind) {
        case TemplateNode::Kind::kText:
          out += n.text;
          break;
        case TemplateNode::Kind::kAction:
          out += Print(EvalPipe(n.pipe, dot, depth));
          break;
        case TemplateNode::Kind::kIf: {
          Value v = EvalPipe(n.pipe, dot, depth);
          Run(Truthy(v) ? n.list : n.else_list, dot, out, depth + 1);
          break;
        }
        case TemplateNode::Kind::kWith: {
          Value v = EvalPipe(n.pipe, dot, depth);
          if (Truthy(v)) {
            Run(n.list, &v, out, depth + 1);
          } else {
            Run(n.else_list, dot, out, depth + 1);
          }
          break;
        }
        case TemplateNode::Kind::kList:
          Run(n.list, dot, out, depth + 1);
          break;
      }
      if (out.size() > kMaxValueBytes) Throw("output too large");
    }
  }

 private:
  Value EvalPipe(const Pipe& p, const Value* dot, int depth) {
    if (depth > kMaxDepth) Throw("nesting too deep");
    std::optional<Value> prev;
    for (const auto& c : p.cmds) prev = EvalCommand(c, dot, std::move(prev), depth);
    return prev.value_or(Value{});
  }

  Value EvalArg(const Arg& a, const Value* dot, int depth) {
    switch (a.kind) {
      case Arg::Kind::kField: {
        if (dot != nullptr) Throw(fmt::format("can't evaluate field {} in type {}", a.s, "string"));
        auto v = in_.label(a.s);
        return Value::Str(v ? std::string(*v) : std::string());
      }
      case Arg::Kind::kDot:
        if (dot == nullptr) Throw("printing the whole label map is not supported");
        return *dot;
      case Arg::Kind::kString:
        return Value::Str(a.s);
      case Arg::Kind::kInt:
        return Value::Int(a.i);
      case Arg::Kind::kFloat:
        return Value::Float(a.f);
      case Arg::Kind::kBool:
        return Value::Bool(a.b);
      case Arg::Kind::kNil:
        return Value{};
      case Arg::Kind::kPipe:
        return EvalPipe(*a.pipe, dot, depth + 1);
      case Arg::Kind::kIdent:
        return Call(a.s, {});
    }
    return Value{};
  }

  Value EvalCommand(const Command& c, const Value* dot, std::optional<Value> piped, int depth) {
    const Arg& first = c.args[0];
    if (first.kind != Arg::Kind::kIdent) {
      if (c.args.size() > 1 || piped) {
        Throw(fmt::format("can't give argument to non-function {}", ArgText(first)));
      }
      return EvalArg(first, dot, depth);
    }
    if (first.s == "and" || first.s == "or") {
      // Go evaluates and/or's arguments one at a time and stops at the deciding one.
      size_t n = c.args.size() - 1 + (piped ? 1 : 0);
      if (n == 0) Throw(fmt::format("wrong number of args for {}", first.s));
      Value v;
      for (size_t i = 1; i <= n; ++i) {
        v = i < c.args.size() ? EvalArg(c.args[i], dot, depth) : std::move(*piped);
        if (Truthy(v) != (first.s == "and")) return v;
      }
      return v;
    }
    std::vector<Value> args;
    args.reserve(c.args.size());
    for (size_t i = 1; i < c.args.size(); ++i) args.push_back(EvalArg(c.args[i], dot, depth));
    if (piped) args.push_back(std::move(*piped));
    return Call(first.s, std::move(args));
  }

  // Calls a function; no value it makes may exceed kMaxValueBytes.
  Value Call(const std::string& fn, std::vector<Value> a) {
    Value v = CallFunction(fn, std::move(a));
    if (v.kind == Value::Kind::kString && v.s.size() > kMaxValueBytes) {
      Throw(fmt::format("error calling {}: result too large", fn));
    }
    return v;
  }

  static std::string ArgText(const Arg& a) {
    switch (a.kind) {
      case Arg::Kind::kField:
        return "." + a.s;
      case Arg::Kind::kString:
        return GoQuote(a.s);
      case Arg::Kind::kInt:
        return std::to_string(a.i);
      default:
        return "operand";
    }
  }

  void Want(std::string_view fn, const std::vector<Value>& a, size_t n) {
    if (a.size() != n) {
      Throw(fmt::format("wrong number of args for {}: want {} got {}", fn, n, a.size()));
    }
  }

  Value CallFunction(const std::string& fn, std::vector<Value> a) {
    auto s = [&](size_t i) { return ToStr(a[i]); };
    auto one_string = [&](auto f) {
      Want(fn, a, 1);
      return Value::Str(f(s(0)));
    };
    // Go's built-ins.
    if (fn == "eq" || fn == "ne") {
      if (a.size() < 2) Throw(fmt::format("wrong number of args for {}", fn));
      bool any = false;
      for (size_t i = 1; i < a.size(); ++i) any = any || Compare(a[0], a[i], fn) == 0;
      return Value::Bool(fn == "eq" ? any : !any);
    }
    if (fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
      Want(fn, a, 2);
      int c = Compare(a[0], a[1], fn);
      return Value::Bool(fn == "lt" ? c < 0 : fn == "le" ? c <= 0 : fn == "gt" ? c > 0 : c >= 0);
    }
    if (fn == "and" || fn == "or") Throw(fmt::format("wrong number of args for {}", fn));
    if (fn == "not") {
      Want(fn, a, 1);
      return Value::Bool(!Truthy(a[0]));
    }
    if (fn == "len") {
      Want(fn, a, 1);
      return Value::Int(static_cast<int64_t>(s(0).size()));
    }
    if (fn == "print" || fn == "println") {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) {
        bool space = fn == "println" ? i > 0
                                     : i > 0 && a[i].kind != Value::Kind::kString &&
                                           a[i - 1].kind != Value::Kind::kString;
        if (space) out += ' ';
        out += Print(a[i]);
        if (out.size() > kMaxValueBytes)
          Throw(fmt::format("error calling {}: result too large", fn));
      }
      if (fn == "println") out += '\n';
      return Value::Str(out);
    }
    if (fn == "printf") return Value::Str(Printf(a));
    // Loki's.
    if (fn == "__line__") return Value::Str(std::string(in_.line));
    if (fn == "__timestamp__") return Value::Time(in_.ts_ns);
    if (fn == "ToLower" || fn == "lower") {
      return one_string([](std::string v) {
        for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return v;
      });
    }
    if (fn == "ToUpper" || fn == "upper") {
      return one_string([](std::string v) {
        for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return v;
      });
    }
    if (fn == "title") {
      return one_string([](std::string v) {
        bool start = true;
        for (char& c : v) {
          if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          start = IsTemplateSpace(c);
        }
        return v;
      });
    }
    if (fn == "TrimSpace" || fn == "trim") {
      return one_string(
          [](const std::string& v) { return TrimCutset(v, " \t\n\r\v\f", true, true); });
    }
    if (fn == "Trim" || fn == "TrimLeft" || fn == "TrimRight") {
      Want(fn, a, 2);
      return Value::Str(TrimCutset(s(0), s(1), fn != "TrimRight", fn != "TrimLeft"));
    }
    if (fn == "trimAll") {
      Want(fn, a, 2);
      return Value::Str(TrimCutset(s(1), s(0), true, true));
    }
    if (fn == "TrimPrefix" || fn == "trimPrefix" || fn == "TrimSuffix" || fn == "trimSuffix") {
      Want(fn, a, 2);
      bool go = fn[0] == 'T';  // Loki's take (s, affix), sprig's (affix, s)
      std::string str = go ? s(0) : s(1), affix = go ? s(1) : s(0);
      bool prefix = fn.find("refix") != std::string::npos;
      if (prefix && str.starts_with(affix)) return Value::Str(str.substr(affix.size()));
      if (!prefix && str.ends_with(affix))
        return Value::Str(str.substr(0, str.size() - affix.size()));
      return Value::Str(str);
    }
    if (fn == "Replace" || fn == "replace") {
      // Loki's Replace(s, old, new, n); sprig's replace(old, new, src).
      bool go = fn == "Replace";
      Want(fn, a, go ? 4 : 3);
      std::string src = go ? s(0) : s(2), from = go ? s(1) : s(0), to = go ? s(2) : s(1);
      int64_t n = go ? ToInt(a[3]) : -1;
      std::string out;
      size_t pos = 0;
      int64_t done = 0;
      while (n < 0 || done < n) {
        size_t at = from.empty() ? (pos <= src.size() && done == 0 ? pos : std::string::npos)
                                 : src.find(from, pos);
        if (at == std::string::npos) break;
        out += src.substr(pos, at - pos) + to;
        if (out.size() > kMaxValueBytes)
          Throw(fmt::format("error calling {}: result too large", fn));
        pos = at + from.size();
        ++done;
        if (from.empty()) break;
      }
      out += src.substr(std::min(pos, src.size()));
      return Value::Str(out);
    }
    if (fn == "contains" || fn == "hasPrefix" || fn == "hasSuffix") {
      Want(fn, a, 2);
      std::string needle = s(0), hay = s(1);
      bool r = fn == "contains"    ? hay.find(needle) != std::string::npos
               : fn == "hasPrefix" ? hay.starts_with(needle)
                                   : hay.ends_with(needle);
      return Value::Bool(r);
    }
    if (fn == "trunc") {
      Want(fn, a, 2);
      auto r = Runes(s(1));
      int64_t c = ToInt(a[0]);
      auto l = static_cast<int64_t>(r.size());
      if (c < 0 && l + c > 0) return Value::Str(FromRunes(r, static_cast<size_t>(l + c), r.size()));
      if (c >= 0 && l > c) return Value::Str(FromRunes(r, 0, static_cast<size_t>(c)));
      return Value::Str(s(1));
    }
    if (fn == "substr") {
      Want(fn, a, 3);
      std::string str = s(2);
      int64_t b = ToInt(a[0]), e = ToInt(a[1]);
      auto n = static_cast<int64_t>(str.size());
      if (b < 0)
        return Value::Str(str.substr(0, static_cast<size_t>(std::clamp<int64_t>(e, 0, n))));
      if (e < 0 || e > n) return Value::Str(str.substr(static_cast<size_t>(std::min(b, n))));
      if (b > e) return Value::Str("");
      return Value::Str(str.substr(static_cast<size_t>(b), static_cast<size_t>(e - b)));
    }
    if (fn == "indent" || fn == "nindent") {
      Want(fn, a, 2);
      std::string pad = Repeat(" ", ToInt(a[0])), str = s(1), out = pad;
      for (char c : str) {
        out += c;
        if (c == '\n') out += pad;
        if (out.size() > kMaxValueBytes)
          Throw(fmt::format("error calling {}: result too large", fn));
      }
      return Value::Str(fn == "nindent" ? "\n" + out : out);
    }
    if (fn == "repeat") {
      Want(fn, a, 2);
      return Value::Str(Repeat(s(1), ToInt(a[0])));
    }
    if (fn == "alignLeft" || fn == "alignRight") {
      Want(fn, a, 2);
      auto r = Runes(s(1));
      int64_t c = ToInt(a[0]);
      auto l = static_cast<int64_t>(r.size());
      if (c < 0 || c == l) return Value::Str(s(1));
      if (c > l) {
        std::string pad = Repeat(" ", c - l);
        return Value::Str(fn == "alignLeft" ? s(1) + pad : pad + s(1));
      }
      return Value::Str(fn == "alignLeft" ? FromRunes(r, 0, static_cast<size_t>(c))
                                          : FromRunes(r, static_cast<size_t>(l - c), r.size()));
    }
    if (fn == "regexReplaceAll" || fn == "regexReplaceAllLiteral") {
      Want(fn, a, 3);
      return Value::Str(RegexReplace(s(0), s(1), s(2), fn == "regexReplaceAllLiteral"));
    }
    if (fn == "count") {
      Want(fn, a, 2);
      const RE2& r = Regex(s(0));
      std::string str = s(1);
      int64_t n = 0;
      size_t pos = 0;
      re2::StringPiece m;
      // Go counts every match; an empty match moves on by one character.
      while (pos <= str.size() && r.Match(str, pos, str.size(), RE2::UNANCHORED, &m, 1)) {
        ++n;
        size_t end = static_cast<size_t>(m.data() - str.data()) + m.size();
        pos = m.empty() ? end + 1 : end;
      }
      return Value::Int(n);
    }
    if (fn == "urlencode") {
      return one_string([](const std::string& v) { return PercentEncode(v, true); });
    }
    if (fn == "urldecode") {
      Want(fn, a, 1);
      std::string out;
      if (!PercentDecode(s(0), true, &out)) {
        Throw(fmt::format("error calling urldecode: invalid URL escape in {}", GoQuote(s(0))));
      }
      return Value::Str(out);
    }
    if (fn == "b64enc") {
      return one_string([](const std::string& v) { return Base64Encode(v); });
    }
    if (fn == "b64dec") return one_string(Base64DecodeLoki);
    if (fn == "default") {
      Want(fn, a, 2);
      return Truthy(a[1]) ? a[1] : a[0];
    }
    if (fn == "int") {
      Want(fn, a, 1);
      return Value::Int(ToInt(a[0]));
    }
    if (fn == "float64") {
      Want(fn, a, 1);
      return Value::Float(ToFloat(a[0]));
    }
    if (fn == "add" || fn == "mul" || fn == "max" || fn == "min") {
      if (a.empty()) Throw(fmt::format("wrong number of args for {}", fn));
      int64_t acc = ToInt(a[0]);
      for (size_t i = 1; i < a.size(); ++i) {
        int64_t x = ToInt(a[i]);
        // Go's int64 arithmetic wraps around.
        if (fn == "add") {
          acc = static_cast<int64_t>(static_cast<uint64_t>(acc) + static_cast<uint64_t>(x));
        } else if (fn == "mul") {
          acc = static_cast<int64_t>(static_cast<uint64_t>(acc) * static_cast<uint64_t>(x));
        } else {
          acc = fn == "max" ? std::max(acc, x) : std::min(acc, x);
        }
      }
      return Value::Int(acc);
    }
    if (fn == "sub" || fn == "div" || fn == "mod") {
      Want(fn, a, 2);
      int64_t x = ToInt(a[0]), y = ToInt(a[1]);
      if (fn == "sub") {
        return Value::Int(
            static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y)));
      }
      if (y == 0) Throw(fmt::format("error calling {}: integer divide by zero", fn));
      if (y == -1) {  // INT64_MIN / -1 wraps in Go
        return Value::Int(fn == "div" ? static_cast<int64_t>(0 - static_cast<uint64_t>(x)) : 0);
      }
      return Value::Int(fn == "div" ? x / y : x % y);
    }
    if (fn == "addf" || fn == "mulf" || fn == "maxf" || fn == "minf") {
      if (a.empty()) Throw(fmt::format("wrong number of args for {}", fn));
      double acc = ToFloat(a[0]);
      for (size_t i = 1; i < a.size(); ++i) {
        double x = ToFloat(a[i]);
        acc = fn == "addf"   ? acc + x
              : fn == "mulf" ? acc * x
              : fn == "maxf" ? std::max(acc, x)
                             : std::min(acc, x);
      }
      return Value::Float(acc);
    }
    if (fn == "subf" || fn == "divf") {
      Want(fn, a, 2);
      double x = ToFloat(a[0]), y = ToFloat(a[1]);
      return Value::Float(fn == "subf" ? x - y : x / y);
    }
    if (fn == "ceil" || fn == "floor") {
      Want(fn, a, 1);
      return Value::Float(fn == "ceil" ? std::ceil(ToFloat(a[0])) : std::floor(ToFloat(a[0])));
    }
    if (fn == "round") {
      if (a.size() < 2) Throw("wrong number of args for round");
      double p = std::pow(10.0, static_cast<double>(ToInt(a[1])));
      return Value::Float(std::round(ToFloat(a[0]) * p) / p);
    }
    if (fn == "bytes") {
      Want(fn, a, 1);
      uint64_t b = 0;
      if (!ParseHumanBytes(s(0), &b))
        Throw(fmt::format("error calling bytes: invalid size {}", GoQuote(s(0))));
      return Value::Float(static_cast<double>(b));
    }
    if (fn == "duration" || fn == "duration_seconds") {
      Want(fn, a, 1);
      int64_t ns = 0;
      if (!ParseGoDuration(s(0), &ns))
        Throw(fmt::format("error calling {}: time: invalid duration {}", fn, GoQuote(s(0))));
      return Value::Float(static_cast<double>(ns) / 1e9);
    }
    if (fn == "now") return Value::Time(NowMillis() * 1'000'000);
    if (fn == "date") {
      Want(fn, a, 2);
      return Value::Str(FormatGoTime(TimeOf(a[1]), s(0)));
    }
    if (fn == "unixEpoch" || fn == "unixEpochMillis" || fn == "unixEpochNanos") {
      Want(fn, a, 1);
      int64_t ns = TimeOf(a[0]);
      int64_t v = fn == "unixEpoch"         ? FloorDiv(ns, 1'000'000'000)
                  : fn == "unixEpochMillis" ? ns / 1'000'000
                                            : ns;
      return Value::Str(std::to_string(v));
    }
    if (fn == "unixToTime") {
      Want(fn, a, 1);
      std::string e = s(0);
      int64_t i = 0;
      auto [p, ec] = std::from_chars(e.data(), e.data() + e.size(), i);
      bool ok = ec == std::errc() && p == e.data() + e.size();
      switch (ok ? e.size() : 0) {
        case 5:
          return Value::Time(i * 86'400'000'000'000);
        case 10:
          return Value::Time(i * 1'000'000'000);
        case 13:
          return Value::Time(i * 1'000'000);
        case 16:
          return Value::Time(i * 1'000);
        case 19:
          return Value::Time(i);
        default:
          Throw(fmt::format("error calling unixToTime: unable to parse time '{}'", e));
      }
    }
    Throw(fmt::format("function \"{}\" not defined", fn));
  }

  static int64_t TimeOf(const Value& v) {
    if (v.kind == Value::Kind::kTime) return v.i;
    int64_t ns = 0;
    if (v.kind == Value::Kind::kInt && !__builtin_mul_overflow(v.i, int64_t{1'000'000'000}, &ns)) {
      return ns;
    }
    if (v.kind == Value::Kind::kInt) Throw("time out of range");
    return 0;
  }

  // Go's fmt.Sprintf for the verbs templates use: %s %v %d %f %q %x %X %t %%, with the
  // flags '-' and '0', a width and a precision.
  std::string Printf(const std::vector<Value>& a) {
    if (a.empty()) Throw("wrong number of args for printf");
    std::string f = ToStr(a[0]), out;
    size_t arg = 1;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] != '%') {
        out += f[i];
        continue;
      }
      size_t j = i + 1;
      bool left = false, zero = false;
      while (j < f.size() && (f[j] == '-' || f[j] == '0' || f[j] == '+' || f[j] == ' ')) {
        left = left || f[j] == '-';
        zero = zero || f[j] == '0';
        ++j;
      }
      size_t width = 0;
      while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j])) != 0) {
        width = std::min<size_t>(width * 10 + static_cast<size_t>(f[j] - '0'), kMaxValueBytes);
        ++j;
      }
      std::optional<int> prec;
      if (j < f.size() && f[j] == '.') {
        int p = 0;
        ++j;
        while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j])) != 0) {
          p = std::min(p * 10 + (f[j] - '0'), 100);
          ++j;
        }
        prec = p;
      }
      if (j >= f.size()) {
        out += "%!(NOVERB)";
        break;
      }
      char verb = f[j];
      i = j;
      if (verb == '%') {
        out += '%';
        continue;
      }
      if (arg >= a.size()) {
        out += fmt::format("%!{}(MISSING)", verb);
        continue;
      }
      const Value& v = a[arg++];
      std::string text;
      switch (verb) {
        case 'd':
          text = std::to_string(ToInt(v));
          break;
        case 'f':
        case 'F':
          text = fmt::format("{:.{}f}", ToFloat(v), prec.value_or(6));
          break;
        case 'e':
          text = fmt::format("{:.{}e}", ToFloat(v), prec.value_or(6));
          break;
        case 'q':
          text = GoQuote(ToStr(v));
          break;
        case 't':
          text = Truthy(v) ? "true" : "false";
          break;
        case 'x':
        case 'X':
          text = v.kind == Value::Kind::kInt ? fmt::format("{:x}", v.i) : HexEncode(ToStr(v));
          if (verb == 'X') {
            for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
          break;
        default:
          text = Print(v);
          if (prec && (verb == 's' || verb == 'v') && v.kind == Value::Kind::kString) {
            auto r = Runes(text);
            text = FromRunes(r, 0, static_cast<size_t>(*prec));
          }
          break;
      }
      size_t len = Runes(text).size();
      if (len < width) {
        std::string pad(width - len, zero && !left && verb != 's' ? '0' : ' ');
        if (left) {
          text += pad;
        } else {
          text.insert(0, pad);
        }
      }
      out += text;
      if (out.size() > kMaxValueBytes) Throw("error calling printf: result too large");
    }
    if (arg < a.size()) {
      out += "%!(EXTRA ";
      for (size_t k = arg; k < a.size(); ++k) {
        static constexpr std::string_view kTypes[] = {"<nil>",   "string", "int",
                                                      "float64", "bool",   "time.Time"};
        if (k > arg) out += ", ";
        out += fmt::format("{}={}", kTypes[static_cast<size_t>(a[k].kind)], Print(a[k]));
      }
      out += ")";
    }
    return out;
  }

  const TemplateInput& in_;
  std::string_view name_;
};

}  // namespace

Result<Template> Template::Parse(std::string_view text, std::string_view name) {
  try {
    Template t;
    t.name_ = std::string(name);
    auto root = std::make_shared<TemplateNode>(TreeBuilder(Split(text, name), name).Build());
    if (root->list.size() == 1 && root->list[0].kind == TemplateNode::Kind::kAction &&
        root->list[0].pipe.cmds.size() == 1 && root->list[0].pipe.cmds[0].args.size() == 1 &&
        root->list[0].pipe.cmds[0].args[0].kind == Arg::Kind::kField) {
      t.simple_label_ = root->list[0].pipe.cmds[0].args[0].s;
    }
    t.root_ = std::move(root);
    return t;
  } catch (const TemplateError& e) {
    return Status::InvalidArgument(e.msg);
  }
}

Result<std::string> Template::Execute(const TemplateInput& in) const {
  try {
    std::string out;
    Executor(in, name_).Run(root_->list, nullptr, out, 0);
    return out;
  } catch (const TemplateError& e) {
    return Status::InvalidArgument(
        fmt::format("template: {}: executing \"{}\": {}", name_, name_, e.msg));
  }
}

}  // namespace strata::logql
