// libFuzzer target: the Faro payload decoder and the log lines written from it. Whatever
// decodes must make a Loki push that decodes again, with as many entries as reported, in
// both line formats; the traces it carries must transcode to a request the OTLP scanner takes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "loki_push_check.h"
#include "proto/faro.h"
#include "proto/loki.h"
#include "proto/otlp.h"

namespace {

void CheckLines(const strata::proto::FaroPayload& payload, strata::proto::FaroLogFormat format) {
  using namespace strata::proto;
  FaroLogs logs = FaroToLoki(payload, {.format = format,
                                       .labels = {{"app_name", ""}, {"kind", ""}},
                                       .entry_ns = 1'700'000'000'000'000'000,
                                       .resolve_frame = {}});
  const uint64_t items = payload.logs.size() + payload.exceptions.size() +
                         payload.measurements.size() + payload.events.size();
  if (logs.entries + logs.dropped != items) std::abort();
  if (logs.entries == 0) {
    if (!logs.push.empty()) std::abort();
    return;
  }
  auto push = DecodeLokiPush(logs.push);
  if (!push.ok()) std::abort();
  strata::fuzz::CheckLokiPush(*push);
  uint64_t entries = 0, bytes = 0;
  for (const auto& s : push->streams) {
    for (const auto& e : s.entries) {
      ++entries;
      bytes += e.line.size();
      if (e.line.empty()) std::abort();
    }
  }
  if (entries != logs.entries || bytes != logs.line_bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::proto;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto payload = DecodeFaro(in);
  if (!payload.ok()) return 0;
  CheckLines(*payload, FaroLogFormat::kLogfmt);
  CheckLines(*payload, FaroLogFormat::kJson);
  (void)FaroTimeString(payload->logs.empty() ? FaroTime{} : payload->logs[0].timestamp);
  if (!payload->traces_json.empty()) {
    auto pb = OtlpJsonToProtobuf(OtlpSignal::kTraces, payload->traces_json);
    if (pb.ok() && !ScanOtlp(OtlpSignal::kTraces, *pb).ok()) std::abort();
  }
  return 0;
}
