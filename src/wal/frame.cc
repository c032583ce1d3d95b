#include "wal/frame.h"

#include "base/coding.h"
#include "base/crc32c.h"

namespace strata::wal {

void AppendFrame(std::string& out, RecordType type, std::string_view payload) {
  auto t = static_cast<char>(type);
  uint32_t crc = Crc32cExtend(Crc32c(&t, 1), payload.data(), payload.size());
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  PutFixed32(out, crc);
  out.push_back(t);
  out.append(payload);
}

}  // namespace strata::wal
