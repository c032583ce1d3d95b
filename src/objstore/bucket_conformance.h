#pragma once

// The behaviour every Bucket backend must share, checked against memory and filesystem
// buckets in objstore_test and against a real S3-compatible server in tests/s3_bucket_test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "objstore/bucket.h"
#include "testing/temp_dir.h"

namespace strata::objstore::testing {

inline std::vector<std::string> Keys(Bucket& b, const std::string& prefix, bool recursive) {
  auto listed = b.List(prefix, recursive);
  std::vector<std::string> keys;
  if (!listed.ok()) return {"error: " + listed.status().ToString()};
  for (const auto& o : listed.value()) keys.push_back(o.key);
  return keys;
}

// `file_size` is the size of the PutFile upload (large enough for multipart where the
// backend has it).
inline void CheckBucketConformance(Bucket& b, size_t file_size = 3 << 20) {
  namespace fs = std::filesystem;
  {
    ASSERT_TRUE(b.Put("t1/b1/meta.json", "hello world").ok());
    EXPECT_EQ(*b.Get("t1/b1/meta.json"), "hello world");
    EXPECT_EQ(*b.GetRange("t1/b1/meta.json", 6, 5), "world");
    EXPECT_EQ(*b.GetRange("t1/b1/meta.json", 6, 100), "world");
    EXPECT_EQ(*b.GetRange("t1/b1/meta.json", 100, 5), "");
    EXPECT_TRUE(*b.Exists("t1/b1/meta.json"));
    EXPECT_FALSE(*b.Exists("t1/b1/nope"));
    EXPECT_EQ(b.Get("t1/b1/nope").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(b.GetRange("nope", 0, 1).status().code(), Status::Code::kNotFound);
    ASSERT_TRUE(b.Put("t1/b1/meta.json", "replaced").ok());
    EXPECT_EQ(*b.Get("t1/b1/meta.json"), "replaced");
    ASSERT_TRUE(b.Delete("t1/b1/meta.json").ok());
    EXPECT_FALSE(*b.Exists("t1/b1/meta.json"));
    EXPECT_TRUE(b.Delete("t1/b1/meta.json").ok());  // idempotent
    EXPECT_TRUE(Keys(b, "t1/", true).empty());
  }
  {
    for (const char* k : {"a/1/x", "a/1/y", "a/2/x", "a/3", "b/1", "ab"}) {
      ASSERT_TRUE(b.Put(k, k).ok());
    }
    EXPECT_EQ(Keys(b, "a/", true), (std::vector<std::string>{"a/1/x", "a/1/y", "a/2/x", "a/3"}));
    EXPECT_EQ(b.List("a/", true).value()[0].size, 5u);
    EXPECT_EQ(Keys(b, "a/", false), (std::vector<std::string>{"a/1/", "a/2/", "a/3"}));
    EXPECT_EQ(Keys(b, "", false), (std::vector<std::string>{"a/", "ab", "b/"}));
    EXPECT_EQ(Keys(b, "a/1/", false), (std::vector<std::string>{"a/1/x", "a/1/y"}));
    EXPECT_EQ(Keys(b, "a/1", false), (std::vector<std::string>{"a/1/"}));
  }
  {
    strata::testing::TempDir tmp("putfile");
    std::string path = tmp.path() + "/big";
    std::string data(file_size, 'x');
    for (size_t i = 0; i < data.size(); i += 4099) data[i] = static_cast<char>(i);
    std::ofstream(path, std::ios::binary) << data;
    ASSERT_TRUE(b.PutFile("t/big", path).ok());
    EXPECT_EQ(*b.Get("t/big"), data);
    fs::remove(path);
    EXPECT_FALSE(b.PutFile("t/other", path).ok());
    EXPECT_FALSE(*b.Exists("t/other"));
  }
  {
    for (const char* k : {"", "/abs", "a//b", "a/../b", "..", "a/./b", "a/"}) {
      EXPECT_EQ(b.Put(k, "x").code(), Status::Code::kInvalidArgument) << k;
      EXPECT_EQ(b.Get(k).status().code(), Status::Code::kInvalidArgument) << k;
    }
  }
}

}  // namespace strata::objstore::testing
