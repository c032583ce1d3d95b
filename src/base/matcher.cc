#include "base/matcher.h"

#include <fmt/format.h>

#include "base/labels.h"

namespace strata {

Result<Matcher> Matcher::Make(Type type, std::string name, std::string value) {
  std::shared_ptr<const RE2> re;
  if (type == Type::kRegex || type == Type::kNotRegex) {
    RE2::Options opts;
    opts.set_dot_nl(true);
    opts.set_log_errors(false);
    re = std::make_shared<const RE2>("^(?:" + value + ")$", opts);
    if (!re->ok()) {
      return Status::InvalidArgument(
          fmt::format("invalid regular expression \"{}\": {}", value, re->error()));
    }
  }
  return Matcher(type, std::move(name), std::move(value), std::move(re));
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case Type::kEqual:
      return v == value_;
    case Type::kNotEqual:
      return v != value_;
    case Type::kRegex:
      return RE2::FullMatch(v, *re_);
    case Type::kNotRegex:
      return !RE2::FullMatch(v, *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string name = IsValidLegacyLabelName(name_) ? name_ : GoQuote(name_);
  return name + kOps[static_cast<int>(type_)] + GoQuote(value_);
}

namespace {

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view s) : s_(s) {}

  Result<std::vector<Matcher>> Parse() {
    std::vector<Matcher> out;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] != '{') {
      std::string name = Identifier(true);
      if (name.empty()) return Error("expected a metric name or '{'");
      ASSIGN_OR_RETURN(auto m, Matcher::Make(Matcher::Type::kEqual, "__name__", name));
      out.push_back(std::move(m));
      SkipSpace();
    }
    if (pos_ < s_.size() && s_[pos_] == '{') {
      ++pos_;
      SkipSpace();
      while (pos_ < s_.size() && s_[pos_] != '}') {
        std::string name;
        if (s_[pos_] == '"' || s_[pos_] == '\'') {
          ASSIGN_OR_RETURN(name, String());
        } else {
          name = Identifier(false);
        }
        if (name.empty()) return Error("expected a label name");
        SkipSpace();
        ASSIGN_OR_RETURN(Matcher::Type type, Op());
        SkipSpace();
        ASSIGN_OR_RETURN(std::string value, String());
        ASSIGN_OR_RETURN(auto m, Matcher::Make(type, std::move(name), std::move(value)));
        out.push_back(std::move(m));
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          SkipSpace();
        } else if (pos_ < s_.size() && s_[pos_] != '}') {
          return Error("expected ',' or '}'");
        }
      }
      if (pos_ >= s_.size()) return Error("unclosed '{'");
      ++pos_;
      SkipSpace();
    }
    if (pos_ != s_.size()) return Error("unexpected trailing characters");
    if (out.empty()) return Error("a selector needs at least one matcher");
    return out;
  }

 private:
  Status Error(std::string_view what) const {
    return Status::InvalidArgument(
        fmt::format("selector \"{}\": {} at position {}", s_, what, pos_));
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  std::string Identifier(bool metric) {
    size_t start = pos_;
    auto ok = [&](char c, bool first) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
             (!first && c >= '0' && c <= '9');
    };
    while (pos_ < s_.size() && ok(s_[pos_], pos_ == start)) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  Result<Matcher::Type> Op() {
    auto rest = s_.substr(pos_);
    if (rest.starts_with("=~")) return pos_ += 2, Matcher::Type::kRegex;
    if (rest.starts_with("!~")) return pos_ += 2, Matcher::Type::kNotRegex;
    if (rest.starts_with("!=")) return pos_ += 2, Matcher::Type::kNotEqual;
    if (rest.starts_with("=")) return pos_ += 1, Matcher::Type::kEqual;
    return Error("expected one of =, !=, =~, !~");
  }
  Result<std::string> String() {
    if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
      return Error("expected a quoted string");
    }
    char quote = s_[pos_++];
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      char c = s_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case '\\':
        case '"':
        case '\'':
          out.push_back(e);
          break;
        default:
          return Error(fmt::format("unknown escape sequence '\\{}'", e));
      }
    }
    if (pos_ >= s_.size()) return Error("unterminated string");
    ++pos_;
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<Matcher>> ParseSelector(std::string_view s) { return SelectorParser(s).Parse(); }

}  // namespace strata
