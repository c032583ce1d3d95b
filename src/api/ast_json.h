#pragma once

#include "base/json.h"
#include "promql/ast.h"

namespace strata::api {

// Writes the AST as /api/v1/parse_query returns it in Prometheus (keys sorted, as Go's
// encoding of maps does).
void WriteAstJson(JsonWriter& w, const promql::Expr& e);

}  // namespace strata::api
