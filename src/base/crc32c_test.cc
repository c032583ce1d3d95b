#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace strata {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones), 0x62a8ab43u);
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t a = Crc32c(s.data(), split);
    EXPECT_EQ(Crc32cExtend(a, s.data() + split, s.size() - split), Crc32c(s));
  }
}

}  // namespace
}  // namespace strata
