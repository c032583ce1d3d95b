// libFuzzer target: the Faro payload decoder and the log lines written from it. Whatever
// decodes must make a Loki push that decodes again, with as many entries as reported, in
// both line formats; the traces it carries must transcode to a request the OTLP scanner takes.
// The same input is read as a source map (what the agent downloads for exception frames): any
// position it resolves must have a line of at least 1, a column of at least 0 and a function.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "loki_push_check.h"
#include "proto/faro.h"
#include "proto/loki.h"
#include "proto/otlp.h"
#include "proto/sourcemap.h"

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
  if (auto map = SourceMap::Parse(in, "https://shop.example/static/js/main.js.map"); map.ok()) {
    for (int64_t line = 0; line < 4; ++line) {
      for (int64_t col : {0, 1, 7, 1000}) {
        auto o = map->Resolve(line, col);
        if (o && (o->line < 1 || o->column < 0 || o->function.empty())) std::abort();
      }
    }
  }
  auto payload = DecodeFaro(in);
  if (!payload.ok()) return 0;
  CheckLines(*payload, FaroLogFormat::kLogfmt);
  CheckLines(*payload, FaroLogFormat::kJson);
  if (!payload->traces_json.empty()) {
    auto pb = OtlpJsonToProtobuf(OtlpSignal::kTraces, payload->traces_json);
    if (pb.ok() && !ScanOtlp(OtlpSignal::kTraces, *pb).ok()) std::abort();
  }
  return 0;
}
