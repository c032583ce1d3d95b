#include "base/find.h"

#include <cstring>
#include <utility>

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

NeedleFinder::NeedleFinder(std::string needle) : needle_(std::move(needle)) {
  for (size_t i = 1; i < needle_.size(); ++i) {
    if (Commonness(static_cast<unsigned char>(needle_[i])) <
        Commonness(static_cast<unsigned char>(needle_[pick_]))) {
      pick_ = i;
    }
  }
}

size_t NeedleFinder::Find(std::string_view text) const {
  if (needle_.empty()) return 0;
  if (needle_.size() > text.size()) return std::string_view::npos;
  const char rare = needle_[pick_];
  // The rare byte's candidates: positions pick_ .. text.size() - needle_.size() + pick_.
  const char* p = text.data() + pick_;
  const char* last = text.data() + (text.size() - needle_.size()) + pick_;
  while (p <= last) {
    p = static_cast<const char*>(std::memchr(p, rare, static_cast<size_t>(last - p) + 1));
    if (p == nullptr) break;
    const char* start = p - pick_;
    if (std::memcmp(start, needle_.data(), needle_.size()) == 0) {
      return static_cast<size_t>(start - text.data());
    }
    ++p;
  }
  return std::string_view::npos;
}

}  // namespace strata
