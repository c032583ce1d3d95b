// Feeds arbitrary bytes to the TraceQL parser and validation. Beyond not crashing: the
// printed form of an accepted query parses, and prints the same.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "traceql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto e = strata::traceql::Parse(q);
  if (!e.ok()) return 0;
  (void)strata::traceql::Validate(**e);
  std::string printed = (*e)->String();
  auto again = strata::traceql::Parse(printed);
  if (!again.ok() || (*again)->String() != printed) {
    std::fprintf(
        stderr, "query: %.*s\nprinted: %s\nagain: %s\n", static_cast<int>(size),
        reinterpret_cast<const char*>(data), printed.c_str(),
        again.ok() ? (*again)->String().c_str() : std::string(again.status().message()).c_str());
    std::abort();
  }
  return 0;
}
