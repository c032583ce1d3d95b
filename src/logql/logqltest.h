#pragma once

#include <ostream>
#include <string_view>

#include "base/status.h"
#include "promql/promqltest.h"

namespace strata::logql {

// Runs LogQL conformance scripts (tests/logqltest/FORMAT.md): promqltest's commands, with
// `load` taking log lines and `eval logs` checking log query results, against Strata's LogQL
// engine over an in-memory log head. Failing evals are described on `out`. Returns an error
// only for unreadable or malformed scripts.
Result<promql::PromqlTestSummary> RunLogqlTest(std::string_view script, std::string_view name,
                                               std::ostream& out);

}  // namespace strata::logql
