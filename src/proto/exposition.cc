#include "proto/exposition.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace strata::proto {

namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

MetricType ParseType(std::string_view t) {
  if (t == "counter") return MetricType::kCounter;
  if (t == "gauge") return MetricType::kGauge;
  if (t == "histogram") return MetricType::kHistogram;
  if (t == "gaugehistogram") return MetricType::kGaugeHistogram;
  if (t == "summary") return MetricType::kSummary;
  if (t == "info") return MetricType::kInfo;
  if (t == "stateset") return MetricType::kStateset;
  return MetricType::kUnknown;
}

// A float as Go's strconv.ParseFloat reads it, which is what Prometheus accepts.
bool ParseValue(std::string_view s, double* out) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view body = lower;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "inf" || body == "infinity") {
    *out = negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
    return true;
  }
  if (body == "nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (body.empty() || body[0] == '+' || body[0] == '-') return false;
  auto format = std::chars_format::general;
  if (body.size() > 2 && body[0] == '0' && body[1] == 'x') {  // Go also reads hex floats
    body.remove_prefix(2);
    format = std::chars_format::hex;
  }
  double v;
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), v, format);
  if (p != body.data() + body.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    v = std::numeric_limits<double>::infinity();  // ParseFloat's ±Inf on overflow
  } else if (ec != std::errc()) {
    return false;
  }
  *out = negative ? -v : v;
  return true;
}

class LineParser {
 public:
  explicit LineParser(std::string_view line) : s_(line) {}

  void SkipSpace() {
    while (i_ < s_.size() && IsSpace(s_[i_])) ++i_;
  }
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void Advance() { ++i_; }
  std::string_view Name() {
    size_t b = i_;
    if (i_ < s_.size() && (IsNameStart(s_[i_]) || s_[i_] == ':')) {
      ++i_;
      while (i_ < s_.size() && (IsNameChar(s_[i_]) || s_[i_] == ':')) ++i_;
    }
    return s_.substr(b, i_ - b);
  }
  std::string_view LabelName() {
    size_t b = i_;
    if (i_ < s_.size() && IsNameStart(s_[i_])) {
      ++i_;
      while (i_ < s_.size() && IsNameChar(s_[i_])) ++i_;
    }
    return s_.substr(b, i_ - b);
  }
  std::string_view Token() {
    size_t b = i_;
    while (i_ < s_.size() && !IsSpace(s_[i_])) ++i_;
    return s_.substr(b, i_ - b);
  }
  std::string_view Rest() { return s_.substr(std::min(i_, s_.size())); }
  // A double-quoted label value with \\, \" and \n escapes.
  Status QuotedValue(std::string* out) {
    if (Peek() != '"') return Status::InvalidArgument("expected '\"' to start a label value");
    ++i_;
    out->clear();
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') {
        if (!IsValidUtf8(*out)) return Status::InvalidArgument("label value is not valid UTF-8");
        return Status::Ok();
      }
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) break;
      char e = s_[i_++];
      if (e == '\\' || e == '"') {
        out->push_back(e);
      } else if (e == 'n') {
        out->push_back('\n');
      } else {
        return Status::InvalidArgument(fmt::format("invalid escape sequence '\\{}'", e));
      }
    }
    return Status::InvalidArgument("unterminated label value");
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

Status ParseSample(std::string_view line, ExposedSample* out) {
  LineParser p(line);
  std::string_view name = p.Name();
  if (name.empty()) return Status::InvalidArgument("expected a metric name");
  out->labels.clear();
  out->labels.push_back({std::string(kMetricNameLabel), std::string(name)});
  p.SkipSpace();
  if (p.Peek() == '{') {
    p.Advance();
    while (true) {
      p.SkipSpace();
      if (p.Peek() == '}') {
        p.Advance();
        break;
      }
      std::string_view label = p.LabelName();
      if (label.empty()) return Status::InvalidArgument("expected a label name");
      p.SkipSpace();
      if (p.Peek() != '=') {
        return Status::InvalidArgument(fmt::format("expected '=' after label name {}", label));
      }
      p.Advance();
      p.SkipSpace();
      std::string value;
      RETURN_IF_ERROR(p.QuotedValue(&value));
      if (label == kMetricNameLabel) {
        return Status::InvalidArgument("label __name__ is not allowed in a sample's label set");
      }
      out->labels.push_back({std::string(label), std::move(value)});
      p.SkipSpace();
      if (p.Peek() == ',') {
        p.Advance();
      } else if (p.Peek() != '}') {
        return Status::InvalidArgument("expected ',' or '}' after a label value");
      }
    }
  }
  p.SkipSpace();
  std::string_view value = p.Token();
  if (value.empty()) return Status::InvalidArgument("expected a value");
  if (!ParseValue(value, &out->value)) {
    return Status::InvalidArgument(fmt::format("invalid value \"{}\"", value));
  }
  p.SkipSpace();
  out->timestamp_ms.reset();
  if (!p.AtEnd()) {
    std::string_view ts = p.Token();
    int64_t t;
    auto [ptr, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
    if (ec != std::errc() || ptr != ts.data() + ts.size()) {
      return Status::InvalidArgument(fmt::format("invalid timestamp \"{}\"", ts));
    }
    out->timestamp_ms = t;
    p.SkipSpace();
    if (!p.AtEnd()) {
      return Status::InvalidArgument(
          fmt::format("unexpected text after the timestamp: \"{}\"", p.Rest().substr(0, 40)));
    }
  }
  std::sort(out->labels.begin(), out->labels.end());
  for (size_t i = 1; i < out->labels.size(); ++i) {
    if (out->labels[i].name == out->labels[i - 1].name) {
      return Status::InvalidArgument(fmt::format("duplicate label {}", out->labels[i].name));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Exposition> ParseExposition(std::string_view text, size_t max_samples) {
  Exposition out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t b = 0;
    while (b < line.size() && IsSpace(line[b])) ++b;
    line.remove_prefix(b);
    if (line.empty()) continue;
    auto fail = [&](const Status& st) {
      return Status::InvalidArgument(fmt::format("exposition line {}: {}: \"{}\"", line_no,
                                                 st.message(), line.substr(0, 120)));
    };
    if (line[0] == '#') {
      LineParser p(line.substr(1));
      p.SkipSpace();
      std::string_view keyword = p.Token();
      if (keyword == "EOF") break;                           // OpenMetrics' end marker
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a comment
      p.SkipSpace();
      std::string_view family = p.Name();
      if (family.empty()) continue;  // Prometheus ignores malformed comment lines too
      p.SkipSpace();
      if (keyword == "TYPE") {
        out.types[std::string(family)] = ParseType(p.Token());
      } else {
        out.help[std::string(family)] = std::string(p.Rest());
      }
      continue;
    }
    if (out.samples.size() >= max_samples) {
      return Status::TooLarge(fmt::format("exposition has more than {} samples", max_samples));
    }
    ExposedSample s;
    if (Status st = ParseSample(line, &s); !st.ok()) return fail(st);
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace strata::proto
