#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cache/disk_cache.h"
#include "cache/page_cache.h"
#include "cache/range_reader.h"
#include "objstore/memory_bucket.h"
#include "testing/temp_dir.h"

namespace strata::cache {
namespace {

namespace fs = std::filesystem;

class CacheTest : public ::testing::Test {
 protected:
  testing::TempDir dir_{"cache"};
};

TEST_F(CacheTest, DiskCacheKeepsPagesAcrossRestarts) {
  {
    auto c = DiskCache::Open(dir_.path() + "/c", 1 << 20).value();
    std::vector<std::pair<std::string, std::string>> pages = {{"a#1", "alpha"}, {"b#2", "beta"}};
    c->Put(pages);
    EXPECT_EQ(c->Get("a#1").value(), "alpha");
    EXPECT_FALSE(c->Get("zzz").has_value());
  }
  auto c = DiskCache::Open(dir_.path() + "/c", 1 << 20).value();
  EXPECT_EQ(c->Get("b#2").value(), "beta");
  EXPECT_GT(c->bytes(), 0u);
}

TEST_F(CacheTest, DiskCacheStaysWithinItsBudget) {
  const uint64_t budget = 256 << 10;
  auto c = DiskCache::Open(dir_.path() + "/c", budget).value();
  std::string page(16 << 10, 'p');
  for (int i = 0; i < 100; ++i) {
    std::vector<std::pair<std::string, std::string>> one = {{"k" + std::to_string(i), page}};
    c->Put(one);
    EXPECT_LE(c->bytes(), budget);
  }
  EXPECT_FALSE(c->Get("k0").has_value());  // oldest went first
  EXPECT_TRUE(c->Get("k99").has_value());
}

TEST_F(CacheTest, UnreadableDiskCacheStartsEmpty) {
  fs::create_directories(dir_.path() + "/c");
  std::ofstream(dir_.path() + "/c/data.mdb") << std::string(8192, 'x');
  auto c = DiskCache::Open(dir_.path() + "/c", 1 << 20);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE((*c)->Get("a").has_value());
  std::vector<std::pair<std::string, std::string>> pages = {{"a", "1"}};
  (*c)->Put(pages);
  EXPECT_EQ((*c)->Get("a").value(), "1");
}

TEST_F(CacheTest, PageCacheFallsBackToDiskAndPromotes) {
  // Memory holds about one page per shard; disk holds everything.
  PageCache cache(uint64_t{16} * 1024, DiskCache::Open(dir_.path() + "/c", 1 << 20).value(),
                  nullptr);
  std::vector<std::pair<std::string, Page>> pages;
  pages.reserve(64);
  for (int i = 0; i < 64; ++i) {
    pages.emplace_back("p#" + std::to_string(i), std::make_shared<const std::string>(std::string(
                                                     900, static_cast<char>('a' + i % 26))));
  }
  cache.Put(pages);
  EXPECT_LE(cache.bytes(), 16u * 1024);
  for (int i = 0; i < 64; ++i) {
    Page p = cache.Get("p#" + std::to_string(i));
    ASSERT_TRUE(p) << i;
    EXPECT_EQ((*p)[0], static_cast<char>('a' + i % 26));
  }
  EXPECT_FALSE(cache.Get("nope"));
}

// Ranges of one object read at two page sizes through one cache come back whole and exact,
// and a cached page of the wrong size (a damaged disk cache) is fetched again.
TEST_F(CacheTest, RangesAtAnyPageSizeAreExact) {
  objstore::MemoryBucket bucket;
  std::string object;
  for (int i = 0; i < 10'000; ++i) object.push_back(static_cast<char>('a' + i * 7 % 26));
  ASSERT_TRUE(bucket.Put("o", object).ok());
  PageCache cache(1 << 20, nullptr, nullptr);
  const std::vector<objstore::ByteRange> ranges = {{0, 10}, {1000, 5000}, {9990, 10}};
  auto read = [&](uint64_t page_size) {
    RangeReadOptions o;
    o.page_size = page_size;
    o.max_gap = page_size;
    auto got = ReadRanges(bucket, cache, "o", object.size(), ranges, o);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    for (size_t i = 0; got.ok() && i < ranges.size(); ++i) {
      EXPECT_EQ((*got)[i], object.substr(ranges[i].offset, ranges[i].length)) << page_size;
    }
  };
  read(16 << 10);
  read(1 << 10);
  read(4 << 10);
  cache.Put({{"o@4096#0", std::make_shared<const std::string>("short")}});
  read(4 << 10);
}

}  // namespace
}  // namespace strata::cache
