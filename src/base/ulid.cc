#include "base/ulid.h"

#include <random>

namespace strata {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int Decode(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

}  // namespace

std::string NewUlid(int64_t ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(26, '0');
  auto t = static_cast<uint64_t>(ms);
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[t & 31];
    t >>= 5;
  }
  uint64_t hi = rng();
  uint64_t lo = rng();
  for (int i = 10; i < 26; ++i) {
    uint64_t& src = i < 18 ? hi : lo;
    out[static_cast<size_t>(i)] = kAlphabet[src & 31];
    src >>= 5;
  }
  return out;
}

bool IsUlid(std::string_view s) {
  if (s.size() != 26 || Decode(s[0]) > 7) return false;
  for (char c : s) {
    if (Decode(c) < 0) return false;
  }
  return true;
}

int64_t UlidTime(std::string_view s) {
  uint64_t t = 0;
  for (size_t i = 0; i < 10; ++i) t = (t << 5) | static_cast<uint64_t>(Decode(s[i]));
  return static_cast<int64_t>(t);
}

}  // namespace strata
