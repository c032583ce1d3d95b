#include "base/find.h"

#include <cstring>

namespace strata {

namespace {

// How common a byte is in log text, roughly: spaces, then lowercase letters (the most
// frequent English ones first), digits, punctuation, uppercase, everything else.
int Commonness(unsigned char c) {
  if (c == ' ') return 100;
  if (std::strchr("etaoinsrhl", c) != nullptr && c != 0) return 90;
  if (c >= 'a' && c <= 'z') return 70;
  if (c >= '0' && c <= '9') return 60;
  if (std::strchr(".:-/_=,[]()\"'", c) != nullptr && c != 0) return 50;
  if (c >= 'A' && c <= 'Z') return 40;
  return 10;
}

}  // namespace

size_t FindBytes(std::string_view text, std::string_view needle) {
  if (needle.empty()) return 0;
  if (needle.size() > text.size()) return std::string_view::npos;
  size_t pick = 0;
  for (size_t i = 1; i < needle.size(); ++i) {
    if (Commonness(static_cast<unsigned char>(needle[i])) <
        Commonness(static_cast<unsigned char>(needle[pick]))) {
      pick = i;
    }
  }
  const char rare = needle[pick];
  // The rare byte's candidates: positions pick .. text.size() - needle.size() + pick.
  const char* p = text.data() + pick;
  const char* last = text.data() + (text.size() - needle.size()) + pick;
  while (p <= last) {
    p = static_cast<const char*>(std::memchr(p, rare, static_cast<size_t>(last - p) + 1));
    if (p == nullptr) break;
    const char* start = p - pick;
    if (std::memcmp(start, needle.data(), needle.size()) == 0) {
      return static_cast<size_t>(start - text.data());
    }
    ++p;
  }
  return std::string_view::npos;
}

}  // namespace strata
