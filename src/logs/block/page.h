#pragma once

#include <cstdint>
#include <optional>
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
// Per entry its structured metadata; empty when no entry has any.
std::string EncodeMetadata(std::span<const Entry> entries);

// Decoders of untrusted bytes; `n` is the page's entry count from the index.
Status DecodeTimestamps(std::string_view raw, uint32_t n, std::vector<int64_t>& out);
// Calls `fn` for the entries of a page whose timestamps (`ts`, decoded) fall in [mint, maxt]
// and whose line holds every needle, in order; stops at the first error `fn` returns. `body`
// and `metadata` are the decoded frames; without a body (nullopt) the entries are visited
// with empty lines (and no needles are allowed), an empty `metadata` means none. The views
// are valid during the call. A damaged frame is kCorruption (entries before the damage may
// have been visited).
Status VisitPage(std::span<const int64_t> ts, std::optional<std::string_view> body,
                 std::string_view metadata, uint32_t fields, int64_t mint, int64_t maxt,
                 std::span<const std::string> needles, const EntryVisitor& fn);

}  // namespace strata::logs::block
