#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "testing/counting_bucket.h"
#include "testing/temp_dir.h"
#include "traces/block/format.h"
#include "traces/block/reader.h"
#include "traces/block/writer.h"

namespace strata::traces::block {
namespace {

std::string RandomId(std::mt19937_64& rng) {
  std::string id(16, '\0');
  for (char& c : id) c = static_cast<char>(rng());
  return id;
}

class TraceBlockTest : public ::testing::Test {
 protected:
  // `n` traces with random IDs: ID -> the bytes stored for it (any bytes do for the format).
  std::map<std::string, std::string> Traces(size_t n) {
    std::map<std::string, std::string> out;
    while (out.size() < n) {
      std::string id = RandomId(rng_);
      out[id] = std::string(50 + rng_() % 500, static_cast<char>('a' + out.size() % 26));
    }
    return out;
  }

  // Writes the traces as a block, uploads it and returns a reader of it.
  std::unique_ptr<BlockReader> Write(const std::map<std::string, std::string>& traces,
                                     WriterOptions opts = {}) {
    auto w = BlockWriter::Create(dir_.path() + "/b", std::move(opts));
    EXPECT_TRUE(w.ok());
    int64_t t = 1000;
    for (const auto& [id, data] : traces) {
      EXPECT_TRUE((*w)->Add(id, data, 3, t, t + 5).ok());
      t += 10;
    }
    auto meta = (*w)->Finish();
    EXPECT_TRUE(meta.ok()) << meta.status().ToString();
    const std::string root = blocks::BlocksRoot("t", Signal::kTraces);
    EXPECT_TRUE(blocks::UploadBlock(*bucket_, root, meta->id, dir_.path() + "/b",
                                    BlockWriter::Files(), EncodeMeta(*meta))
                    .ok());
    // The meta as a reader finds it in the bucket.
    auto json = bucket_->Get(blocks::BlockPrefix(root, meta->id) + "meta.json");
    EXPECT_TRUE(json.ok());
    auto decoded = DecodeMeta(*json);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, *meta);
    bucket_->gets = 0;
    return std::make_unique<BlockReader>(bucket_, blocks::BlockPrefix(root, meta->id), *meta,
                                         cache_, cache::RangeReadOptions{});
  }

  std::mt19937_64 rng_{42};
  testing::TempDir dir_{"trace-block"};
  std::shared_ptr<testing::CountingBucket> bucket_ = std::make_shared<testing::CountingBucket>();
  cache::PageCache cache_{64u << 20, nullptr, nullptr};
};

TEST_F(TraceBlockTest, FindsEveryTraceInOneGetOfItsPage) {
  const auto traces = Traces(3000);
  auto reader = Write(traces, {.page_bytes = 8u << 10});
  const BlockMeta& meta = reader->meta();
  EXPECT_EQ(meta.num_traces, 3000u);
  EXPECT_EQ(meta.num_spans, 9000u);
  EXPECT_EQ(meta.min_time_ns, 1000);
  EXPECT_EQ(meta.max_time_ns, 1000 + 2999 * 10 + 5);
  EXPECT_GT(meta.num_pages, 50u);

  // Cold: the index, then the trace's page.
  const auto& [first_id, first_data] = *traces.begin();
  uint64_t bytes = 0;
  auto found = reader->FindTrace(first_id, &bytes);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, first_data);
  EXPECT_EQ(bucket_->gets.load(), 2);
  EXPECT_GT(bytes, 0u);
  EXPECT_LT(bytes, meta.data_bytes / 20);
  // Warm: the page is cached.
  ASSERT_TRUE(reader->FindTrace(first_id, nullptr).ok());
  EXPECT_EQ(bucket_->gets.load(), 2);
  // Every other trace: at most its page's GET.
  for (const auto& [id, data] : traces) {
    const int before = bucket_->gets.load();
    auto got = reader->FindTrace(id, nullptr);
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, data);
    EXPECT_LE(bucket_->gets.load() - before, 1);
  }
}

TEST_F(TraceBlockTest, AbsentTracesRarelyCostAGet) {
  const auto traces = Traces(5000);
  auto reader = Write(traces, {.page_bytes = 4u << 10});
  ASSERT_TRUE(reader->Index().ok());
  bucket_->gets = 0;
  int absent = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string id = RandomId(rng_);
    if (traces.count(id)) continue;
    ++absent;
    auto got = reader->FindTrace(id, nullptr);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
  }
  // 16 filter bits per trace: about 0.1% of lookups pass the filter and read a page.
  EXPECT_LT(bucket_->gets.load(), absent / 200) << bucket_->gets.load() << " of " << absent;
}

TEST_F(TraceBlockTest, WriterRefusesWhatTheFormatCannotHold) {
  auto w = BlockWriter::Create(dir_.path() + "/w", {});
  ASSERT_TRUE(w.ok());
  const std::string a(16, '\x01'), b(16, '\x02');
  EXPECT_FALSE((*w)->Add("short", "x", 1, 0, 0).ok());
  ASSERT_TRUE((*w)->Add(b, "x", 1, 0, 0).ok());
  EXPECT_FALSE((*w)->Add(a, "x", 1, 0, 0).ok());  // out of order
  EXPECT_FALSE((*w)->Add(b, "x", 1, 0, 0).ok());  // twice
  auto empty = BlockWriter::Create(dir_.path() + "/e", {});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE((*empty)->Finish().ok());
}

TEST_F(TraceBlockTest, DamagedIndexesAndMetasAreCorruption) {
  BlockIndex index;
  index.pages.push_back({std::string(16, '\x01'), std::string(16, '\x05'), 0, 100, 400, 3});
  index.pages.push_back({std::string(16, '\x06'), std::string(16, '\x09'), 100, 50, 200, 2});
  index.bloom.assign(128, '\x7f');
  const std::string encoded = EncodeIndex(index);
  auto decoded = DecodeIndex(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, index);
  EXPECT_EQ(decoded->PageOf(std::string(16, '\x03')), 0);
  EXPECT_EQ(decoded->PageOf(std::string(16, '\x09')), 1);
  EXPECT_EQ(decoded->PageOf(std::string(15, '\x05') + '\x06'), -1);  // between the pages
  EXPECT_EQ(decoded->PageOf(std::string(16, '\x0a')), -1);
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    EXPECT_EQ(DecodeIndex(encoded.substr(0, cut)).status().code(), Status::Code::kCorruption);
  }
  for (size_t i = 0; i < encoded.size(); ++i) {
    std::string flipped = encoded;
    flipped[i] ^= 0x20;
    EXPECT_FALSE(DecodeIndex(flipped).ok()) << i;
  }
  BlockMeta meta;
  meta.id = "01JB0000000000000000000000";
  meta.sources = {meta.id};
  ASSERT_TRUE(DecodeMeta(EncodeMeta(meta)).ok());
  std::string logs = EncodeMeta(meta);
  logs.replace(logs.find("\"traces\""), 8, "\"logs\"");
  EXPECT_FALSE(DecodeMeta(logs).ok());
  EXPECT_FALSE(DecodeMeta("{").ok());
}

}  // namespace
}  // namespace strata::traces::block
