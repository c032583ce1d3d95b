#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "index/series_record.h"
#include "wal/format.h"

// The records of the log store's WAL (docs/format/wal.md). A kStreamRecord's payload is
// index/series_record.h's; a kEntriesRecord holds, per entry, uvarint stream ref, varint
// timestamp (Unix ns), the length-prefixed line, uvarint count of structured-metadata pairs
// and each name and value length-prefixed. Decoders borrow from the payload and validate
// every length.
namespace strata::logs {

inline constexpr wal::RecordType kStreamRecord = 1;   // stream refs and their label sets
inline constexpr wal::RecordType kEntriesRecord = 2;  // log entries by stream ref
inline constexpr wal::RecordType kMaxRecord = 2;

struct RefEntry {
  uint32_t ref = 0;
  int64_t ts_ns = 0;
  std::string_view line;
  uint32_t metadata_begin = 0;  // pairs [begin, begin + count) of the decoder's metadata
  uint32_t metadata_count = 0;
};

void EncodeEntry(std::string& out, uint32_t ref, int64_t ts_ns, std::string_view line,
                 std::span<const LabelView> metadata);
// Appends every entry of the payload to `out` and its structured metadata to `metadata`;
// kCorruption on malformed input.
Status DecodeEntries(std::string_view payload, std::vector<RefEntry>& out,
                     std::vector<LabelView>& metadata);

}  // namespace strata::logs
