// strata tool promqltest, logqltest and traceqltest: run query-language conformance scripts
// (Prometheus's promqltest format, and LogQL's and TraceQL's scripts in the same format)
// against Strata's engines.
#include "promql/promqltest.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "cmd/commands.h"
#include "logql/logqltest.h"
#include "traceql/traceqltest.h"

namespace strata::cmd {

namespace {

using ScriptRunner = std::function<Result<promql::PromqlTestSummary>(std::string_view script,
                                                                     std::string_view name)>;

// Runs each file through `run` and prints the totals; exit code 1 when an eval failed, 2 when
// a script cannot be read or parsed.
void RunScripts(const std::vector<std::string>& files, const ScriptRunner& run, int* exit_code) {
  promql::PromqlTestSummary total;
  for (const auto& path : files) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << fmt::format("{}: cannot read\n", path);
      *exit_code = 2;
      return;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    auto r = run(buf.str(), path);
    if (!r.ok()) {
      std::cerr << r.status().message() << "\n";
      *exit_code = 2;
      return;
    }
    total.passed += r.value().passed;
    total.failed += r.value().failed;
  }
  std::cout << fmt::format("{} passed, {} failed\n", total.passed, total.failed);
  *exit_code = total.failed > 0 ? 1 : 0;
}

}  // namespace

void RegisterPromqlTest(CLI::App& tool, int* exit_code) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto opts = std::make_shared<promql::PromqlTestOptions>();
  CLI::App* sub = tool.add_subcommand(
      "promqltest", "Run PromQL test scripts (Prometheus's promqltest format) against the engine.");
  sub->add_option("files", *files, "Test scripts")->required();
  sub->callback([files, opts, exit_code] {
    RunScripts(
        *files,
        [&](std::string_view script, std::string_view name) {
          return promql::RunPromqlTest(script, name, std::cout, *opts);
        },
        exit_code);
  });

  auto log_files = std::make_shared<std::vector<std::string>>();
  CLI::App* logs = tool.add_subcommand(
      "logqltest", "Run LogQL test scripts (tests/logqltest/FORMAT.md) against the engine.");
  logs->add_option("files", *log_files, "Test scripts")->required();
  logs->callback([log_files, exit_code] {
    RunScripts(
        *log_files,
        [](std::string_view script, std::string_view name) {
          return logql::RunLogqlTest(script, name, std::cout);
        },
        exit_code);
  });

  auto trace_files = std::make_shared<std::vector<std::string>>();
  CLI::App* traces = tool.add_subcommand(
      "traceqltest", "Run TraceQL test scripts (tests/traceqltest/FORMAT.md) against the engine.");
  traces->add_option("files", *trace_files, "Test scripts")->required();
  traces->callback([trace_files, exit_code] {
    RunScripts(
        *trace_files,
        [](std::string_view script, std::string_view name) {
          return traceql::RunTraceqlTest(script, name, std::cout);
        },
        exit_code);
  });
}

}  // namespace strata::cmd
