#pragma once

#include <ostream>
#include <string_view>

#include "base/status.h"
#include "promql/promqltest.h"

namespace strata::traceql {

// Runs TraceQL conformance scripts (tests/traceqltest/FORMAT.md): promqltest's command
// structure, with `load` taking traces span by span, `eval search` checking the spansets a
// search yields per trace, and `eval instant` / `eval range` checking metrics queries as
// promqltest checks PromQL results. The traces go through OTLP/JSON, its protobuf and
// DecodeTrace, as stored traces do. Failing evals are described on `out`. Returns an error
// only for unreadable or malformed scripts.
Result<promql::PromqlTestSummary> RunTraceqlTest(std::string_view script, std::string_view name,
                                                 std::ostream& out);

}  // namespace strata::traceql
