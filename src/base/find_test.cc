#include "base/find.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace strata {
namespace {

TEST(FindBytes, AgreesWithStringViewFind) {
  EXPECT_EQ(FindBytes("abc", ""), 0u);
  EXPECT_EQ(FindBytes("", "a"), std::string_view::npos);
  EXPECT_EQ(FindBytes("ab", "abc"), std::string_view::npos);
  EXPECT_EQ(FindBytes("error: Timeout", "Timeout"), 7u);
  EXPECT_EQ(FindBytes(std::string_view("a\0b\0c", 5), std::string_view("\0c", 2)), 3u);
  // Random texts over a small alphabet (many partial matches) against the standard search.
  std::mt19937 rng(7);
  const std::string alphabet("eeet aQ\0x9", 10);
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 64, ' '), needle(1 + rng() % 4, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    for (char& c : needle) c = alphabet[rng() % alphabet.size()];
    ASSERT_EQ(FindBytes(text, needle), std::string_view(text).find(needle))
        << "text '" << text << "' needle '" << needle << "'";
  }
}

}  // namespace
}  // namespace strata
