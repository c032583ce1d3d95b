#include "base/find.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace strata {
namespace {

TEST(NeedleFinder, AgreesWithStringViewFind) {
  auto find = [](std::string_view text, std::string_view needle) {
    return NeedleFinder(std::string(needle)).Find(text);
  };
  EXPECT_EQ(find("abc", ""), 0u);
  EXPECT_EQ(find("", "a"), std::string_view::npos);
  EXPECT_EQ(find("ab", "abc"), std::string_view::npos);
  EXPECT_EQ(find("error: Timeout", "Timeout"), 7u);
  EXPECT_EQ(find(std::string_view("a\0b\0c", 5), std::string_view("\0c", 2)), 3u);
  // Random texts over a small alphabet (many partial matches) against the standard search.
  std::mt19937 rng(7);
  const std::string alphabet("eeet aQ\0x9", 10);
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 64, ' '), needle(1 + rng() % 4, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    for (char& c : needle) c = alphabet[rng() % alphabet.size()];
    ASSERT_EQ(find(text, needle), std::string_view(text).find(needle))
        << "text '" << text << "' needle '" << needle << "'";
  }
}

}  // namespace
}  // namespace strata
