// libFuzzer target: what the agent reads back from its queue segments on disk (frame scanning
// with the queue's record kinds and record decoding).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/queue/queue.h"
#include "wal/segment.h"

namespace {

strata::Status Decode(strata::wal::RecordType type, std::string_view payload) {
  auto rec = strata::agent::DecodeRecord(static_cast<strata::agent::ItemKind>(type), payload);
  return rec.ok() ? strata::Status::Ok() : rec.status();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // As a segment: frames with CRCs (the fuzzer rarely gets a CRC right, so also...)
  (void)strata::wal::ScanFrames(in, strata::agent::kMaxItemKind, Decode);
  // ...feed the bytes straight to the record decoder.
  if (size > 0) {
    (void)Decode(static_cast<strata::wal::RecordType>(1 + data[0] % strata::agent::kMaxItemKind),
                 in.substr(1));
  }
  return 0;
}
