#include "logql/ast.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "base/labels.h"
#include "base/math.h"
#include "base/units.h"
#include "logql/lexer.h"

namespace strata::logql {

namespace {

constexpr size_t kMaxCharsPerLine = 100;  // format_query splits what is longer

std::string Indent(int level) { return std::string(static_cast<size_t>(level) * 2, ' '); }

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += sep;
    out += v[i];
  }
  return out;
}

std::string_view LineMatchOp(LineMatch m) {
  switch (m) {
    case LineMatch::kContains:
      return "|=";
    case LineMatch::kNotContains:
      return "!=";
    case LineMatch::kRegex:
      return "|~";
    case LineMatch::kNotRegex:
      return "!~";
    case LineMatch::kPattern:
      return "|>";
    case LineMatch::kNotPattern:
      return "!>";
  }
  return "";
}

std::string_view CmpName(Cmp c) {
  switch (c) {
    case Cmp::kEq:
      return "==";
    case Cmp::kNeq:
      return "!=";
    case Cmp::kGt:
      return ">";
    case Cmp::kGte:
      return ">=";
    case Cmp::kLt:
      return "<";
    case Cmp::kLte:
      return "<=";
  }
  return "";
}

std::string_view ConvName(Conv c) {
  switch (c) {
    case Conv::kNone:
      return "";
    case Conv::kBytes:
      return "bytes";
    case Conv::kDuration:
      return "duration";
    case Conv::kDurationSeconds:
      return "duration_seconds";
  }
  return "";
}

// Whether Loki turns a label regex into plain string filters (a literal, alternatives of
// literals, or either between `.*`s): it then prints the matcher as written, otherwise the
// regex in backquotes.
bool SimpleRegex(std::string_view re) {
  if (re.starts_with(".*")) re.remove_prefix(2);
  if (re.ends_with(".*")) re.remove_suffix(2);
  for (char c : re) {
    if (std::string_view("\\.+*?()[]{}^$").find(c) != std::string_view::npos) return false;
  }
  return true;
}

std::string LineFilterString(const LineFilter& f) {
  std::string out(LineMatchOp(f.match));
  for (size_t i = 0; i < f.any.size(); ++i) {
    out += i == 0 ? " " : " or ";
    const auto& a = f.any[i];
    out += a.ip ? "ip(" + GoQuote(a.value) + ")" : GoQuote(a.value);
  }
  return out;
}

std::string ExtractionList(const std::vector<Extraction>& xs) {
  std::vector<std::string> parts;
  parts.reserve(xs.size());
  for (const auto& x : xs) parts.push_back(x.label + "=" + GoQuote(x.expr));
  return Join(parts, ",");
}

std::string GroupingString(const Grouping& g) {
  return fmt::format(" {} ({})", g.without ? "without" : "by", Join(g.labels, ","));
}

std::string GroupingPretty(const Grouping& g) {
  std::string out;
  if (g.without) {
    out = " without";
  } else if (!g.labels.empty()) {
    out = " by";
  }
  if (!g.labels.empty()) out += " (" + Join(g.labels, ", ") + ")";
  return out;
}

std::string UnwrapString(const Unwrap& u) {
  std::string out = " | unwrap ";
  out += u.conv == Conv::kNone ? u.label : fmt::format("{}({})", ConvName(u.conv), u.label);
  for (const auto& f : u.post_filters) out += " | " + f->String();
  return out;
}

std::string RangeString(const RangeAggregation& r) {
  std::string out = r.selector.String();
  if (r.unwrap) out += UnwrapString(*r.unwrap);
  out += "[" + FormatPromDuration(r.range_ns) + "]";
  if (r.offset_ns != 0) out += " offset " + FormatGoDuration(r.offset_ns);
  return out;
}

std::string RangePretty(const RangeAggregation& r, int level) {
  std::string out = r.selector.Pretty(level);
  if (r.unwrap) {
    const Unwrap& u = *r.unwrap;
    out += "\n" + Indent(level + 1) + "| unwrap ";
    out += u.conv == Conv::kNone ? u.label : fmt::format("{}({})", ConvName(u.conv), u.label);
    for (const auto& f : u.post_filters) out += "\n" + Indent(level + 1) + "| " + f->String();
  }
  out += " [" + FormatPromDuration(r.range_ns) + "]";
  if (r.offset_ns != 0) out += " offset " + FormatPromDuration(r.offset_ns);
  return out;
}

bool KParam(const VectorAggregation& v) {
  return v.op == VectorOp::kTopk || v.op == VectorOp::kBottomk || v.op == VectorOp::kApproxTopk;
}

std::string BinaryOpString(const BinaryExpr& b, std::string_view label_sep) {
  std::string op(BinOpName(b.op));
  if (b.return_bool) op += " bool";
  std::string group;
  if (b.card == Card::kManyToOne) group = "group_left";
  if (b.card == Card::kOneToMany) group = "group_right";
  if (!b.include.empty()) group += " (" + Join(b.include, label_sep) + ")";
  // String() prints the clause for on() too; the pretty form only with labels.
  bool clause = label_sep == "," ? (b.on || !b.matching.empty()) : !b.matching.empty();
  if (clause) {
    op = fmt::format("{} {} ({}) {}", op, b.on ? "on" : "ignoring", Join(b.matching, label_sep),
                     group);
  }
  return op;
}

}  // namespace

std::string_view RangeOpName(RangeOp op) {
  switch (op) {
    case RangeOp::kCount:
      return "count_over_time";
    case RangeOp::kRate:
      return "rate";
    case RangeOp::kRateCounter:
      return "rate_counter";
    case RangeOp::kBytes:
      return "bytes_over_time";
    case RangeOp::kBytesRate:
      return "bytes_rate";
    case RangeOp::kAvg:
      return "avg_over_time";
    case RangeOp::kSum:
      return "sum_over_time";
    case RangeOp::kMin:
      return "min_over_time";
    case RangeOp::kMax:
      return "max_over_time";
    case RangeOp::kStdvar:
      return "stdvar_over_time";
    case RangeOp::kStddev:
      return "stddev_over_time";
    case RangeOp::kQuantile:
      return "quantile_over_time";
    case RangeOp::kFirst:
      return "first_over_time";
    case RangeOp::kLast:
      return "last_over_time";
    case RangeOp::kAbsent:
      return "absent_over_time";
  }
  return "";
}

std::string_view VectorOpName(VectorOp op) {
  switch (op) {
    case VectorOp::kSum:
      return "sum";
    case VectorOp::kAvg:
      return "avg";
    case VectorOp::kCount:
      return "count";
    case VectorOp::kMax:
      return "max";
    case VectorOp::kMin:
      return "min";
    case VectorOp::kStddev:
      return "stddev";
    case VectorOp::kStdvar:
      return "stdvar";
    case VectorOp::kBottomk:
      return "bottomk";
    case VectorOp::kTopk:
      return "topk";
    case VectorOp::kSort:
      return "sort";
    case VectorOp::kSortDesc:
      return "sort_desc";
    case VectorOp::kApproxTopk:
      return "approx_topk";
  }
  return "";
}

std::string_view BinOpName(BinOp op) {
  switch (op) {
    case BinOp::kOr:
      return "or";
    case BinOp::kAnd:
      return "and";
    case BinOp::kUnless:
      return "unless";
    case BinOp::kEq:
      return "==";
    case BinOp::kNeq:
      return "!=";
    case BinOp::kLt:
      return "<";
    case BinOp::kLte:
      return "<=";
    case BinOp::kGt:
      return ">";
    case BinOp::kGte:
      return ">=";
    case BinOp::kAdd:
      return "+";
    case BinOp::kSub:
      return "-";
    case BinOp::kMul:
      return "*";
    case BinOp::kDiv:
      return "/";
    case BinOp::kMod:
      return "%";
    case BinOp::kPow:
      return "^";
  }
  return "";
}

std::string LabelFilter::String() const {
  switch (kind) {
    case Kind::kAnd:
      return "( " + lhs->String() + " , " + rhs->String() + " )";
    case Kind::kOr:
      return "( " + lhs->String() + " or " + rhs->String() + " )";
    case Kind::kString:
      if (matcher->type() == Matcher::Type::kRegex && !SimpleRegex(matcher->value())) {
        const std::string& re = matcher->value();
        // Loki quotes only a regex holding a backquote; a carriage return would be lost
        // in a raw string too.
        std::string quoted =
            re.find_first_of("`\r") != std::string::npos ? GoQuote(re) : "`" + re + "`";
        return matcher->name() + "=~" + quoted;
      }
      return matcher->ToString();
    case Kind::kNumber:
      return name + std::string(CmpName(cmp)) + FormatFloatF(number);
    case Kind::kDuration:
      return name + std::string(CmpName(cmp)) + FormatGoDuration(duration_ns);
    case Kind::kBytes:
      return name + std::string(CmpName(cmp)) + FormatHumanBytes(bytes);
    case Kind::kIp:
      return name + (cmp == Cmp::kNeq ? "!=" : "=") + "ip(" + GoQuote(ip) + ")";
  }
  return "";
}

std::string Stage::String() const {
  switch (kind) {
    case StageKind::kLineFilter: {
      std::vector<std::string> parts;
      parts.reserve(filters.size());
      for (const auto& f : filters) parts.push_back(LineFilterString(f));
      return Join(parts, " ");
    }
    case StageKind::kLogfmt: {
      std::string out = "| logfmt";
      if (extractions.empty()) {
        if (strict) out += " --strict";
        if (keep_empty) out += " --keep-empty";
        return out;
      }
      out += " ";
      if (strict) out += "--strict ";
      if (keep_empty) out += "--keep-empty ";
      return out + ExtractionList(extractions);
    }
    case StageKind::kJson:
      return extractions.empty() ? "| json" : "| json " + ExtractionList(extractions);
    case StageKind::kRegexp:
      return "| regexp " + GoQuote(param);
    case StageKind::kPattern:
      return "| pattern " + GoQuote(param);
    case StageKind::kUnpack:
      return "| unpack";
    case StageKind::kLabelFilter:
      return "| " + label_filter->String();
    case StageKind::kLineFormat:
      return "| line_format " + GoQuote(param);
    case StageKind::kLabelFormat: {
      std::vector<std::string> parts;
      parts.reserve(label_fmts.size());
      for (const auto& f : label_fmts) {
        parts.push_back(f.dst + "=" + (f.rename ? f.value : GoQuote(f.value)));
      }
      return "| label_format " + Join(parts, ",");
    }
    case StageKind::kDecolorize:
      return "| decolorize";
    case StageKind::kDrop:
    case StageKind::kKeep: {
      std::vector<std::string> parts;
      parts.reserve(named.size());
      for (const auto& n : named) parts.push_back(n.matcher ? n.matcher->ToString() : n.name);
      return std::string(kind == StageKind::kDrop ? "| drop " : "| keep ") + Join(parts, ",");
    }
  }
  return "";
}

std::string Stage::Pretty(int level) const {
  if (kind == StageKind::kDecolorize) return String();  // Loki does not indent it
  std::string s = String();
  if (kind != StageKind::kLineFilter || s.size() <= kMaxCharsPerLine) return Indent(level) + s;
  // A long run of line filters: one per line.
  std::vector<std::string> lines;
  lines.reserve(filters.size());
  for (const auto& f : filters) lines.push_back(Indent(level) + LineFilterString(f));
  return Join(lines, "\n");
}

std::string LogSelector::String() const {
  std::vector<std::string> parts;
  parts.reserve(matchers.size());
  for (const auto& m : matchers) parts.push_back(m.ToString());
  std::string out = "{" + Join(parts, ", ") + "}";
  for (const auto& st : stages) out += " " + st.String();
  return out;
}

std::string LogSelector::Pretty(int level) const {
  std::string s = String();
  if (stages.empty() || s.size() <= kMaxCharsPerLine) return Indent(level) + s;
  std::vector<std::string> parts;
  parts.reserve(matchers.size());
  for (const auto& m : matchers) parts.push_back(m.ToString());
  std::string out = Indent(level) + "{" + Join(parts, ", ") + "}\n";
  for (size_t i = 0; i < stages.size(); ++i) {
    if (i > 0) out += "\n";
    out += stages[i].Pretty(level + 1);
  }
  return out;
}

std::string Expr::String() const {
  switch (kind) {
    case ExprKind::kLog:
      return As<LogExpr>(*this).selector.String();
    case ExprKind::kRangeAgg: {
      const auto& r = As<RangeAggregation>(*this);
      std::string out = std::string(RangeOpName(r.op)) + "(";
      if (r.param) out += FormatFloatF(*r.param) + ",";
      out += RangeString(r) + ")";
      if (r.grouping) out += GroupingString(*r.grouping);
      return out;
    }
    case ExprKind::kVectorAgg: {
      const auto& v = As<VectorAggregation>(*this);
      std::string out(VectorOpName(v.op));
      if (!v.grouping.Singleton()) out += GroupingString(v.grouping);
      out += "(";
      if (KParam(v) || v.param != 0) out += std::to_string(v.param) + ",";
      return out + v.expr->String() + ")";
    }
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(*this);
      return "(" + b.lhs->String() + " " + BinaryOpString(b, ",") + " " + b.rhs->String() + ")";
    }
    case ExprKind::kLiteral:
      return FormatFloatG(As<LiteralExpr>(*this).value);
    case ExprKind::kVector:
      return fmt::format("vector({:.6f})", As<VectorExpr>(*this).value);
    case ExprKind::kLabelReplace: {
      const auto& l = As<LabelReplaceExpr>(*this);
      return "label_replace(" + l.expr->String() + "," + GoQuote(l.dst) + "," +
             GoQuote(l.replacement) + "," + GoQuote(l.src) + "," + GoQuote(l.regex) + ")";
    }
  }
  return "";
}

std::string Expr::Pretty(int level) const {
  if (kind == ExprKind::kLog) return As<LogExpr>(*this).selector.Pretty(level);
  std::string s = String();
  if (s.size() <= kMaxCharsPerLine || kind == ExprKind::kLiteral || kind == ExprKind::kVector) {
    return Indent(level) + s;
  }
  switch (kind) {
    case ExprKind::kRangeAgg: {
      const auto& r = As<RangeAggregation>(*this);
      std::string out = Indent(level) + std::string(RangeOpName(r.op)) + "(\n";
      if (r.param) out += Indent(level + 1) + FormatFloatG(*r.param) + ",\n";
      out += RangePretty(r, level + 1) + "\n" + Indent(level) + ")";
      if (r.grouping) out += GroupingPretty(*r.grouping);
      return out;
    }
    case ExprKind::kVectorAgg: {
      const auto& v = As<VectorAggregation>(*this);
      std::string out =
          Indent(level) + std::string(VectorOpName(v.op)) + GroupingPretty(v.grouping) + "(\n";
      if (v.op == VectorOp::kTopk || v.op == VectorOp::kBottomk || v.param != 0) {
        out += Indent(level + 1) + std::to_string(v.param) + ",\n";
      }
      return out + v.expr->Pretty(level + 1) + "\n" + Indent(level) + ")";
    }
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(*this);
      return b.lhs->Pretty(level + 1) + "\n" + Indent(level) + BinaryOpString(b, ", ") + "\n" +
             b.rhs->Pretty(level + 1);
    }
    case ExprKind::kLabelReplace: {
      const auto& l = As<LabelReplaceExpr>(*this);
      std::string in = Indent(level + 1);
      return Indent(level) + "label_replace(\n" + l.expr->Pretty(level + 1) + ",\n" + in +
             GoQuote(l.dst) + ",\n" + in + GoQuote(l.replacement) + ",\n" + in + GoQuote(l.src) +
             ",\n" + in + GoQuote(l.regex) + "\n" + Indent(level) + ")";
    }
    default:
      return Indent(level) + s;
  }
}

DataMargins MarginsOf(const Expr& e) {
  auto wider = [](DataMargins x, DataMargins y) {
    return DataMargins{std::max(x.before, y.before), std::max(x.after, y.after)};
  };
  switch (e.kind) {
    case ExprKind::kRangeAgg: {
      const auto& r = As<RangeAggregation>(e);
      return {SaturatingAdd(r.range_ns, std::max<int64_t>(r.offset_ns, 0)),
              r.offset_ns < 0 ? SaturatingSub(0, r.offset_ns) : 0};
    }
    case ExprKind::kVectorAgg:
      return MarginsOf(*As<VectorAggregation>(e).expr);
    case ExprKind::kLabelReplace:
      return MarginsOf(*As<LabelReplaceExpr>(e).expr);
    case ExprKind::kBinary:
      return wider(MarginsOf(*As<BinaryExpr>(e).lhs), MarginsOf(*As<BinaryExpr>(e).rhs));
    case ExprKind::kLog:
    case ExprKind::kLiteral:
    case ExprKind::kVector:
      return {};
  }
  return {};
}

}  // namespace strata::logql
