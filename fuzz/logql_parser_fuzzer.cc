// Feeds arbitrary bytes to the LogQL parser (and to the line_format template engine). Beyond not
// crashing, printing and parsing again must settle: the printed form of an accepted query,
// when it parses, prints the same, or after one more round does, when that parses. (Loki's
// printed forms do not always parse: its lexer reads the literal -0 back as a duration, and
// 1.0EB as a number with an exponent missing its digits. Nor are they always a fixed point:
// as go-humanize, a byte size just under 1TB prints as 1000GB, which reads back as 1TB
// exactly and prints as 1.0TB; just under 1EB, 1000PB prints again as 1.0EB.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "logql/parser.h"
#include "logql/pipeline.h"
#include "logql/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  // The same bytes as a line_format template, run over a line and one label.
  if (auto t = strata::logql::Template::Parse(q, "line"); t.ok()) {
    (void)t->Execute({[](std::string_view name) -> std::optional<std::string_view> {
                        if (name == "a") return std::string_view("12.5");
                        return std::nullopt;
                      },
                      q, 1'700'000'000'000'000'000});
  }
  auto e = strata::logql::ParseExpr(q);
  if (!e.ok()) return 0;
  std::string printed = e.value()->String();
  auto again = strata::logql::ParseExpr(printed);
  if (again.ok() && again.value()->String() != printed) {
    std::string reprinted = again.value()->String();
    auto third = strata::logql::ParseExpr(reprinted);
    if (third.ok() && third.value()->String() != reprinted) {
      std::fprintf(stderr, "printed: %s\nreprinted: %s\n", printed.c_str(), reprinted.c_str());
      std::abort();
    }
  }
  (void)e.value()->Pretty();
  // Log queries' pipelines compile (regexes, patterns, templates, ip ranges).
  if (!e.value()->IsMetric()) {
    (void)strata::logql::Pipeline::Make(
        strata::logql::As<strata::logql::LogExpr>(*e.value()).selector.stages);
  }
  return 0;
}
