// Feeds arbitrary bytes to the LogQL parser. Beyond not crashing, the printed form of an
// accepted query, when it parses again, must print the same. (Loki's printed forms do not
// always parse: its lexer reads the literal -0 back as a duration.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "logql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto e = strata::logql::ParseExpr(q);
  if (!e.ok()) return 0;
  std::string printed = e.value()->String();
  auto again = strata::logql::ParseExpr(printed);
  if (again.ok() && again.value()->String() != printed) {
    std::fprintf(stderr, "printed: %s\nreprinted: %s\n", printed.c_str(),
                 again.value()->String().c_str());
    std::abort();
  }
  (void)e.value()->Pretty();
  return 0;
}
