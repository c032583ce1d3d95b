#include "http/compression.h"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

TEST(Compression, GunzipRoundTripsAndBoundsOutput) {
  std::string text(300'000, 'x');
  for (size_t i = 0; i < text.size(); i += 7) text[i] = static_cast<char>('a' + i % 26);
  std::string out;
  ASSERT_TRUE(Gunzip(Gzip(text), 1 << 20, out).ok());
  EXPECT_EQ(out, text);
  // Two members back to back decode as their concatenation.
  ASSERT_TRUE(Gunzip(Gzip("ab") + Gzip("cd"), 100, out).ok());
  EXPECT_EQ(out, "abcd");
  // A bomb stops at the limit.
  strata::Status st = Gunzip(Gzip(std::string(10 << 20, '\0')), 1 << 20, out);
  EXPECT_EQ(st.code(), strata::Status::Code::kTooLarge);
}

TEST(Compression, MalformedGzipIsAnError) {
  std::string out;
  EXPECT_EQ(Gunzip("not gzip at all", 100, out).code(), strata::Status::Code::kInvalidArgument);
  std::string z = Gzip("hello world, hello world");
  for (size_t n = 0; n < z.size(); ++n) {
    EXPECT_FALSE(Gunzip(z.substr(0, n), 100, out).ok()) << n;
  }
  EXPECT_EQ(DecodeContent("br", "x", 100, out).code(), strata::Status::Code::kUnsupported);
  ASSERT_TRUE(DecodeContent("", "plain", 100, out).ok());
  EXPECT_EQ(out, "plain");
  EXPECT_EQ(DecodeContent("identity", "plain", 3, out).code(), strata::Status::Code::kTooLarge);
}

}  // namespace
}  // namespace strata::http
