#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "objstore/fs_bucket.h"
#include "objstore/memory_bucket.h"
#include "objstore/sigv4.h"
#include "objstore/xml.h"

namespace strata::objstore {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Keys(Bucket& b, const std::string& prefix, bool recursive) {
  auto listed = b.List(prefix, recursive);
  std::vector<std::string> keys;
  if (!listed.ok()) return {"error: " + listed.status().ToString()};
  for (const auto& o : listed.value()) keys.push_back(o.key);
  return keys;
}

class BucketTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      bucket_ = std::make_unique<MemoryBucket>();
    } else {
      dir_ = fs::temp_directory_path() / ("strata-bucket-" + std::to_string(::getpid()));
      fs::remove_all(dir_);
      bucket_ = std::move(FsBucket::Open(dir_.string()).value());
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::unique_ptr<Bucket> bucket_;
  fs::path dir_;
};

TEST_P(BucketTest, PutGetRangeExistsDelete) {
  ASSERT_TRUE(bucket_->Put("t1/b1/meta.json", "hello world").ok());
  EXPECT_EQ(*bucket_->Get("t1/b1/meta.json"), "hello world");
  EXPECT_EQ(*bucket_->GetRange("t1/b1/meta.json", 6, 5), "world");
  EXPECT_EQ(*bucket_->GetRange("t1/b1/meta.json", 6, 100), "world");
  EXPECT_EQ(*bucket_->GetRange("t1/b1/meta.json", 100, 5), "");
  EXPECT_TRUE(*bucket_->Exists("t1/b1/meta.json"));
  EXPECT_FALSE(*bucket_->Exists("t1/b1/nope"));
  EXPECT_EQ(bucket_->Get("t1/b1/nope").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(bucket_->GetRange("nope", 0, 1).status().code(), Status::Code::kNotFound);
  ASSERT_TRUE(bucket_->Put("t1/b1/meta.json", "replaced").ok());
  EXPECT_EQ(*bucket_->Get("t1/b1/meta.json"), "replaced");
  ASSERT_TRUE(bucket_->Delete("t1/b1/meta.json").ok());
  EXPECT_FALSE(*bucket_->Exists("t1/b1/meta.json"));
  EXPECT_TRUE(bucket_->Delete("t1/b1/meta.json").ok());  // idempotent
  EXPECT_TRUE(Keys(*bucket_, "t1/", true).empty());
}

TEST_P(BucketTest, ListRecursiveAndDelimited) {
  for (const char* k : {"a/1/x", "a/1/y", "a/2/x", "a/3", "b/1", "ab"}) {
    ASSERT_TRUE(bucket_->Put(k, k).ok());
  }
  EXPECT_EQ(Keys(*bucket_, "a/", true),
            (std::vector<std::string>{"a/1/x", "a/1/y", "a/2/x", "a/3"}));
  EXPECT_EQ(bucket_->List("a/", true).value()[0].size, 5u);
  EXPECT_EQ(Keys(*bucket_, "a/", false), (std::vector<std::string>{"a/1/", "a/2/", "a/3"}));
  EXPECT_EQ(Keys(*bucket_, "", false), (std::vector<std::string>{"a/", "ab", "b/"}));
  EXPECT_EQ(Keys(*bucket_, "a/1/", false), (std::vector<std::string>{"a/1/x", "a/1/y"}));
  EXPECT_EQ(Keys(*bucket_, "a/1", false), (std::vector<std::string>{"a/1/"}));
}

TEST_P(BucketTest, PutFile) {
  std::string path = fs::temp_directory_path() / ("strata-putfile-" + std::to_string(::getpid()));
  std::string data(3 << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 4099) data[i] = static_cast<char>(i);
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_TRUE(bucket_->PutFile("t/big", path).ok());
  EXPECT_EQ(*bucket_->Get("t/big"), data);
  fs::remove(path);
  EXPECT_FALSE(bucket_->PutFile("t/other", path).ok());
  EXPECT_FALSE(*bucket_->Exists("t/other"));
}

TEST_P(BucketTest, RejectsBadKeys) {
  for (const char* k : {"", "/abs", "a//b", "a/../b", "..", "a/./b", "a/"}) {
    EXPECT_EQ(bucket_->Put(k, "x").code(), Status::Code::kInvalidArgument) << k;
    EXPECT_EQ(bucket_->Get(k).status().code(), Status::Code::kInvalidArgument) << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BucketTest, ::testing::Values("memory", "filesystem"));

TEST(FsBucketTest, RemovesLeftoverTemporaryFilesAndNeverListsThem) {
  fs::path dir = fs::temp_directory_path() / ("strata-fsb-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "t");
  std::ofstream(dir / "t" / "obj.tmp-123-0") << "partial";
  auto b = std::move(FsBucket::Open(dir.string()).value());
  EXPECT_FALSE(fs::exists(dir / "t" / "obj.tmp-123-0"));
  EXPECT_TRUE(Keys(*b, "", true).empty());
  fs::remove_all(dir);
}

TEST(MemoryBucketTest, Outage) {
  MemoryBucket b;
  ASSERT_TRUE(b.Put("k", "v").ok());
  b.set_unavailable(true);
  EXPECT_EQ(b.Get("k").status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(b.Put("k", "w").code(), Status::Code::kUnavailable);
  b.set_unavailable(false);
  EXPECT_EQ(*b.Get("k"), "v");
}

// The "GET Object" example of the AWS SigV4 documentation.
TEST(SigV4Test, AwsDocumentationExample) {
  SignRequest req;
  req.method = "GET";
  req.path = "/test.txt";
  req.payload_sha256_hex = Sha256Hex("");
  req.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                 {"range", "bytes=0-9"},
                 {"x-amz-content-sha256", req.payload_sha256_hex},
                 {"x-amz-date", "20130524T000000Z"}};
  Credentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(SignV4(req, creds, "us-east-1", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// The "GET Bucket (List Objects)" example: query parameters are signed sorted and encoded.
TEST(SigV4Test, AwsDocumentationListExample) {
  SignRequest req;
  req.method = "GET";
  req.path = "/";
  req.query = {{"max-keys", "2"}, {"prefix", "J"}};
  req.payload_sha256_hex = Sha256Hex("");
  req.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-content-sha256", req.payload_sha256_hex},
                 {"x-amz-date", "20130524T000000Z"}};
  Credentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(SignV4(req, creds, "us-east-1", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, UriEncode) {
  EXPECT_EQ(UriEncode("a b/c~d+e", true), "a%20b/c~d%2Be");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
}

TEST(XmlTest, ElementsAndEntities) {
  std::string xml =
      "<R><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
      "<Contents><Key>c&#x41;&#66;</Key><Size>4</Size></Contents><Empty/></R>";
  auto contents = XmlAll(xml, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(XmlUnescape(XmlFirst(contents[0], "Key")), "a&b");
  EXPECT_EQ(XmlUnescape(XmlFirst(contents[1], "Key")), "cAB");
  EXPECT_EQ(XmlFirst(xml, "IsTruncated"), "false");
  EXPECT_EQ(XmlFirst(xml, "Missing"), "");
  EXPECT_EQ(XmlAll(xml, "Empty").size(), 1u);
  EXPECT_EQ(XmlEscape("\"a<b>&"), "&quot;a&lt;b&gt;&amp;");
  EXPECT_EQ(XmlUnescape("&bogus; &#xZZ; &"), "&bogus; &#xZZ; &");
}

}  // namespace
}  // namespace strata::objstore
