#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

// The search features of log text and the blocked bloom filters that hold them per page of a
// log block (docs/format/log-block.md, "Blooms"). A token is a maximal run of bytes in
// [A-Za-z0-9_] or >= 0x80; the features of a text are its tokens (but digit-only ones
// shorter than 15 bytes), the anchors of its tokens of 15 bytes or more (minimizers of their
// 8-byte substrings), and the trigrams inside its tokens. A line containing a needle contains every
// trigram and anchor of the needle's token runs, and every token of the needle that is bounded by
// other bytes within the needle, so a page whose filter lacks one of those features cannot hold a
// matching line.
namespace strata::logs::block {

inline constexpr size_t kBloomBlockBytes = 64;  // one cache line: 512 bits
inline constexpr int kBloomHashes = 5;          // bits set per feature within its block

bool IsTokenByte(unsigned char c);

// Collects the distinct features of the lines of one page.
class FeatureSet {
 public:
  FeatureSet();
  void AddText(std::string_view text);
  // The distinct feature hashes, sorted; clears the set for the next page.
  std::vector<uint64_t> Take();
  // Distinct features so far.
  size_t size() const { return tokens_.size() + trigrams_.size(); }

 private:
  std::unordered_set<uint64_t> tokens_;  // hashes
  std::vector<uint32_t> trigrams_;       // distinct 24-bit codes
  std::vector<uint64_t> seen_;           // bitmap over trigram codes
  std::vector<uint64_t> scratch_;        // anchor hashes of a token
};

// The features a line must have to contain `needle`, each once, the rarer kinds (tokens,
// anchors) before the trigrams, so that a reader checking them a few at a time rules pages
// out with the first ones. `short_numbers`: the filters hold digit-only tokens shorter than
// 15 bytes too (blocks of format version 2).
std::vector<uint64_t> NeedleFeatures(std::string_view needle, bool short_numbers);
// Appends the features not in `out` yet, in order.
void AppendFeatures(std::vector<uint64_t>& out, std::span<const uint64_t> features);

// A page's filter has the blocks of its size class: classes 0, 1, 2, 3, 4, 5, ... have 1, 1,
// 2, 3, 4, 6, 8, 12, ... blocks (2^k and 1.5 * 2^k), so a filter is at most 1.5 times the size
// its features need, and the filters of a class lie together in the blooms file.
inline constexpr uint32_t kMaxBloomClass = 32;  // 65,536 blocks
uint32_t BloomClassBlocks(uint32_t bloom_class);
// The smallest class (at most kMaxBloomClass) with room for `features` at `bits_per_feature`.
uint32_t BloomClassFor(size_t features, uint32_t bits_per_feature);
// Sets the bits of `features` in a filter of `blocks` blocks.
void BloomAdd(std::span<uint8_t> filter, std::span<const uint64_t> features);
// The block of a feature in a filter of `blocks` blocks, and whether that block holds it.
uint32_t BloomBlockOf(uint64_t feature, uint32_t blocks);
bool BloomBlockHas(const uint8_t* block, uint64_t feature);

}  // namespace strata::logs::block
