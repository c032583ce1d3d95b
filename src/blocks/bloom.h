#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

// Blocked bloom filters, as every signal's blocks hold them (log pages' text features, trace
// blocks' trace IDs): a filter is whole blocks of one cache line; a feature (a 64-bit hash)
// sets kBloomHashes bits in the one block its high bits pick, so a lookup touches one cache
// line and, read from a file, one 64-byte range.
namespace strata::blocks {

inline constexpr size_t kBloomBlockBytes = 64;  // one cache line: 512 bits
inline constexpr int kBloomHashes = 5;          // bits set per feature within its block

// Filters come in size classes: classes 0, 1, 2, 3, 4, 5, ... have 1, 1, 2, 3, 4, 6, 8, 12, ...
// blocks (2^k and 1.5 * 2^k), so a filter is at most 1.5 times the size its features need.
inline constexpr uint32_t kMaxBloomClass = 32;  // 65,536 blocks
uint32_t BloomClassBlocks(uint32_t bloom_class);
// The smallest class (at most kMaxBloomClass) with room for `features` at `bits_per_feature`.
uint32_t BloomClassFor(size_t features, uint32_t bits_per_feature);
// Sets the bits of `features` in a filter of `blocks` blocks.
void BloomAdd(std::span<uint8_t> filter, std::span<const uint64_t> features);
// The block of a feature in a filter of `blocks` blocks, and whether that block holds it.
uint32_t BloomBlockOf(uint64_t feature, uint32_t blocks);
bool BloomBlockHas(const uint8_t* block, uint64_t feature);

}  // namespace strata::blocks
