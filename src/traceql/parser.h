#pragma once

#include <memory>
#include <string_view>

#include "base/status.h"
#include "traceql/ast.h"

namespace strata::traceql {

// Parses a TraceQL query as Tempo's parser does: the same queries are accepted, refusals are
// InvalidArgument worded as Tempo's ("parse error at line 1, col 6: syntax error: unexpected
// }"). Constant subexpressions are folded as Tempo folds them (`{ 1 + 1 = 2 }` is
// `{ true }`). Validate() the result before running it.
Result<std::unique_ptr<RootExpr>> Parse(std::string_view query);

// An attribute or intrinsic as it is written in a query (`span.http.method`, `.a`, `name`,
// `span:status`), as Tempo reads tag names: what `{ <s> }` holds when that is nothing but it.
Result<Attribute> ParseIdentifier(std::string_view s);

}  // namespace strata::traceql
