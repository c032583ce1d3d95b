// libFuzzer target: the remote-write body decoders (snappy + protobuf, 1.0 and 2.0), the first
// code that touches untrusted bytes on the ingest path.
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
  // The same bytes as a 2.0 request: every view it gives lies within the input.
  auto v2 = strata::proto::DecodeWriteRequestV2(in);
  if (v2.ok()) {
    auto within = [&in](std::string_view s) {
      if (!s.empty() && (s.data() < in.data() || s.data() + s.size() > in.data() + in.size())) {
        __builtin_trap();
      }
    };
    for (const auto& ts : v2->series) {
      for (const auto& l : v2->LabelsOf(ts)) within(l.name), within(l.value);
      (void)v2->SamplesOf(ts);
      for (const auto& e : v2->ExemplarsOf(ts)) {
        for (const auto& l : v2->LabelsOf(e)) within(l.name), within(l.value);
      }
    }
    for (const auto& m : v2->metadata) within(m.family), within(m.help), within(m.unit);
  }
  // Decoding into a view that earlier inputs left full (as the push API reuses one per
  // thread) gives what a fresh decode gives.
  static strata::proto::WriteRequestView reused;
  auto same = [](const strata::proto::WriteRequestView& a,
                 const strata::proto::WriteRequestView& b) {
    return a.series.size() == b.series.size() && a.labels == b.labels &&
           a.samples.size() == b.samples.size() && a.exemplars.size() == b.exemplars.size() &&
           a.exemplar_labels == b.exemplar_labels && a.metadata.size() == b.metadata.size() &&
           a.histograms.size() == b.histograms.size();
  };
  if (strata::proto::DecodeWriteRequest(in, reused).ok() != r.ok() ||
      (r.ok() && !same(reused, *r))) {
    __builtin_trap();
  }
  if (strata::proto::DecodeWriteRequestV2(in, reused).ok() != v2.ok() ||
      (v2.ok() && !same(reused, *v2))) {
    __builtin_trap();
  }
  // The same bytes as a snappy body.
  std::string buf;
  if (strata::proto::SnappyDecompress(in, 1 << 20, buf).ok()) {
    (void)strata::proto::DecodeWriteRequest(buf);
  }
  return 0;
}
