// libFuzzer target: the Loki push decoders (PushRequest decoding, the JSON form, label sets).
// Whatever the JSON transcoder accepts must then decode as protobuf; every decoded entry's
// structured metadata lies within the request's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/loki.h"

namespace {

void CheckDecoded(const strata::proto::LokiPush& push) {
  for (const auto& s : push.streams) {
    if (s.labels.empty()) std::abort();
    for (const auto& e : s.entries) {
      if (size_t{e.metadata_begin} + e.metadata_count > push.metadata.size()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto push = strata::proto::DecodeLokiPush(in); push.ok()) CheckDecoded(*push);
  (void)strata::proto::ParseLokiLabels(in);
  auto pb = strata::proto::LokiJsonToProtobuf(in);
  if (pb.ok()) {
    auto push = strata::proto::DecodeLokiPush(*pb);
    if (!push.ok()) std::abort();
    CheckDecoded(*push);
  }
  return 0;
}
