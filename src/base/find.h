#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata {

// Finds a needle in texts as std::string_view::find does, but scans for the needle's rarest
// byte in log text (memchr, vectorized) rather than its first, so that a needle starting
// with a common letter does not stop the scan at every occurrence of it: the line filters'
// search over pages and lines. The rare byte is chosen once, for every text searched.
class NeedleFinder {
 public:
  explicit NeedleFinder(std::string needle);
  // Where the needle starts in `text`; npos when absent, 0 for an empty needle.
  size_t Find(std::string_view text) const;
  const std::string& needle() const { return needle_; }

 private:
  std::string needle_;
  size_t pick_ = 0;  // the rare byte's offset in the needle
};

}  // namespace strata
