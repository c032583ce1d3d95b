// libFuzzer target: the remote-write body decoder (snappy + protobuf), the first code that
// touches untrusted bytes on the ingest path.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/labels.h"
#include "proto/remote_write.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Raw protobuf.
  auto r = strata::proto::DecodeWriteRequest(in);
  if (r.ok()) {
    for (const auto& ts : r->series) {
      auto labels = r->LabelsOf(ts);
      (void)strata::HashLabels(labels);
      (void)r->SamplesOf(ts);
      for (const auto& e : r->ExemplarsOf(ts)) (void)r->LabelsOf(e);
    }
  }
  // The agent's scan accepts exactly what the decoder accepts and counts what it returns.
  auto counts = strata::proto::ScanWriteRequest(in);
  if (counts.ok() != r.ok() ||
      (r.ok() &&
       (counts->series != r->series.size() || counts->samples != r->samples.size() ||
        counts->exemplars != r->exemplars.size() || counts->metadata != r->metadata.size()))) {
    __builtin_trap();
  }
  // The same bytes as a snappy body.
  std::string buf;
  if (strata::proto::SnappyDecompress(in, 1 << 20, buf).ok()) {
    (void)strata::proto::DecodeWriteRequest(buf);
  }
  return 0;
}
