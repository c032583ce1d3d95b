// Feeds arbitrary bytes to the PromQL parser. Beyond not crashing, every accepted query must
// print to a form that parses again to the same printed form.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "promql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto e = strata::promql::ParseExpr(q);
  if (!e.ok()) return 0;
  std::string printed = e.value()->String();
  auto again = strata::promql::ParseExpr(printed);
  if (!again.ok() || again.value()->String() != printed) std::abort();
  return 0;
}
