// libFuzzer target: the OTLP decoders (protobuf validation, the Prometheus translation of
// metrics, Loki's translation of logs, the cutting of traces by trace and their JSON form,
// OTLP/JSON transcoding). The first byte picks the signal. Whatever the JSON transcoder
// accepts must then validate as protobuf; a valid traces request must cut, and each trace it
// holds must assemble and print as JSON that transcodes back to a valid request with the same
// spans.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string_view>
#include <vector>

#include "loki_push_check.h"
#include "proto/otlp.h"
#include "proto/otlp_logs.h"
#include "proto/otlp_metrics.h"
#include "proto/otlp_traces.h"

namespace {

// Logs as Loki stores them: whatever translates is a well-formed push.
void TranslateLogs(std::string_view in) {
  auto logs = strata::proto::TranslateOtlpLogs(in, 0);
  if (logs.ok()) strata::fuzz::CheckLokiPush((*logs)->push);
}

// Traces as the trace store keeps and answers them.
void CutTraces(std::string_view in) {
  using namespace strata::proto;
  const bool valid = ScanOtlp(OtlpSignal::kTraces, in).ok();
  auto split = SplitByTrace(in);
  if (!split.ok()) {
    if (valid) std::abort();  // what validates must cut
    return;
  }
  if (!valid) return;  // only validated requests are stored
  std::map<std::string, std::vector<std::string_view>> traces;
  for (const auto& f : split->fragments) traces[f.trace_id].push_back(f.resource_spans);
  for (const auto& [id, fragments] : traces) {
    uint64_t spans = 0;
    const std::string trace = AssembleTrace(fragments, &spans);
    auto json = TraceJson(trace, {.root_key = "resourceSpans", .hex_ids = true});
    if (!json.ok()) std::abort();
    auto again = OtlpJsonToProtobuf(OtlpSignal::kTraces, *json);
    if (!again.ok() || !ScanOtlp(OtlpSignal::kTraces, *again).ok()) std::abort();
    auto resplit = SplitByTrace(*again);
    if (!resplit.ok() || resplit->spans + resplit->invalid != spans) std::abort();
  }
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
  if (signal == OtlpSignal::kTraces) CutTraces(in);
  auto pb = strata::proto::OtlpJsonToProtobuf(signal, in);
  if (pb.ok()) {
    if (!strata::proto::ScanOtlp(signal, *pb).ok()) std::abort();
    if (signal == OtlpSignal::kMetrics && !strata::proto::TranslateOtlpMetrics(*pb).ok()) {
      std::abort();
    }
    if (signal == OtlpSignal::kLogs) TranslateLogs(*pb);
    if (signal == OtlpSignal::kTraces) CutTraces(*pb);
  }
  return 0;
}
