#include "tsdb/db.h"

#include <gtest/gtest.h>

#include <thread>

#include "testing/temp_dir.h"
#include "tsdb/storage.h"
#include "wal/segment.h"

namespace strata::tsdb {
namespace {

class DbTest : public ::testing::Test {
 protected:
  std::unique_ptr<Db> OpenDb(const DbOptions& opts = {}) {
    auto db = Db::Open(dir_.path(), opts, "test");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(db).value();
  }

  // Appends one sample to series {__name__=name, i=id} and waits until it is durable.
  AppendOutcome Put(Db& db, const std::string& name, int id, int64_t t, double v,
                    AppendLimits limits = {}, std::vector<Rejection>* rejected = nullptr) {
    std::string ids = std::to_string(id);
    std::vector<LabelView> labels = {{"__name__", name}, {"i", ids}};
    Sample s{t, v};
    SeriesInput in{labels, HashLabels(labels), {&s, 1}};
    auto out = db.Append({&in, 1}, {}, limits, [&](size_t, std::optional<int64_t>, Rejection r) {
      if (rejected) rejected->push_back(r);
    });
    EXPECT_TRUE(out.ok());
    EXPECT_TRUE(db.WaitDurable(out->lsn).ok());
    return *out;
  }

  // All samples of the head as "labels t v" lines.
  static std::vector<std::string> Dump(const Head& head) {
    std::vector<std::string> out;
    head.ForEachSeries([&](const MemSeries& s) {
      std::string l = FormatLabels(s.OwnedLabels());
      s.ForEachSample(INT64_MIN, INT64_MAX, [&](int64_t t, double v) {
        out.push_back(l + " " + std::to_string(t) + " " + std::to_string(v));
      });
    });
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::TempDir dir_{"db"};
};

TEST_F(DbTest, AppendSurvivesReopen) {
  std::vector<std::string> before;
  {
    auto db = OpenDb();
    for (int i = 0; i < 300; ++i) Put(*db, "m", i % 7, int64_t{1000} * i, i * 0.5);
    std::vector<LabelView> labels = {{"__name__", "m"}};
    MetadataInput md{"m", 1, "seconds", "A test metric."};
    ASSERT_TRUE(
        db->Append({}, {&md, 1}, {}, [](size_t, std::optional<int64_t>, Rejection) {}).ok());
    before = Dump(db->head());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenDb();
  EXPECT_EQ(Dump(db->head()), before);
  EXPECT_EQ(db->head().num_series(), 7u);
  auto md = db->Metadata();
  ASSERT_EQ(md.count("m"), 1u);
  EXPECT_EQ(md["m"].help, "A test metric.");
}

// Exemplars are stored after their series' samples, logged, and found again after a restart
// and after a checkpoint; exemplars alone do not make a series, and an out-of-order one is
// refused without failing the write.
TEST_F(DbTest, ExemplarsSurviveReopenAndCheckpoint) {
  std::vector<LabelView> labels = {{"__name__", "req"}, {"i", "1"}};
  std::vector<LabelView> other = {{"__name__", "req"}, {"i", "2"}};
  auto append = [&](Db& db, std::span<const LabelView> series, std::vector<Sample> samples,
                    std::vector<ExemplarInput> exemplars) {
    SeriesInput in{series, HashLabels(series), samples, exemplars};
    auto out = db.Append({&in, 1}, {}, {}, [](size_t, std::optional<int64_t>, Rejection) {});
    EXPECT_TRUE(out.ok());
    EXPECT_TRUE(db.WaitDurable(out->lsn).ok());
    return *out;
  };
  std::vector<LabelView> trace_a = {{"trace_id", "a"}}, trace_b = {{"trace_id", "b"}};
  const std::vector<Exemplar> want = {{ToLabels(trace_a), 1.5, 1000}, {ToLabels(trace_b), 2, 2000}};
  std::vector<std::vector<Matcher>> all = {
      {*Matcher::Make(Matcher::Type::kEqual, "__name__", "req")}};
  {
    auto db = OpenDb();
    auto out = append(*db, labels, {{1000, 1}}, {{trace_a, 1.5, 1000}});
    EXPECT_EQ(out.exemplars, 1u);
    out = append(*db, labels, {}, {{trace_b, 2, 2000}, {trace_a, 1, 500}});
    EXPECT_EQ(out.exemplars, 1u);
    EXPECT_EQ(out.exemplars_refused, 1u);  // older than the newest
    out = append(*db, other, {}, {{trace_a, 1, 3000}});
    EXPECT_EQ(out.exemplars_refused, 1u);  // no such series
    ASSERT_TRUE(db->Close().ok());
  }
  for (int round = 0; round < 2; ++round) {
    auto db = OpenDb();
    auto got = db->head().exemplars().Select(all, INT64_MIN, INT64_MAX);
    ASSERT_EQ(got.size(), 1u) << round;
    EXPECT_EQ(got[0].series, ToLabels(labels));
    EXPECT_EQ(got[0].exemplars, want);
    // The second round replays a checkpoint.
    ASSERT_TRUE(db->Checkpoint().ok());
    ASSERT_TRUE(db->Close().ok());
  }
}

TEST_F(DbTest, RejectionsAndIdempotentRetries) {
  auto db = OpenDb();
  std::vector<Rejection> rej;
  EXPECT_EQ(Put(*db, "m", 0, 1000, 1, {}, &rej).accepted, 1u);
  EXPECT_EQ(Put(*db, "m", 0, 1000, 1, {}, &rej).duplicates, 1u);
  Put(*db, "m", 0, 1000, 2, {}, &rej);
  Put(*db, "m", 0, 500, 2, {}, &rej);
  ASSERT_EQ(rej.size(), 2u);
  EXPECT_EQ(rej[0], Rejection::kDuplicateTimestamp);
  EXPECT_EQ(rej[1], Rejection::kOutOfOrder);
  rej.clear();
  Put(*db, "m", 1, 1000, 1, {.max_series = 2}, &rej);
  Put(*db, "m", 2, 1000, 1, {.max_series = 2}, &rej);
  Put(*db, "other", 0, 1000, 1, {.max_series_per_metric = 2}, &rej);
  Put(*db, "m", 3, 1000, 1, {.max_series_per_metric = 2}, &rej);
  ASSERT_EQ(rej.size(), 2u);
  EXPECT_EQ(rej[0], Rejection::kSeriesLimit);
  EXPECT_EQ(rej[1], Rejection::kMetricSeriesLimit);
  EXPECT_EQ(db->head().num_series(), 3u);
}

TEST_F(DbTest, CheckpointReplacesSegmentsAndReplaysEqual) {
  DbOptions opts;
  const AppendLimits ooo{.ooo_window_ms = 60'000};
  std::vector<std::string> before;
  {
    auto db = OpenDb(opts);
    for (int i = 0; i < 1000; ++i) Put(*db, "m", i % 10, int64_t{1000} * i, i);
    EXPECT_EQ(Put(*db, "m", 0, 995'000, 42, ooo).accepted, 1u);  // out of order, in the window
    ASSERT_TRUE(db->Checkpoint().ok());
    for (int i = 1000; i < 1100; ++i) Put(*db, "m", i % 10, int64_t{1000} * i, i);
    before = Dump(db->head());
    ASSERT_TRUE(db->Close().ok());
  }
  auto segs = *wal::ListSegments(dir_.path() + "/wal");
  EXPECT_GE(segs.front(), 2u);  // segment 1 was covered by the checkpoint and removed
  EXPECT_TRUE(wal::LatestCheckpoint(dir_.path() + "/wal")->has_value());
  auto db = OpenDb(opts);
  EXPECT_TRUE(db->replay_stats().from_checkpoint);
  EXPECT_EQ(Dump(db->head()), before);
  // A second checkpoint after restart supersedes the first.
  ASSERT_TRUE(db->Checkpoint().ok());
  ASSERT_TRUE(db->Close().ok());
  EXPECT_EQ(Dump(OpenDb(opts)->head()), before);
}

TEST_F(DbTest, ConcurrentWritersAllDurable) {
  auto db = OpenDb();
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) Put(*db, "c", t, int64_t{1000} * i, i);
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(db->Close().ok());
  EXPECT_EQ(Dump(OpenDb()->head()).size(), 800u);
}

// Series whose samples all went into a block leave the head: they stop counting against the
// series limit, and restarts (from the checkpoint written after the cut) agree.
TEST_F(DbTest, SeriesWhoseSamplesAreInBlocksLeaveTheHead) {
  auto db = OpenDb();
  constexpr int64_t kHour = 3'600'000;
  for (int64_t t = 0; t < 5 * kHour; t += 600'000) {
    if (t < kHour) Put(*db, "gone", 1, t, 1);
    Put(*db, "stays", 1, t, 2);
  }
  auto shipped =
      db->CutBlocks(dir_.path() + "/staging", [](const std::string&, const block::BlockMeta&) {
        return Status::Ok();  // where the block goes does not matter here
      });
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(*shipped, 1);  // [0, 2h)
  EXPECT_EQ(db->head().num_series(), 1u);
  EXPECT_EQ(db->head().LabelValues("__name__"), std::vector<std::string>{"stays"});

  AppendLimits two;
  two.max_series = 2;
  std::vector<Rejection> rejected;
  Put(*db, "new", 1, 5 * kHour, 3, two, &rejected);
  EXPECT_TRUE(rejected.empty());

  db.reset();
  db = OpenDb();
  EXPECT_EQ(db->head().num_series(), 2u);
  Put(*db, "gone", 1, 5 * kHour, 4);  // back, under a ref no earlier series had
  auto before = Dump(db->head());
  db.reset();
  db = OpenDb();
  EXPECT_EQ(db->head().num_series(), 3u);
  EXPECT_EQ(Dump(db->head()), before);
}

TEST(StorageTest, TenantsAreIsolatedAndDataDirIsLocked) {
  testing::TempDir dir("storage");
  {
    auto st = Storage::Open({.data_dir = dir.path()});
    ASSERT_TRUE(st.ok());
    EXPECT_FALSE(Storage::Open({.data_dir = dir.path()}).ok());
    auto a = (*st)->GetOrCreate("team-a");
    auto b = (*st)->GetOrCreate("team-b");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(*a, *b);
    EXPECT_FALSE((*st)->GetOrCreate("../etc").ok());
    EXPECT_FALSE((*st)->GetOrCreate("").ok());
    EXPECT_FALSE((*st)->GetOrCreate(std::string(151, 'a')).ok());
  }
  auto st = Storage::Open({.data_dir = dir.path()});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)->Tenants().size(), 2u);
}

}  // namespace
}  // namespace strata::tsdb
