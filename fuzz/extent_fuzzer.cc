// libFuzzer target: results-cache extents as read back from a shared cache (memcached), which
// anything on the network may have written. The checksum is appended here so that most
// inputs reach the decoder; what decodes must encode back to the same extent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/coding.h"
#include "base/crc32c.h"
#include "frontend/results_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  strata::PutFixed32(bytes, strata::Crc32c(bytes));
  auto e = strata::frontend::DecodeExtent(bytes);
  if (!e.ok()) return 0;
  // What was decoded can be encoded again (the histogram chunk reader and writer agree on
  // their limits), to the same bytes.
  auto again = strata::frontend::EncodeExtent(*e);
  if (!again) std::abort();
  auto back = strata::frontend::DecodeExtent(*again);
  if (!back.ok() || back->series.size() != e->series.size() ||
      strata::frontend::EncodeExtent(*back) != again) {
    std::abort();
  }
  return 0;
}
