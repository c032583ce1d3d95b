#pragma once

#include <string_view>

#include "base/status.h"
#include "logql/ast.h"

namespace strata::logql {

// Queries longer than this are refused, as Loki refuses them (128 KiB).
inline constexpr size_t kMaxQuerySize = 131072;

// Parses and validates a LogQL query as Loki 3.x does: the same queries are accepted, and
// refusals are InvalidArgument with Loki's text, e.g.
// "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,".
Result<ExprPtr> ParseExpr(std::string_view query);

// Parses a stream selector (`{app="x"}`) alone, as the `match[]`/`query` parameters of the
// label and series endpoints take it. `validate`: at least one matcher must not match "".
Result<std::vector<Matcher>> ParseMatchers(std::string_view selector, bool validate);

}  // namespace strata::logql
