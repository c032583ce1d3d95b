// Blocks end to end: a head cut into blocks, shipped to a bucket and read back through the
// store gateway must answer every PromQL query exactly as the uncut head does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "base/ulid.h"
#include "objstore/memory_bucket.h"
#include "promql/engine.h"
#include "promql/parser.h"
#include "query/head_querier.h"
#include "query/merge_querier.h"
#include "store/gateway.h"
#include "testing/corpus.h"
#include "testing/counting_bucket.h"
#include "testing/temp_dir.h"
#include "tsdb/block/aggregate.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"
#include "tsdb/compact/compactor.h"
#include "tsdb/db.h"

namespace strata::store {
namespace {

using tsdb::Db;

using testing::Generate;
using testing::Generated;
using testing::kHour;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Init(7); }
  // `every_ms`: keep one sample per this much time of each generated series (0: all).
  void Init(int64_t hours, int64_t every_ms = 0) {
    hours_ = hours;
    bucket_ = std::make_shared<objstore::MemoryBucket>();
    gateway_ = std::make_unique<StoreGateway>(
        GatewayOptions{}, [this](const std::string&) { return bucket_; }, nullptr);
    db_ = Open(dir_.path() + "/db");
    ref_ = Open(dir_.path() + "/ref");
    for (auto& g : Generate(hours, 42)) {
      if (every_ms > 0) {
        auto thin = [every_ms](auto& points) {
          int64_t next = 0;
          std::erase_if(points, [&](const auto& s) {
            if (s.t < next) return true;
            next = s.t + every_ms;
            return false;
          });
        };
        thin(g.samples);
        thin(g.histograms);
      }
      Append(*db_, g);
      Append(*ref_, g);
    }
  }
  static std::unique_ptr<Db> Open(const std::string& dir) {
    auto db = Db::Open(dir, {}, "t1");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(db).value();
  }
  static void Append(Db& db, const Generated& g) {
    std::vector<LabelView> labels = ViewOf(g.labels);
    tsdb::SeriesInput in{labels, HashLabels(labels), g.samples, {}, g.histograms};
    auto out = db.Append({&in, 1}, {}, {}, [](size_t, std::optional<int64_t>, tsdb::Rejection) {});
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->accepted, g.samples.size() + g.histograms.size());
    ASSERT_TRUE(db.WaitDurable(out->lsn).ok());
  }
  tsdb::BlockShipper Shipper() {
    return [this](const std::string& dir, const tsdb::block::BlockMeta& meta) -> Status {
      RETURN_IF_ERROR(tsdb::block::UploadBlock(*bucket_, "t1", dir, meta));
      gateway_->AddBlock("t1", meta);
      return Status::Ok();
    };
  }
  std::unique_ptr<query::Querier> Merged(
      int64_t max_resolution = query::ReadHints::kAutoResolution) {
    std::vector<std::unique_ptr<query::Querier>> parts;
    parts.push_back(gateway_->Querier("t1", {.max_resolution_ms = max_resolution}));
    parts.push_back(std::make_unique<query::HeadQuerier>(db_->head()));
    return std::make_unique<query::MergeQuerier>(std::move(parts));
  }

  // Runs the query corpus over the reference head and over `q`; every result must match.
  void ExpectSameAnswers(const query::Querier& q) {
    query::HeadQuerier ref(ref_->head());
    promql::Engine engine;
    for (const char* text : testing::kCorpus) {
      auto expr = promql::ParseExpr(text);
      ASSERT_TRUE(expr.ok()) << text;
      std::vector<std::pair<int64_t, int64_t>> ranges = {
          {0, hours_ * kHour}, {2 * kHour - 60'000, 2 * kHour + 60'000}, {3 * kHour, 5 * kHour}};
      for (auto [start, end] : ranges) {
        auto want = engine.Range(ref, **expr, start, end, 60'000);
        auto got = engine.Range(q, **expr, start, end, 60'000);
        ASSERT_TRUE(want.ok()) << text << ": " << want.status().ToString();
        ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
        ASSERT_EQ(got->series.size(), want->series.size()) << text;
        for (size_t i = 0; i < want->series.size(); ++i) {
          ASSERT_EQ(got->series[i].labels, want->series[i].labels) << text;
          const auto& gp = got->series[i].points;
          const auto& wp = want->series[i].points;
          ASSERT_EQ(gp.size(), wp.size()) << text << " " << FormatLabels(want->series[i].labels);
          ASSERT_TRUE(
              testing::SameHistograms(got->series[i].histograms, want->series[i].histograms))
              << text << " " << FormatLabels(want->series[i].labels);
          for (size_t k = 0; k < wp.size(); ++k) {
            ASSERT_EQ(gp[k].t, wp[k].t) << text;
            ASSERT_TRUE(gp[k].v == wp[k].v || (std::isnan(gp[k].v) && std::isnan(wp[k].v)))
                << text << " at " << wp[k].t << ": " << gp[k].v << " vs " << wp[k].v;
          }
        }
      }
    }
  }

  int64_t hours_ = 0;
  testing::TempDir dir_{"store"};  // before the Dbs: outlives them
  std::shared_ptr<objstore::MemoryBucket> bucket_;
  std::unique_ptr<StoreGateway> gateway_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<Db> ref_;
};

TEST_F(StoreTest, CutBlocksAnswerLikeTheHead) {
  size_t head_bytes = db_->head().Stats().series_bytes;
  auto shipped = db_->CutBlocks(dir_.path() + "/staging", Shipper());
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(*shipped, 2);  // [0, 2h) and [2h, 4h); 4h..7h is 1.5 ranges only from 4h on
  auto blocks = gateway_->Blocks("t1");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].min_time % (2 * kHour), 0);
  EXPECT_LT(db_->head().Stats().series_bytes, head_bytes);
  EXPECT_EQ(db_->head().min_valid_time(), 4 * kHour);
  {
    // The first hour is gone from the head: only the blocks can answer for it.
    query::HeadQuerier head_only(db_->head());
    promql::Engine engine;
    auto expr = promql::ParseExpr("count(memory_bytes)").value();
    auto r = engine.Instant(head_only, *expr, kHour);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->series.empty());
  }
  ExpectSameAnswers(*Merged());

  // A restart keeps the cut: old samples stay refused, and nothing comes back from the WAL.
  db_.reset();
  db_ = Open(dir_.path() + "/db");
  EXPECT_EQ(db_->head().min_valid_time(), 4 * kHour);
  ExpectSameAnswers(*Merged());

  // A fresh gateway discovers the blocks by listing the bucket.
  gateway_ = std::make_unique<StoreGateway>(
      GatewayOptions{}, [this](const std::string&) { return bucket_; }, nullptr);
  ASSERT_TRUE(gateway_->Sync("t1").ok());
  EXPECT_EQ(gateway_->Blocks("t1").size(), 2u);
  ExpectSameAnswers(*Merged());

  // Label APIs see block series too.
  auto names = Merged()->LabelValues("__name__", 0, 7 * kHour, {});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 4u);
}

// A selection whose chunks exceed store_gateway.max_select_chunk_size is refused with a
// message naming the limit, before its chunks are fetched; narrower ones still run.
TEST_F(StoreTest, SelectionsOverTheChunkLimitAreRefused) {
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  GatewayOptions o;
  o.max_select_chunk_bytes = 4096;
  StoreGateway small(
      o, [this](const std::string&) { return bucket_; }, nullptr);
  ASSERT_TRUE(small.Sync("t1").ok());
  promql::Engine engine;
  auto all = promql::ParseExpr("sum(rate(http_requests_total[5m]))").value();
  auto r = engine.Range(*small.Querier("t1"), *all, 0, 4 * kHour, 60'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kLimitExceeded);
  EXPECT_NE(r.status().message().find("store_gateway.max_select_chunk_size"), std::string::npos)
      << r.status().message();
  auto labels = gateway_->Querier("t1")->Series(0, 4 * kHour, {});
  ASSERT_TRUE(labels.ok());
  ASSERT_FALSE(labels->empty());
  std::vector<Matcher> ms;
  for (const auto& l : labels->front()) {
    ms.push_back(Matcher::Make(Matcher::Type::kEqual, l.name, l.value).value());
  }
  auto set = small.Querier("t1")->Select({0, int64_t{10} * 60'000}, ms);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ((*set)->size(), 1u);
  EXPECT_TRUE(engine.Range(*gateway_->Querier("t1"), *all, 0, 4 * kHour, 60'000).ok());
}

TEST_F(StoreTest, BucketOutageKeepsEverythingInTheHead) {
  bucket_->set_unavailable(true);
  auto shipped = db_->CutBlocks(dir_.path() + "/staging", Shipper());
  EXPECT_EQ(shipped.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(gateway_->Blocks("t1").empty());
  ExpectSameAnswers(*Merged());
  // Restart during the outage: the WAL still has every sample.
  db_.reset();
  db_ = Open(dir_.path() + "/db");
  ExpectSameAnswers(*Merged());
  bucket_->set_unavailable(false);
  shipped = db_->CutBlocks(dir_.path() + "/staging", Shipper());
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(*shipped, 2);
  ExpectSameAnswers(*Merged());
}

// The bucket fails after the first of two ranges: the second is shipped by the next
// attempt, not skipped (a failed cut has already raised the head's minimum valid time).
TEST_F(StoreTest, FailedCutIsRetriedForTheSameRange) {
  int calls = 0;
  auto flaky = [&](const std::string& dir, const tsdb::block::BlockMeta& meta) -> Status {
    if (++calls == 2) return Status::Unavailable("bucket down");
    return Shipper()(dir, meta);
  };
  EXPECT_EQ(db_->CutBlocks(dir_.path() + "/staging", flaky).status().code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(gateway_->Blocks("t1").size(), 1u);
  auto again = db_->CutBlocks(dir_.path() + "/staging", Shipper());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 1);
  auto blocks = gateway_->Blocks("t1");
  ASSERT_EQ(blocks.size(), 2u);
  std::sort(blocks.begin(), blocks.end(),
            [](const auto& a, const auto& b) { return a.min_time < b.min_time; });
  EXPECT_EQ(blocks[1].min_time, blocks[0].max_time);
  ExpectSameAnswers(*Merged());
}

// A block cut twice (a crash after the upload, before the head let go) shows each sample
// once.
TEST_F(StoreTest, DuplicateBlocksAreDeduplicated) {
  std::vector<tsdb::block::BlockMeta> metas;
  auto twice = [&](const std::string& dir, const tsdb::block::BlockMeta& meta) -> Status {
    RETURN_IF_ERROR(Shipper()(dir, meta));
    auto copy = meta;
    copy.id = NewUlid(1);
    copy.sources = {copy.id};
    RETURN_IF_ERROR(tsdb::block::UploadBlock(*bucket_, "t1", dir, copy));
    gateway_->AddBlock("t1", copy);
    return Status::Ok();
  };
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", twice).ok());
  EXPECT_EQ(gateway_->Blocks("t1").size(), 4u);
  ExpectSameAnswers(*Merged());
}

using testing::CountingBucket;

// A warm gateway answers from its page cache; after a restart the disk tier still has the
// pages and only the indexes-of-index are fetched again.
TEST_F(StoreTest, WarmAndRestartedGatewaysReadFromCache) {
  auto counting = std::make_shared<CountingBucket>();
  bucket_ = counting;
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  GatewayOptions o;
  o.disk_cache_dir = dir_.path() + "/cache";
  auto query = [&](StoreGateway& gw) {
    auto q = gw.Querier("t1", {.max_resolution_ms = 0});
    auto r = promql::Engine().Range(
        *q, *promql::ParseExpr("sum(rate(http_requests_total[5m]))").value(), 0, 4 * kHour, 60'000);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->series.size(), 1u);
  };
  {
    StoreGateway gw(
        o, [&](const std::string&) { return bucket_; }, nullptr);
    ASSERT_TRUE(gw.Sync("t1").ok());
    int before = counting->gets;
    query(gw);
    int cold = counting->gets - before;
    EXPECT_GT(cold, 2);
    before = counting->gets;
    query(gw);
    EXPECT_EQ(counting->gets - before, 0) << "a warm gateway reads nothing from the bucket";
    std::printf("object-store GETs: cold query %d, warm query 0\n", cold);
  }
  StoreGateway restarted(
      o, [&](const std::string&) { return bucket_; }, nullptr);
  ASSERT_TRUE(restarted.Sync("t1").ok());
  int before = counting->gets;
  query(restarted);
  EXPECT_EQ(counting->gets - before, 2) << "one index-of-index per block (one shard each)";
}

class CompactionTest : public StoreTest {
 protected:
  void SetUp() override { Init(30); }
  tsdb::compact::Compactor MakeCompactor(tsdb::compact::CompactorOptions o = {}) {
    o.work_dir = dir_.path() + "/compactor";
    return tsdb::compact::Compactor(
        o, limits_, [this](const std::string&) { return bucket_; }, nullptr);
  }
  limits::TenantOverrides limits_;
  size_t LiveBlocks(int64_t resolution) {
    EXPECT_TRUE(gateway_->Sync("t1").ok());
    size_t n = 0;
    for (const auto& m : gateway_->Blocks("t1")) n += m.resolution_ms == resolution ? 1 : 0;
    return n;
  }
};

// Merged 12h and 24h blocks answer exactly as the head did; retired sources disappear in
// two phases.
TEST_F(CompactionTest, MergedBlocksAnswerExactly) {
  auto shipped = db_->CutBlocks(dir_.path() + "/staging", Shipper());
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(*shipped, 14);  // [0h, 28h) in 2h blocks
  auto compactor = MakeCompactor();
  const int64_t now = 30 * kHour;
  auto pass = compactor.Run("t1", now);
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_GE(pass->compacted, 2);
  EXPECT_GE(pass->marked, 12);
  EXPECT_EQ(pass->deleted, 0);
  EXPECT_EQ(LiveBlocks(0), 3u);  // [0, 24h), and [24h, 28h) waiting for its 12h window
  for (const auto& m : gateway_->Blocks("t1")) {
    if (m.min_time == 0) {
      EXPECT_EQ(m.max_time, 24 * kHour);
      EXPECT_EQ(m.sources.size(), 12u);
      EXPECT_GE(m.level, 2);
    }
  }
  ExpectSameAnswers(*Merged(0));

  // A second pass inside the deletion delay changes nothing; after it the sources go.
  size_t objects = bucket_->size();
  ASSERT_TRUE(compactor.Run("t1", now + 600'000).ok());
  EXPECT_EQ(bucket_->size(), objects);
  auto later = compactor.Run("t1", now + 2 * kHour);
  ASSERT_TRUE(later.ok());
  EXPECT_GE(later->deleted, 12);
  EXPECT_LT(bucket_->size(), objects);
  EXPECT_EQ(LiveBlocks(0), 3u);
  ExpectSameAnswers(*Merged(0));
}

// Shutdown stops a pass at the next series or job; what it leaves behind is invisible to
// queries and finished by the next pass.
TEST_F(CompactionTest, StoppedPassLeavesNothingVisible) {
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  size_t objects = bucket_->size();
  auto stopped = MakeCompactor();
  stopped.Stop();
  auto pass = stopped.Run("t1", 30 * kHour);
  EXPECT_EQ(pass.status().code(), Status::Code::kCancelled);
  EXPECT_EQ(bucket_->size(), objects);

  auto interrupted = MakeCompactor();
  std::thread run([&] { (void)interrupted.Run("t1", 30 * kHour); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  interrupted.Stop();
  run.join();
  ExpectSameAnswers(*Merged(0));
  auto finished = MakeCompactor().Run("t1", 30 * kHour);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(LiveBlocks(0), 3u);
  ExpectSameAnswers(*Merged(0));
}

// A crash after the merged block was uploaded but before its sources were marked: the next
// pass retires the sources as superseded, and queries meanwhile count each sample once.
TEST_F(CompactionTest, SupersededSourcesAreRetired) {
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  auto compactor = MakeCompactor();
  ASSERT_TRUE(compactor.Run("t1", 30 * kHour).ok());
  // Undo the marks, as if the crash came first.
  auto all = blocks::ListBlocks(*bucket_, tsdb::block::MetricsRoot("t1"));
  ASSERT_TRUE(all.ok());
  for (const auto& listed : all.value()) {
    if (listed.marked) {
      ASSERT_TRUE(
          bucket_->Delete(tsdb::block::BlockPrefix("t1", listed.id) + blocks::kDeletionMarkFile)
              .ok());
    }
  }
  EXPECT_GT(LiveBlocks(0), 2u);
  ExpectSameAnswers(*Merged(0));
  auto pass = compactor.Run("t1", 30 * kHour);
  ASSERT_TRUE(pass.ok());
  EXPECT_GE(pass->marked, 12);
  EXPECT_EQ(LiveBlocks(0), 3u);
}

// Downsampled blocks: sum/min/max_over_time are exact (up to float summation order); rate()
// stays within documented bounds; queries that cannot use them read raw data.
TEST_F(CompactionTest, DownsampledBlocksAnswerWithinBounds) {
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  auto compactor = MakeCompactor();
  auto pass = compactor.Run("t1", 80 * kHour);
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_GE(pass->downsampled, 1);
  EXPECT_GE(LiveBlocks(tsdb::block::kRes5m), 1u);

  query::HeadQuerier ref(ref_->head());
  promql::Engine engine;
  // Asked for explicitly: in auto mode the raw blocks, smaller here, would be read instead.
  auto merged = Merged(tsdb::block::kRes5m);
  auto compare = [&](const char* text, double max_rel, double mean_rel,
                     const query::Querier& blocks) {
    auto expr = promql::ParseExpr(text).value();
    auto want = engine.Range(ref, *expr, 2 * kHour, 24 * kHour, kHour).value();
    auto got = engine.Range(blocks, *expr, 2 * kHour, 24 * kHour, kHour).value();
    ASSERT_EQ(got.series.size(), want.series.size()) << text;
    double worst = 0;
    double total = 0;
    size_t n = 0;
    for (size_t i = 0; i < want.series.size(); ++i) {
      ASSERT_EQ(got.series[i].labels, want.series[i].labels);
      const auto& gp = got.series[i].points;
      const auto& wp = want.series[i].points;
      ASSERT_EQ(gp.size(), wp.size()) << text << " " << FormatLabels(want.series[i].labels);
      for (size_t k = 0; k < wp.size(); ++k) {
        double rel = std::abs(gp[k].v - wp[k].v) / std::max(std::abs(wp[k].v), 1e-9);
        worst = std::max(worst, rel);
        total += rel;
        ++n;
      }
    }
    std::printf("%-60s max_rel=%.2e mean_rel=%.2e points=%zu\n", text, worst, total / n, n);
    EXPECT_LE(worst, max_rel) << text;
    EXPECT_LE(total / static_cast<double>(n), mean_rel) << text;
  };
  compare("sum_over_time(memory_bytes[1h])", 1e-9, 1e-12, *merged);
  compare("max_over_time(memory_bytes[1h])", 0, 0, *merged);
  compare("min_over_time(memory_bytes[1h])", 0, 0, *merged);
  compare("sum(rate(http_requests_total[1h]))", 0.05, 0.01, *merged);
  compare("increase(http_requests_total[2h])", 0.25, 0.02, *merged);
  compare("histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[1h])))", 0.05, 0.01,
          *merged);
  // count_over_time cannot use aggregates: chosen automatically, it reads raw blocks, exactly.
  compare("count_over_time(memory_bytes[1h])", 0, 0, *Merged());
  // Native histograms are kept as they are in downsampled blocks: exact at 5m resolution.
  for (const char* text :
       {"rpc_duration_seconds", "sum by (instance) (rate(rpc_duration_seconds[1h]))"}) {
    auto expr = promql::ParseExpr(text).value();
    auto want = engine.Range(ref, *expr, 2 * kHour, 24 * kHour, kHour).value();
    auto got = engine.Range(*merged, *expr, 2 * kHour, 24 * kHour, kHour).value();
    ASSERT_EQ(got.series.size(), want.series.size()) << text;
    size_t points = 0;
    for (size_t i = 0; i < want.series.size(); ++i) {
      EXPECT_TRUE(testing::SameHistograms(got.series[i].histograms, want.series[i].histograms))
          << text << " " << FormatLabels(want.series[i].labels);
      points += want.series[i].histograms.size();
    }
    EXPECT_GT(points, 0u) << text;
  }
}

// Data scraped every 5 minutes: a 5m downsampled block takes more room than the raw samples
// (five aggregates per window of one sample), so queries read the raw block and answer exactly
// where they would otherwise read aggregates.
class SparseCompactionTest : public CompactionTest {
 protected:
  void SetUp() override { Init(30, 300'000); }
};

TEST_F(SparseCompactionTest, RawBlocksSmallerThanDownsampledOnesAreRead) {
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  auto pass = MakeCompactor().Run("t1", 80 * kHour);
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  ASSERT_GE(LiveBlocks(tsdb::block::kRes5m), 1u);
  query::HeadQuerier ref(ref_->head());
  promql::Engine engine;
  auto merged = Merged();
  for (const char* text :
       {"sum(rate(http_requests_total[1h]))", "max_over_time(memory_bytes[1h])"}) {
    auto expr = promql::ParseExpr(text).value();
    auto want = engine.Range(ref, *expr, 2 * kHour, 24 * kHour, kHour).value();
    auto got = engine.Range(*merged, *expr, 2 * kHour, 24 * kHour, kHour).value();
    ASSERT_EQ(got.series.size(), want.series.size()) << text;
    for (size_t i = 0; i < want.series.size(); ++i) {
      EXPECT_EQ(got.series[i].labels, want.series[i].labels) << text;
      const auto& gp = got.series[i].points;
      const auto& wp = want.series[i].points;
      ASSERT_EQ(gp.size(), wp.size()) << text;
      for (size_t k = 0; k < wp.size(); ++k) {
        EXPECT_EQ(gp[k].t, wp[k].t) << text;
        EXPECT_EQ(gp[k].v, wp[k].v) << text;
      }
    }
  }
}

TEST_F(CompactionTest, RetentionMarksOldBlocks) {
  ASSERT_TRUE(db_->CutBlocks(dir_.path() + "/staging", Shipper()).ok());
  limits_.defaults.retention.raw_ms = 10 * kHour;
  auto compactor = MakeCompactor();
  auto pass = compactor.Run("t1", 30 * kHour);
  ASSERT_TRUE(pass.ok());
  EXPECT_GE(pass->marked, 1);
  EXPECT_GT(LiveBlocks(0), 0u);
  for (const auto& m : gateway_->Blocks("t1")) EXPECT_GE(m.max_time, 20 * kHour);
  auto r = promql::Engine().Instant(*Merged(), *promql::ParseExpr("count(memory_bytes)").value(),
                                    5 * kHour);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->series.empty());
}

}  // namespace
}  // namespace strata::store
