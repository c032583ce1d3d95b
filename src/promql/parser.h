#pragma once

#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"
#include "base/status.h"
#include "promql/ast.h"

namespace strata::promql {

// Parses and type-checks a PromQL expression. Errors read as Prometheus's do:
// "1:14: parse error: unexpected end of input in aggregation".
Result<ExprPtr> ParseExpr(std::string_view query);

// Parses a series selector (`match[]` of the HTTP API): `up`, `{job="x"}`, `up{a=~"b"}`.
Result<std::vector<Matcher>> ParseMetricSelector(std::string_view selector);

// Parses a series description `name{label="value", ...}` (promqltest, unit tests) into a
// sorted label set, and returns the byte offset just past it.
Result<std::pair<Labels, size_t>> ParseSeriesLabels(std::string_view text);

}  // namespace strata::promql
