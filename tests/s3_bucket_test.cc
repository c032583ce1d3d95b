// The S3 backend against a real S3-compatible server (s3rver, started here on loopback), and
// through a proxy that fails, drops and delays requests: uploads retry, and a block is
// either wholly visible or not at all.
#include "objstore/s3_bucket.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "objstore/bucket_conformance.h"
#include "test_util.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"
#include "tsdb/block/reader.h"
#include "tsdb/block/writer.h"

namespace strata {
namespace {

// s3rver and the fault proxy live for the whole test program; they are killed at exit.
struct Peers {
  testing::TempDir dir{"s3"};
  int port = testing::FreePort();
  std::unique_ptr<testing::Process> s3rver = testing::StartS3rver(STRATA_S3RVER, dir.path(), port);
  std::unique_ptr<testing::Process> proxy;
};

Peers& GetPeers() {
  static Peers peers;
  return peers;
}

class S3BucketTest : public ::testing::Test {
 protected:
  static std::unique_ptr<objstore::S3Bucket> Open(int port, int retries = 8) {
    objstore::S3Options o;
    o.endpoint = "http://127.0.0.1:" + std::to_string(port);
    o.bucket = "strata";
    o.access_key_id = "S3RVER";
    o.secret_access_key = "S3RVER";
    o.max_retries = retries;
    o.backoff_base_ms = 10;
    o.backoff_max_ms = 200;
    o.multipart_threshold = 6u << 20;
    o.part_size = 5u << 20;
    o.request_timeout_ms = 10'000;
    auto b = objstore::S3Bucket::Open(o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    auto bucket = std::move(b).value();
    // Wait for the server to take requests.
    for (int i = 0; i < 200; ++i) {
      auto r = bucket->Exists("probe");
      if (r.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return bucket;
  }

  // Starts the fault proxy in front of s3rver; returns its port.
  static int StartProxy(double fault_rate) {
    Peers& p = GetPeers();
    int port = 0;
    p.proxy = testing::StartFaultProxy(STRATA_FAULT_PROXY, p.port, fault_rate,
                                       p.dir.path() + "/proxy.log", &port);
    return port;
  }
};

TEST_F(S3BucketTest, Conformance) {
  auto bucket = Open(GetPeers().port);
  // 12 MiB: a multipart upload of three parts.
  objstore::testing::CheckBucketConformance(*bucket, 12u << 20);
}

// s3rver checks the access key but not SigV4 signatures (those are checked against the AWS
// documentation's examples in objstore_test).
TEST_F(S3BucketTest, UnknownCredentialsAreRefusedWithoutRetries) {
  objstore::S3Options o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(GetPeers().port);
  o.bucket = "strata";
  o.access_key_id = "NOBODY";
  o.secret_access_key = "wrong";
  auto bucket = objstore::S3Bucket::Open(o).value();
  auto r = bucket->Get("anything");
  EXPECT_EQ(r.status().code(), Status::Code::kUnauthenticated) << r.status().ToString();
  EXPECT_NE(r.status().message().find("InvalidAccessKeyId"), std::string::npos)
      << r.status().message();
}

TEST_F(S3BucketTest, BlocksSurviveAFaultyNetworkAndAreNeverHalfVisible) {
  int proxy = StartProxy(0.3);
  ASSERT_GT(proxy, 0);
  auto bucket = Open(proxy, 20);
  // A block with three shards, one with a chunks file large enough for multipart upload.
  std::string dir = GetPeers().dir.path() + "/block";
  auto w = tsdb::block::BlockWriter::Create(dir, {0, 7'200'000, 3}).value();
  std::vector<Sample> samples;
  for (int64_t t = 0; t < 7'200'000; t += 15) samples.push_back({t, static_cast<double>(t % 977)});
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(w->AddSeries({{"__name__", "m"}, {"i", std::to_string(100 + i)}}, samples).ok());
  }
  auto meta = w->Finish().value();

  // The store is down: the upload fails and nothing is visible.
  ASSERT_TRUE(testing::SetProxyMode(proxy, "down"));
  auto quick = Open(proxy, 2);
  EXPECT_EQ(tsdb::block::UploadBlock(*quick, "t1", dir, meta).code(), Status::Code::kUnavailable);
  ASSERT_TRUE(testing::SetProxyMode(proxy, "up"));
  auto during = blocks::ListBlocks(*bucket, tsdb::block::MetricsRoot("t1"));
  ASSERT_TRUE(during.ok());
  for (const auto& b : during.value()) EXPECT_FALSE(b.complete);

  // Faults on 30% of requests: retries carry the upload through, and the block reads back
  // intact.
  ASSERT_TRUE(tsdb::block::UploadBlock(*bucket, "t1", dir, meta).ok());
  auto listed = blocks::ListBlocks(*bucket, tsdb::block::MetricsRoot("t1")).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].complete);
  EXPECT_EQ(tsdb::block::ReadMeta(*bucket, "t1", meta.id).value(), meta);
  for (uint32_t sh = 0; sh < 3; ++sh) {
    std::string prefix = tsdb::block::BlockPrefix("t1", meta.id);
    std::ifstream in(dir + "/" + tsdb::block::ChunksFile(sh), std::ios::binary);
    std::string local((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bucket->Get(prefix + tsdb::block::ChunksFile(sh)).value(), local);
  }
  http::Client c("127.0.0.1", std::to_string(proxy));
  auto faults = c.Do(http::Request(boost::beast::http::verb::get, "/-/faults", 11));
  ASSERT_TRUE(faults.ok());
  EXPECT_GE(std::stoi(faults->body()), 5) << "the proxy should have injected faults";
}

}  // namespace
}  // namespace strata
