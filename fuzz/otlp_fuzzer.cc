// libFuzzer target: the OTLP decoders (protobuf validation, the Prometheus translation of
// metrics, Loki's translation of logs, OTLP/JSON transcoding). The first byte picks the signal.
// Whatever the JSON transcoder accepts must then validate as protobuf.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "loki_push_check.h"
#include "proto/otlp.h"
#include "proto/otlp_logs.h"
#include "proto/otlp_metrics.h"

namespace {

// Logs as Loki stores them: whatever translates is a well-formed push.
void TranslateLogs(std::string_view in) {
  auto logs = strata::proto::TranslateOtlpLogs(in, 0);
  if (logs.ok()) strata::fuzz::CheckLokiPush((*logs)->push);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using strata::proto::OtlpSignal;
  const auto signal = static_cast<OtlpSignal>(data[0] % 3);
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  (void)strata::proto::ScanOtlp(signal, in);
  if (signal == OtlpSignal::kMetrics) (void)strata::proto::TranslateOtlpMetrics(in);
  if (signal == OtlpSignal::kLogs) TranslateLogs(in);
  auto pb = strata::proto::OtlpJsonToProtobuf(signal, in);
  if (pb.ok()) {
    if (!strata::proto::ScanOtlp(signal, *pb).ok()) std::abort();
    if (signal == OtlpSignal::kMetrics && !strata::proto::TranslateOtlpMetrics(*pb).ok()) {
      std::abort();
    }
    if (signal == OtlpSignal::kLogs) TranslateLogs(*pb);
  }
  return 0;
}
