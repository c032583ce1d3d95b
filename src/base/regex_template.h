#pragma once

#include <re2/re2.h>

#include <span>
#include <string>
#include <string_view>

namespace strata {

// Go's regexp.Expand, as PromQL's label_replace and Prometheus's relabelling use it: $1, ${1},
// $name and ${name} are replaced by the capture group (empty when unknown or unmatched), $$ is
// a literal $. `groups` are the match's groups, [0] the whole match.
std::string ExpandRegexTemplate(std::string_view tmpl, const RE2& re,
                                std::span<const re2::StringPiece> groups);

}  // namespace strata
