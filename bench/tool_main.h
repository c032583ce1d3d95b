#pragma once

#include <cstdio>
#include <exception>

namespace strata::bench {

// The main() of a benchmark tool: `run`'s exit code, or 1 with the message of an exception
// that escaped it (a bad flag value, a failed allocation), never an abort.
template <typename Run>
int ToolMain(const char* name, Run run, int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace strata::bench
