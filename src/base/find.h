#pragma once

#include <cstddef>
#include <string_view>

namespace strata {

// Finds `needle` in `text` as std::string_view::find does, but scans for the needle's rarest
// byte in log text (memchr, vectorized) rather than its first, so that a needle starting
// with a common letter does not stop the scan at every occurrence of it: the line filters'
// search over whole pages of text. npos when absent; 0 for an empty needle.
size_t FindBytes(std::string_view text, std::string_view needle);

}  // namespace strata
