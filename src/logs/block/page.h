#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "logs/stream.h"

// The two frames of a page before compression (docs/format/log-block.md, "Pages"): the
// timestamps, and the body, where each line is split at its first `fields` spaces into parts
// stored column by column (the n-th parts of all lines together, which compress better than
// whole lines: they repeat), then the structured metadata.
namespace strata::logs::block {

std::string EncodeTimestamps(std::span<const Entry> entries);
std::string EncodeBody(std::span<const Entry> entries, uint32_t fields);

// Decoders of untrusted bytes; `n` is the page's entry count from the index.
Status DecodeTimestamps(std::string_view raw, uint32_t n, std::vector<int64_t>& out);
// Appends the entries whose timestamps (`ts`, decoded) fall in [mint, maxt] to `out`.
Status DecodeBody(std::string_view raw, std::span<const int64_t> ts, uint32_t fields, int64_t mint,
                  int64_t maxt, std::vector<Entry>& out);

}  // namespace strata::logs::block
