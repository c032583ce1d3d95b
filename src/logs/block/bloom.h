#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "blocks/bloom.h"

// The search features of log text, held per page of a log block in blocked bloom filters
// (blocks/bloom.h; docs/format/log-block.md, "Blooms"). A token is a maximal run of bytes in
// [A-Za-z0-9_] or >= 0x80; the features of a text are its tokens (but digit-only ones
// shorter than 15 bytes), the anchors of its tokens of 15 bytes or more (minimizers of their
// 8-byte substrings), and the trigrams inside its tokens. A line containing a needle contains every
// trigram and anchor of the needle's token runs, and every token of the needle that is bounded by
// other bytes within the needle, so a page whose filter lacks one of those features cannot hold a
// matching line.
namespace strata::logs::block {

// The filters are blocks/bloom.h's.
using blocks::BloomAdd;
using blocks::BloomBlockHas;
using blocks::BloomBlockOf;
using blocks::BloomClassBlocks;
using blocks::BloomClassFor;
using blocks::kBloomBlockBytes;
using blocks::kBloomHashes;
using blocks::kMaxBloomClass;

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

}  // namespace strata::logs::block
