#pragma once

#include <CLI/CLI.hpp>

// Each subcommand registers its flags on the CLI11 app and returns the exit code when run.
namespace strata::cmd {

void RegisterServe(CLI::App& app, int* exit_code);
void RegisterAgent(CLI::App& app, int* exit_code);
void RegisterCompactor(CLI::App& app, int* exit_code);
void RegisterCostReport(CLI::App& tool, int* exit_code);
void RegisterDump(CLI::App& tool, int* exit_code);
void RegisterLoadgen(CLI::App& tool, int* exit_code);
// promqltest and logqltest.
void RegisterPromqlTest(CLI::App& tool, int* exit_code);

}  // namespace strata::cmd
