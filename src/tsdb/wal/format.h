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

enum class RecordType : uint8_t {
  kSeries = 1,    // series refs and their label sets
  kSamples = 2,   // float samples by series ref
  kMetadata = 3,  // metric family metadata
  kChunk = 4,     // a complete Gorilla chunk of one series (checkpoints only)
};
inline constexpr uint8_t kMaxRecordType = 4;

}  // namespace strata::wal
