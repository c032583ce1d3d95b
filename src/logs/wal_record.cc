#include "logs/wal_record.h"

#include <limits>

#include "base/coding.h"

namespace strata::logs {

void EncodeEntry(std::string& out, uint32_t ref, int64_t ts_ns, std::string_view line,
                 std::span<const LabelView> metadata) {
  PutUvarint(out, ref);
  PutVarint(out, ts_ns);
  PutLengthPrefixed(out, line);
  PutUvarint(out, metadata.size());
  for (const auto& m : metadata) {
    PutLengthPrefixed(out, m.name);
    PutLengthPrefixed(out, m.value);
  }
}

Status DecodeEntries(std::string_view payload, std::vector<RefEntry>& out,
                     std::vector<LabelView>& metadata) {
  ByteReader r(payload);
  auto corrupt = [] { return Status::Corruption("malformed WAL log entries record"); };
  while (!r.empty()) {
    RefEntry e;
    uint64_t ref, n;
    if (!r.ReadUvarint(&ref) || ref > std::numeric_limits<uint32_t>::max() ||
        !r.ReadVarint(&e.ts_ns) || !r.ReadLengthPrefixed(&e.line) || !r.ReadUvarint(&n) ||
        n > r.remaining()) {
      return corrupt();
    }
    e.ref = static_cast<uint32_t>(ref);
    e.metadata_begin = static_cast<uint32_t>(metadata.size());
    e.metadata_count = static_cast<uint32_t>(n);
    for (uint64_t i = 0; i < n; ++i) {
      LabelView m;
      if (!r.ReadLengthPrefixed(&m.name) || !r.ReadLengthPrefixed(&m.value)) return corrupt();
      metadata.push_back(m);
    }
    out.push_back(e);
  }
  return Status::Ok();
}

}  // namespace strata::logs
