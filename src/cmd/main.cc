// strata: the server, the agent and tools in one binary.
#include <CLI/CLI.hpp>
#include <iostream>

#include "base/version.h"
#include "cmd/commands.h"

int main(int argc, char** argv) {
  int exit_code = 0;
  try {
    CLI::App app{"Strata: metrics, logs and traces on object storage."};
    app.require_subcommand(1);
    app.set_version_flag(
        "--version", std::string("strata ") + strata::kVersion + " (" + strata::kRevision + ")");
    strata::cmd::RegisterServe(app, &exit_code);
    strata::cmd::RegisterAgent(app, &exit_code);
    strata::cmd::RegisterCompactor(app, &exit_code);
    CLI::App* tool = app.add_subcommand("tool", "Offline and diagnostic tools.");
    tool->require_subcommand(1);
    strata::cmd::RegisterDump(*tool, &exit_code);
    strata::cmd::RegisterLoadgen(*tool, &exit_code);
    strata::cmd::RegisterPromqlTest(*tool, &exit_code);
    strata::cmd::RegisterCostReport(*tool, &exit_code);
    CLI11_PARSE(app, argc, argv);
  } catch (const std::exception& e) {
    // Errors are values inside Strata; this only catches what a library throws.
    std::cerr << "strata: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}
