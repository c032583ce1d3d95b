// strata: the server, the agent (later) and tools in one binary.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cmd/commands.h"
#include "server/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Strata: metrics, logs and traces on object storage."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("strata ") + strata::server::kVersion + " (" +
                                        strata::server::kRevision + ")");
  int exit_code = 0;
  strata::cmd::RegisterServe(app, &exit_code);
  CLI::App* tool = app.add_subcommand("tool", "Offline and diagnostic tools.");
  tool->require_subcommand(1);
  strata::cmd::RegisterDump(*tool, &exit_code);
  strata::cmd::RegisterLoadgen(*tool, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
