#include "logs/block/bloom.h"

#include <algorithm>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace strata::logs::block {

namespace {

constexpr uint64_t kTrigramCodes = uint64_t{1} << 24;

// Distinct domains for the two kinds of features.
uint64_t TokenHash(std::string_view t) { return XXH3_64bits_withSeed(t.data(), t.size(), 1); }
uint64_t TrigramHash(uint32_t code) { return XXH3_64bits_withSeed(&code, sizeof(code), 2); }
// Anchors of long tokens: of every window of kAnchorWindow consecutive kAnchorGram-byte
// substrings, the one with the smallest hash (the leftmost of equals) -- a minimizer. A
// needle run of kAnchorMin bytes or more holds whole windows, whose minimizers are those of
// the token around it in a matching line, so they can be looked up; a random 32-hex trace
// ID has about six, and unlike its trigrams they are rare.
constexpr size_t kAnchorGram = 8;
constexpr size_t kAnchorWindow = 8;
constexpr size_t kAnchorMin = kAnchorGram + kAnchorWindow - 1;
uint64_t AnchorHash(const char* p) { return XXH3_64bits_withSeed(p, kAnchorGram, 3); }

template <typename Fn>
void ForEachAnchor(std::string_view t, std::vector<uint64_t>& hashes, Fn fn) {
  if (t.size() < kAnchorMin) return;
  const size_t grams = t.size() - kAnchorGram + 1;
  hashes.resize(grams);
  for (size_t i = 0; i < grams; ++i) hashes[i] = AnchorHash(t.data() + i);
  size_t last = SIZE_MAX;
  for (size_t w = 0; w + kAnchorWindow <= grams; ++w) {
    size_t best = w;
    for (size_t j = w + 1; j < w + kAnchorWindow; ++j) {
      if (hashes[j] < hashes[best]) best = j;
    }
    if (best != last) fn(hashes[best]);
    last = best;
  }
}

// A digit-only token too short for anchors: counts, ports, durations, the bulk of a page's
// distinct tokens and seldom a needle's bounded token. Not a feature of its own (its
// trigrams are).
bool ShortNumber(std::string_view t) {
  return t.size() < kAnchorMin &&
         std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

uint32_t TrigramCode(const char* p) {
  return (uint32_t{static_cast<unsigned char>(p[0])} << 16) |
         (uint32_t{static_cast<unsigned char>(p[1])} << 8) | static_cast<unsigned char>(p[2]);
}

// Calls fn(token, bounded) for each token run of `text`; `bounded` says whether a non-token
// byte of `text` is on both sides.
template <typename Fn>
void ForEachToken(std::string_view text, Fn fn) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !IsTokenByte(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && IsTokenByte(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fn(text.substr(start, i - start), start > 0 && i < text.size());
  }
}

}  // namespace

bool IsTokenByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

FeatureSet::FeatureSet() : seen_(kTrigramCodes / 64) {}

void FeatureSet::AddText(std::string_view text) {
  ForEachToken(text, [&](std::string_view t, bool) {
    if (!ShortNumber(t)) tokens_.insert(TokenHash(t));
    ForEachAnchor(t, scratch_, [&](uint64_t h) { tokens_.insert(h); });
    for (size_t i = 0; i + 3 <= t.size(); ++i) {
      uint32_t code = TrigramCode(t.data() + i);
      uint64_t& word = seen_[code / 64];
      uint64_t bit = uint64_t{1} << (code % 64);
      if ((word & bit) == 0) {
        word |= bit;
        trigrams_.push_back(code);
      }
    }
  });
}

std::vector<uint64_t> FeatureSet::Take() {
  std::vector<uint64_t> out(tokens_.begin(), tokens_.end());
  tokens_.clear();
  out.reserve(out.size() + trigrams_.size());
  for (uint32_t code : trigrams_) {
    out.push_back(TrigramHash(code));
    seen_[code / 64] = 0;
  }
  trigrams_.clear();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint64_t> NeedleFeatures(std::string_view needle, bool short_numbers) {
  // Rare features first (tokens and anchors), then trigrams, each once.
  std::vector<uint64_t> strong, weak, hashes;
  ForEachToken(needle, [&](std::string_view t, bool bounded) {
    if (bounded && (short_numbers || !ShortNumber(t))) strong.push_back(TokenHash(t));
    ForEachAnchor(t, hashes, [&](uint64_t h) { strong.push_back(h); });
    for (size_t i = 0; i + 3 <= t.size(); ++i) {
      weak.push_back(TrigramHash(TrigramCode(t.data() + i)));
    }
  });
  std::vector<uint64_t> out;
  AppendFeatures(out, strong);
  AppendFeatures(out, weak);
  return out;
}

void AppendFeatures(std::vector<uint64_t>& out, std::span<const uint64_t> features) {
  for (uint64_t f : features) {
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
}

}  // namespace strata::logs::block
