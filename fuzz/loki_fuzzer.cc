// libFuzzer target: the Loki push decoders (PushRequest decoding, the JSON form, label sets).
// Whatever the JSON transcoder accepts must then decode as protobuf; every decoded entry's
// structured metadata lies within the request's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "loki_push_check.h"
#include "proto/loki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto push = strata::proto::DecodeLokiPush(in); push.ok()) strata::fuzz::CheckLokiPush(*push);
  (void)strata::proto::ParseLokiLabels(in);
  auto pb = strata::proto::LokiJsonToProtobuf(in);
  if (pb.ok()) {
    auto push = strata::proto::DecodeLokiPush(*pb);
    if (!push.ok()) std::abort();
    strata::fuzz::CheckLokiPush(*push);
  }
  return 0;
}
