#include "http/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace strata::http {
namespace {

std::string Gzip(std::string_view in) {
  z_stream zs{};
  EXPECT_EQ(
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

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
  EXPECT_EQ(DecodeContent("br", "x", 100, out).code(), strata::Status::Code::kInvalidArgument);
  ASSERT_TRUE(DecodeContent("", "plain", 100, out).ok());
  EXPECT_EQ(out, "plain");
  EXPECT_EQ(DecodeContent("identity", "plain", 3, out).code(), strata::Status::Code::kTooLarge);
}

}  // namespace
}  // namespace strata::http
