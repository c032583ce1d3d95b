// strata tool promqltest: runs Prometheus's PromQL conformance scripts against Strata's engine.
#include "promql/promqltest.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cmd/commands.h"

namespace strata::cmd {

void RegisterPromqlTest(CLI::App& tool, int* exit_code) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto opts = std::make_shared<promql::PromqlTestOptions>();
  CLI::App* sub = tool.add_subcommand(
      "promqltest", "Run PromQL test scripts (Prometheus's promqltest format) against the engine.");
  sub->add_option("files", *files, "Test scripts")->required();
  sub->add_flag("--list-skipped", opts->list_skipped, "Name each skipped eval");
  sub->callback([files, opts, exit_code] {
    promql::PromqlTestSummary total;
    for (const auto& path : *files) {
      std::ifstream in(path);
      if (!in) {
        std::cerr << fmt::format("{}: cannot read\n", path);
        *exit_code = 2;
        return;
      }
      std::stringstream buf;
      buf << in.rdbuf();
      auto r = promql::RunPromqlTest(buf.str(), path, std::cout, *opts);
      if (!r.ok()) {
        std::cerr << r.status().message() << "\n";
        *exit_code = 2;
        return;
      }
      total.passed += r.value().passed;
      total.failed += r.value().failed;
      total.skipped += r.value().skipped;
    }
    std::cout << fmt::format("{} passed, {} failed, {} skipped\n", total.passed, total.failed,
                             total.skipped);
    *exit_code = total.failed > 0 ? 1 : 0;
  });
}

}  // namespace strata::cmd
