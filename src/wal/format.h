#pragma once

#include <cstddef>
#include <cstdint>

// Constants of the WAL on-disk format; the layout is described in docs/format/wal.md.
namespace strata::wal {

// Frame header: length (u32 LE) | CRC32C (u32 LE) of type+payload | type (u8).
inline constexpr size_t kFrameHeaderSize = 9;
// Largest payload a frame may declare; anything larger is treated as corruption.
inline constexpr uint32_t kMaxRecordSize = 64u << 20;
// Segment file names are 8 decimal digits; checkpoints are directories "checkpoint.NNNNNNNN".
inline constexpr int kSegmentNameDigits = 8;
inline constexpr const char* kCheckpointPrefix = "checkpoint.";

// The type byte of a frame, 1..255. What a type means belongs to the log's owner (the metrics
// store's records in tsdb/wal_record.h, the agent queue's item kinds), not to the WAL.
using RecordType = uint8_t;

}  // namespace strata::wal
