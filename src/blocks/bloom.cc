#include "blocks/bloom.h"

namespace strata::blocks {

uint32_t BloomClassBlocks(uint32_t bloom_class) {
  uint32_t base = uint32_t{1} << (bloom_class / 2);
  return bloom_class % 2 == 0 ? base : base * 3 / 2;
}

uint32_t BloomClassFor(size_t features, uint32_t bits_per_feature) {
  uint64_t blocks = (uint64_t{features} * bits_per_feature + 511) / 512;
  uint32_t c = 0;
  while (c < kMaxBloomClass && BloomClassBlocks(c) < blocks) ++c;
  return c;
}

uint32_t BloomBlockOf(uint64_t feature, uint32_t blocks) {
  return static_cast<uint32_t>(((feature >> 32) * blocks) >> 32);
}

namespace {

template <typename Fn>
void ForEachBit(uint64_t feature, Fn fn) {
  uint64_t x = feature * 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < kBloomHashes; ++i) {
    fn(static_cast<uint32_t>(x >> 55));  // 9 bits
    x = (x << 9) | (x >> 55);
  }
}

}  // namespace

void BloomAdd(std::span<uint8_t> filter, std::span<const uint64_t> features) {
  const auto blocks = static_cast<uint32_t>(filter.size() / kBloomBlockBytes);
  for (uint64_t f : features) {
    uint8_t* block = filter.data() + size_t{BloomBlockOf(f, blocks)} * kBloomBlockBytes;
    ForEachBit(f, [&](uint32_t bit) { block[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8)); });
  }
}

bool BloomBlockHas(const uint8_t* block, uint64_t feature) {
  bool has = true;
  ForEachBit(feature,
             [&](uint32_t bit) { has = has && (block[bit / 8] & (1u << (bit % 8))) != 0; });
  return has;
}

}  // namespace strata::blocks
