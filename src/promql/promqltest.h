#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "base/status.h"
#include "promql/engine.h"

namespace strata::promql {

struct PromqlTestSummary {
  int passed = 0;
  int failed = 0;
  int skipped = 0;  // evals involving native histograms, which Strata does not store yet
};

struct PromqlTestOptions {
  EngineOptions engine;
  bool list_skipped = false;  // name each skipped eval on the output
};

// Runs scripts in Prometheus's promqltest format (load, clear, eval instant/range, eval_fail,
// eval_warn, eval_info, eval_ordered, expect ..., expected_fail_message/regexp) against
// Strata's engine over an in-memory head. Failing evals are described on `out`.
// Returns an error only for unreadable or malformed scripts.
Result<PromqlTestSummary> RunPromqlTest(std::string_view script, std::string_view name,
                                        std::ostream& out, const PromqlTestOptions& opts = {});

}  // namespace strata::promql
