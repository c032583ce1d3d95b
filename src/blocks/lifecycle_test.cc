#include "blocks/lifecycle.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "base/ulid.h"
#include "objstore/memory_bucket.h"
#include "testing/temp_dir.h"

namespace strata::blocks {
namespace {

TEST(BlocksRoot, MetricsKeepTheirLayoutOtherSignalsGetTheirOwn) {
  EXPECT_EQ(BlocksRoot("t1", Signal::kMetrics), "t1/");
  EXPECT_EQ(BlocksRoot("t1", Signal::kLogs), "t1/logs/");
  EXPECT_EQ(BlocksRoot("t1", Signal::kTraces), "t1/traces/");
}

// A block's life: invisible until meta.json, listed per signal, marked, deleted.
TEST(Lifecycle, UploadListMarkDeletePerSignal) {
  objstore::MemoryBucket bucket;
  testing::TempDir dir("blocks");
  std::ofstream(dir.path() + "/data") << "payload";
  const std::string metrics = BlocksRoot("t1", Signal::kMetrics);
  const std::string logs = BlocksRoot("t1", Signal::kLogs);
  const std::string m_id = NewUlid(1000), l_id = NewUlid(2000);
  const std::vector<std::string> files = {"data"};
  ASSERT_TRUE(UploadBlock(bucket, metrics, m_id, dir.path(), files, R"({"m":1})").ok());
  ASSERT_TRUE(UploadBlock(bucket, logs, l_id, dir.path(), files, R"({"l":1})").ok());
  // A block whose upload stopped before meta.json is listed as incomplete.
  const std::string partial = NewUlid(3000);
  ASSERT_TRUE(bucket.Put(BlockPrefix(metrics, partial) + "data", "x").ok());

  auto m = ListBlocks(bucket, metrics);  // "t1/logs/..." is not a metrics block
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].id, m_id);
  EXPECT_TRUE((*m)[0].complete);
  EXPECT_EQ((*m)[1].id, partial);
  EXPECT_FALSE((*m)[1].complete);
  auto l = ListBlocks(bucket, logs);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].id, l_id);
  EXPECT_EQ(bucket.Get(BlockPrefix(logs, l_id) + "data").value(), "payload");

  auto metas = ReadMetaFiles(bucket, metrics, {m_id, partial});
  ASSERT_TRUE(metas.ok());
  EXPECT_EQ((*metas)[0], R"({"m":1})");
  EXPECT_FALSE((*metas)[1].has_value());

  ASSERT_TRUE(MarkForDeletion(bucket, logs, l_id, 5000).ok());
  EXPECT_EQ(ReadDeletionMark(bucket, logs, l_id).value(), 5000);
  EXPECT_TRUE(ListBlocks(bucket, logs).value()[0].marked);
  ASSERT_TRUE(DeleteBlock(bucket, logs, l_id).ok());
  EXPECT_TRUE(ListBlocks(bucket, logs).value().empty());
  EXPECT_EQ(ListBlocks(bucket, metrics).value().size(), 2u);  // the other signal's untouched
}

}  // namespace
}  // namespace strata::blocks
