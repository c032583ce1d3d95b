#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

// Constants of the block format; docs/format/block.md describes the layout.
namespace strata::tsdb::block {

inline constexpr uint32_t kChunksMagic = 0x4B435453;  // "STCK"
inline constexpr uint32_t kIndexMagic = 0x58495453;   // "STIX"
inline constexpr uint8_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 5;  // magic + version

// Chunk encodings in a chunks file.
inline constexpr uint8_t kEncXor = 1;        // Gorilla XOR samples (chunkenc)
inline constexpr uint8_t kEncAggregate = 2;  // downsampled aggregates, five XOR chunks (read only)
inline constexpr uint8_t kEncPacked = 3;     // decimal values, bit-packed deltas (chunkenc)
inline constexpr uint8_t kEncAggregateTagged = 4;  // aggregates, each chunk led by its encoding
inline constexpr uint8_t kEncFloatHistogram = 5;   // native histograms of one bucket layout

inline constexpr uint32_t kSeriesPerGroup = 64;       // series entries per checksummed group
inline constexpr uint32_t kPostingsPerBlock = 32;     // postings-table entries per sampled block
inline constexpr uint32_t kMaxSamplesPerChunk = 120;  // XOR chunks and aggregates
inline constexpr uint32_t kMaxSamplesPerPackedChunk = 480;
inline constexpr uint32_t kMaxLabelsPerSeries = 1024;

inline std::string ChunksFile(uint32_t shard) { return fmt::format("shard-{:03}.chunks", shard); }
inline std::string IndexFile(uint32_t shard) { return fmt::format("shard-{:03}.index", shard); }

}  // namespace strata::tsdb::block
