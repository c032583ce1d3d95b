// strata: the server, the agent and tools in one binary.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/version.h"
#include "cmd/commands.h"

namespace {

// Every request decodes into buffers of a megabyte or more that are freed when it ends. With
// glibc's defaults the freed top of a heap is given back to the kernel (and buffers past a
// moving threshold are mmapped and unmapped), so the next request faults the same pages in
// again: a tenth of remote-write ingest's CPU went to those page faults and the copies of
// growing vectors. Fixed thresholds keep up to 64 MiB per heap for reuse; past 32 MiB a
// buffer is still mmapped on its own and given back whole.
void KeepFreedMemoryForReuse() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  KeepFreedMemoryForReuse();
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
