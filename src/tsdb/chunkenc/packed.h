#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/sample.h"
#include "base/status.h"

namespace strata::chunkenc {

// Packed chunks store block samples losslessly and compactly. Values become integer
// mantissas at one power-of-ten exponent plus a correction in ULPs against the mantissa /
// 10^e or against the previous value plus the mantissa's step (0 for decimal values and for
// running sums of decimals); timestamps and mantissas are stored as deltas, deltas of
// deltas or offsets from a regular grid, bit-packed with a patched frame of reference (the
// chunk's common range at a fixed width, outliers such as counter resets stored whole).
// Layout in docs/format/chunks.md.
inline constexpr size_t kMaxPackedSamples = 4096;

// True if EncodePacked can hold `samples`: 1..kMaxPackedSamples finite values below 2^53 in
// magnitude (NaN, stale markers and infinities go to XOR chunks).
bool CanPack(std::span<const Sample> samples);
// Appends the packed encoding of `samples` (1..kMaxPackedSamples, strictly increasing
// timestamps, CanPack true).
void EncodePacked(std::span<const Sample> samples, std::string& out);
// Decodes a packed chunk, appending to `out`. Untrusted input: Corruption on anything
// malformed.
Status DecodePacked(std::string_view data, std::vector<Sample>& out);

}  // namespace strata::chunkenc
