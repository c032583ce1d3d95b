#pragma once

// The templates of line_format and label_format: Go's text/template language over an entry's
// labels, with the functions Loki offers (its own, the sprig ones it takes, Go's built-ins,
// __line__ and __timestamp__). A missing label is the empty string, as Loki's
// missingkey=zero makes it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::logql {

struct TemplateNode;

// What a template reads while it runs.
struct TemplateInput {
  std::function<std::optional<std::string_view>(std::string_view)> label;
  std::string_view line;
  int64_t ts_ns = 0;
};

class Template {
 public:
  // Parses `text`; errors read as Go's ("template: line:1: unexpected \"}\" in operand").
  // `name` is Go's template name in messages ("line", "label").
  static Result<Template> Parse(std::string_view text, std::string_view name);

  // Renders the template; an error is Go's execution error text.
  Result<std::string> Execute(const TemplateInput& in) const;

  // The label a template that is exactly `{{.name}}` prints, for a fast path.
  const std::optional<std::string>& simple_label() const { return simple_label_; }

 private:
  std::shared_ptr<const TemplateNode> root_;
  std::string name_;
  std::optional<std::string> simple_label_;
};

}  // namespace strata::logql
