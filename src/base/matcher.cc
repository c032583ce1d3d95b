#include "base/matcher.h"

#include <fmt/format.h>

#include <algorithm>

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

bool MatchesAll(std::span<const Matcher> matchers, std::span<const LabelView> labels) {
  return std::all_of(matchers.begin(), matchers.end(),
                     [&](const Matcher& m) { return m.Matches(GetLabel(labels, m.name())); });
}

bool MatchesAll(std::span<const Matcher> matchers, const Labels& labels) {
  return std::all_of(matchers.begin(), matchers.end(),
                     [&](const Matcher& m) { return m.Matches(GetLabel(labels, m.name())); });
}

}  // namespace strata
