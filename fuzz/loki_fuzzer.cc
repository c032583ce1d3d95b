// libFuzzer target: the Loki push decoders (PushRequest validation, the JSON form, label sets).
// Whatever the JSON transcoder accepts must then validate as protobuf.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/loki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)strata::proto::ScanLokiPush(in);
  (void)strata::proto::ParseLokiLabels(in);
  auto pb = strata::proto::LokiJsonToProtobuf(in);
  if (pb.ok() && !strata::proto::ScanLokiPush(*pb).ok()) std::abort();
  return 0;
}
