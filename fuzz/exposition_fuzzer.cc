// libFuzzer target: the Prometheus text exposition parser the agent's scraper runs on every
// target's answer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/exposition.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)strata::proto::ParseExposition(in, 10'000);
  return 0;
}
