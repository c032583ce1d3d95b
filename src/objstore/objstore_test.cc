#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "base/escape.h"
#include "objstore/bucket_conformance.h"
#include "objstore/fs_bucket.h"
#include "objstore/memory_bucket.h"
#include "objstore/sigv4.h"
#include "objstore/xml.h"
#include "testing/temp_dir.h"

namespace strata::objstore {
namespace {

namespace fs = std::filesystem;
// objstore::testing is the conformance suite's.
using strata::testing::TempDir;

class BucketTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      bucket_ = std::make_unique<MemoryBucket>();
    } else {
      bucket_ = std::move(FsBucket::Open(dir_.path()).value());
    }
  }
  TempDir dir_{"bucket"};  // unused by the memory bucket
  std::unique_ptr<Bucket> bucket_;
};

TEST_P(BucketTest, Conformance) { testing::CheckBucketConformance(*bucket_); }

INSTANTIATE_TEST_SUITE_P(Backends, BucketTest, ::testing::Values("memory", "filesystem"));

TEST(FsBucketTest, RemovesLeftoverTemporaryFilesAndNeverListsThem) {
  TempDir tmp("fs-bucket");
  const fs::path dir = tmp.path();
  fs::create_directories(dir / "t");
  std::ofstream(dir / "t" / "obj.tmp-123-0") << "partial";
  auto b = std::move(FsBucket::Open(dir.string()).value());
  EXPECT_FALSE(fs::exists(dir / "t" / "obj.tmp-123-0"));
  EXPECT_TRUE(testing::Keys(*b, "", true).empty());
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
