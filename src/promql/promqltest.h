#pragma once

#include <re2/re2.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/status.h"
#include "promql/engine.h"

namespace strata::promql {

struct PromqlTestSummary {
  int passed = 0;
  int failed = 0;
};

struct PromqlTestOptions {
  EngineOptions engine;
};

// Runs scripts in Prometheus's promqltest format (load, clear, eval instant/range, eval_fail,
// eval_warn, eval_info, eval_ordered, expect ..., expected_fail_message/regexp) against
// Strata's engine over an in-memory head. Failing evals are described on `out`.
// Returns an error only for unreadable or malformed scripts.
Result<PromqlTestSummary> RunPromqlTest(std::string_view script, std::string_view name,
                                        std::ostream& out, const PromqlTestOptions& opts = {});

// ---- The script format's parts, shared with the scripts of other query languages (LogQL's
// logqltest) that use the same commands and expected results.

// Calls `fn(line, body, lineno)` for each command: `clear` alone, others with the lines up to
// the next blank one; `#` comments and blank lines are skipped. An error is returned with
// "name:line: " before it.
Status ForEachScriptCommand(
    std::string_view script, std::string_view name,
    const std::function<Status(const std::string&, const std::vector<std::string>&, int)>& fn);

// One value of a series in promqltest's notation (1 2 _ 0+10x5 ...).
struct SeqValue {
  bool omitted = false;
  double v = 0;
  std::shared_ptr<const histogram::FloatHistogram> h;  // a native histogram {{...}} instead
};

struct Expect {
  std::string type;  // fail, warn, info, no_warn, no_info, ordered
  std::optional<std::string> msg;
  std::shared_ptr<RE2> regex;
  bool Matches(const std::string& s) const {
    if (regex) return RE2::PartialMatch(s, *regex);
    return !msg || *msg == s;
  }
};

struct ExpectedSeries {
  Labels labels;
  std::vector<SeqValue> values;
  int pos = 0;
};

// An eval command: `eval[_fail|_warn|_info|_ordered] instant at <t> <query>` or `... range
// from <t> to <t> step <d> <query>`, with its expect lines and expected results.
struct EvalCmd {
  int line = 0;
  std::string query;
  bool range = false;
  int64_t start = 0, end = 0, step = 0;  // milliseconds
  bool fail = false, warn = false, info = false, ordered = false;
  std::vector<Expect> expects;
  std::optional<double> scalar;
  std::optional<std::string> str;
  std::vector<ExpectedSeries> series;

  bool HasExpect(std::string_view t) const {
    for (const auto& e : expects) {
      if (e.type == t) return true;
    }
    return false;
  }
  bool IsFail() const { return fail || HasExpect("fail"); }
  bool IsOrdered() const { return ordered || HasExpect("ordered"); }
};

Status ParseTestEval(const std::string& line, const std::vector<std::string>& body, int lineno,
                     EvalCmd& cmd);
// Why `r` is not the result `cmd` expects; empty when it is (values compared as Prometheus's
// promqltest does, with a relative tolerance of 1e-6).
std::string CompareTestResult(const EvalCmd& cmd, const QueryResult& r);
// Why `st` is not the failure `cmd` expects (expect fail / expected_fail_message|regexp);
// empty when it is.
std::string CheckTestFailure(const EvalCmd& cmd, const Status& st);
// Why `res` is not the outcome `cmd` expects: the failure it names, else its result (no
// annotations checked); empty when it is.
std::string CheckTestOutcome(const EvalCmd& cmd, const Result<QueryResult>& res);
// Counts an eval as passed (`why` empty) or failed, describing a failure on `out` as
// "<name>:<line>: FAIL <query>".
void RecordTestEval(PromqlTestSummary& summary, std::ostream& out, std::string_view name, int line,
                    std::string_view query, const std::string& why);

}  // namespace strata::promql
