#include "logs/wal_record.h"

#include <limits>

#include "base/coding.h"

namespace strata::logs {

void EncodeEntry(std::string& out, uint32_t ref, int64_t ts_ns, std::string_view line,
                 std::span<const LabelView> metadata) {
  PutUvarint(out, ref);
  PutVarint(out, ts_ns);
  PutLengthPrefixed(out, line);
  index::PutLabelList(out, metadata);
}

Status DecodeEntries(std::string_view payload, std::vector<RefEntry>& out,
                     std::vector<LabelView>& metadata) {
  ByteReader r(payload);
  auto corrupt = [] { return Status::Corruption("malformed WAL log entries record"); };
  while (!r.empty()) {
    RefEntry e;
    uint64_t ref;
    e.metadata_begin = static_cast<uint32_t>(metadata.size());
    if (!r.ReadUvarint(&ref) || ref > std::numeric_limits<uint32_t>::max() ||
        !r.ReadVarint(&e.ts_ns) || !r.ReadLengthPrefixed(&e.line) ||
        !index::ReadLabelList(r, metadata)) {
      return corrupt();
    }
    e.ref = static_cast<uint32_t>(ref);
    e.metadata_count = static_cast<uint32_t>(metadata.size() - e.metadata_begin);
    out.push_back(e);
  }
  return Status::Ok();
}

}  // namespace strata::logs
