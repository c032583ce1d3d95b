#pragma once

#include <re2/re2.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/labels.h"
#include "base/status.h"

namespace strata {

// A label matcher (=, !=, =~, !~) with Prometheus semantics: regexes use RE2 syntax, are fully
// anchored and let `.` match newlines; a missing label matches as the empty string.
// Immutable and thread-safe after construction.
class Matcher {
 public:
  enum class Type { kEqual, kNotEqual, kRegex, kNotRegex };

  static Result<Matcher> Make(Type type, std::string name, std::string value);

  bool Matches(std::string_view v) const;
  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  std::string ToString() const;

 private:
  Matcher(Type type, std::string name, std::string value, std::shared_ptr<const RE2> re)
      : type_(type), name_(std::move(name)), value_(std::move(value)), re_(std::move(re)) {}

  Type type_;
  std::string name_;
  std::string value_;
  std::shared_ptr<const RE2> re_;
};

// Whether `labels` match every matcher (a missing label as the empty string).
bool MatchesAll(std::span<const Matcher> matchers, std::span<const LabelView> labels);
bool MatchesAll(std::span<const Matcher> matchers, const Labels& labels);

}  // namespace strata
