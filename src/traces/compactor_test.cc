#include "traces/compactor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/signal.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "proto/otlp_traces.h"
#include "proto/wire.h"
#include "testing/counting_bucket.h"
#include "testing/synthetic_traces.h"
#include "testing/temp_dir.h"
#include "traces/block/writer.h"
#include "traces/gateway.h"

namespace strata::traces {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kNsPerMs = 1'000'000;
// An hour boundary (the compactor's default window), in ms.
constexpr int64_t kHour0 = int64_t{472'223} * kHourMs;

using Traces = std::map<std::string, std::string>;  // ID -> TracesData

// The ResourceSpans of a TracesData, each as a TracesData of its own.
std::vector<std::string> ResourceParts(std::string_view traces_data) {
  std::vector<std::string> out;
  proto::WireReader r(traces_data);
  while (r.NextField()) {
    std::string_view rs;
    EXPECT_TRUE(r.field() == 1 && r.ReadBytes(&rs));
    proto::PutBytesField(out.emplace_back(), 1, rs);
  }
  return out;
}

class TraceCompactorTest : public ::testing::Test {
 protected:
  // `n` synthetic traces starting `offset_ms` into the hour, a millisecond apart.
  std::vector<testing::SyntheticTrace> Make(int n, int64_t offset_ms) {
    std::vector<testing::SyntheticTrace> out;
    out.reserve(n);
    for (int i = 0; i < n; ++i) out.push_back(gen_.Next((kHour0 + offset_ms + i) * kNsPerMs));
    return out;
  }
  // Writes and uploads a block holding `traces` (ID, TracesData) with `level` and `sources`
  // (empty: a level-1 block of its own); returns its meta.
  block::BlockMeta Put(const Traces& traces, int level = 1, std::vector<std::string> sources = {}) {
    const std::string dir = dir_.path() + "/b";
    auto w = block::BlockWriter::Create(
        dir, {.page_bytes = 16u << 10, .level = level, .sources = std::move(sources)});
    EXPECT_TRUE(w.ok());
    for (const auto& [id, data] : traces) {
      auto s = proto::SummarizeTrace(data);
      EXPECT_TRUE(s.ok());
      EXPECT_TRUE((*w)->Add(id, data, s->spans, s->start_ns, s->end_ns).ok());
    }
    auto meta = (*w)->Finish();
    EXPECT_TRUE(meta.ok());
    EXPECT_TRUE(blocks::UploadBlock(*bucket_, root_, meta->id, dir, block::BlockWriter::Files(),
                                    block::EncodeMeta(*meta))
                    .ok());
    return *meta;
  }
  block::BlockMeta Put(const std::vector<testing::SyntheticTrace>& traces) {
    Traces m;
    for (const auto& t : traces) m[t.id] = t.traces_data;
    return Put(m);
  }
  // The blocks a fresh gateway serves.
  std::vector<block::BlockMeta> Live() {
    cache::PageCache cache(16u << 20, nullptr, nullptr);
    Gateway gw(cache, {}, [this](const std::string&) { return bucket_; });
    EXPECT_TRUE(gw.Sync("t").ok());
    return gw.Blocks("t");
  }
  // Every trace a fresh gateway finds among `ids`, each as the parts the blocks hold.
  std::map<std::string, std::vector<std::string>> Find(const std::set<std::string>& ids) {
    cache::PageCache cache(16u << 20, nullptr, nullptr);
    Gateway gw(cache, {}, [this](const std::string&) { return bucket_; });
    EXPECT_TRUE(gw.Sync("t").ok());
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& id : ids) {
      std::vector<std::string> parts;
      EXPECT_TRUE(gw.FindTrace("t", id, parts, nullptr).ok());
      if (!parts.empty()) out[id] = std::move(parts);
    }
    return out;
  }
  Compactor MakeCompactor(size_t max_sources = 64) {
    CompactorOptions o;
    o.work_dir = dir_.path() + "/work";
    o.max_sources = max_sources;
    o.block.page_bytes = 16u << 10;
    return Compactor(o, limits_, [this](const std::string&) { return bucket_; });
  }

  testing::TempDir dir_{"trace-compactor"};
  std::shared_ptr<testing::CountingBucket> bucket_ = std::make_shared<testing::CountingBucket>();
  const std::string root_ = blocks::BlocksRoot("t", Signal::kTraces);
  limits::TenantOverrides limits_;
  testing::SyntheticTraces gen_{7};
};

// The level-1 blocks of an hour become one once the hour is over: every trace is there as it
// was pushed, a trace cut into two blocks is joined (a span stored twice, by a client's retry,
// once), and each byte of the sources is read once.
TEST_F(TraceCompactorTest, MergesAWindowReadingEachByteOnce) {
  auto a = Make(150, 0), b = Make(150, 20 * kMinuteMs), c = Make(150, 40 * kMinuteMs);
  auto late = Make(20, kHourMs);  // the next hour
  // The first trace of `a` is cut in two: its first ResourceSpans in a's block, the rest in
  // b's, with the first again.
  const testing::SyntheticTrace split = a[0];
  const auto parts = ResourceParts(split.traces_data);
  ASSERT_GE(parts.size(), 2u);
  a[0].traces_data = parts[0];
  std::string rest;
  for (const auto& p : parts) rest += p;
  Traces bt;
  for (const auto& t : b) bt[t.id] = t.traces_data;
  bt[split.id] = rest;
  std::vector<block::BlockMeta> sources = {Put(a), Put(bt), Put(c)};
  Put(late);
  Traces want;
  for (const auto* set : {&a, &b, &c, &late}) {
    for (const auto& t : *set) want[t.id] = t.traces_data;
  }
  want[split.id] = split.traces_data;
  std::set<std::string> ids;
  for (const auto& [id, data] : want) ids.insert(id);

  Compactor compactor = MakeCompactor();
  // The hour is not over (and its settle time): nothing to do.
  auto stats = compactor.Run("t", kHour0 + kHourMs + 10 * kMinuteMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 0);

  const uint64_t read_before = bucket_->ranged_bytes, put_before = bucket_->put_bytes;
  stats = compactor.Run("t", kHour0 + kHourMs + 20 * kMinuteMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 1);
  EXPECT_EQ(stats->marked, 3);
  uint64_t source_bytes = 0;
  for (const auto& m : sources) source_bytes += m.index_bytes + m.data_bytes;
  EXPECT_EQ(stats->bytes_read, source_bytes);
  EXPECT_EQ(bucket_->ranged_bytes - read_before, source_bytes);

  auto live = Live();
  ASSERT_EQ(live.size(), 2u);
  const auto& merged = live[0].level == 2 ? live[0] : live[1];
  EXPECT_EQ(merged.level, 2);
  EXPECT_EQ(merged.sources.size(), 3u);
  EXPECT_EQ(merged.num_traces, 450u);
  uint64_t spans = 0;  // a[0] still counts the whole split trace's
  for (const auto* set : {&a, &b, &c}) {
    for (const auto& t : *set) spans += t.spans;
  }
  EXPECT_EQ(merged.num_spans, spans);
  // What was written: the merged block's files (and the sources' deletion marks).
  const uint64_t merged_bytes =
      merged.index_bytes + merged.data_bytes + block::EncodeMeta(merged).size();
  EXPECT_EQ(stats->bytes_written, merged_bytes);
  EXPECT_GT(bucket_->put_bytes - put_before, merged_bytes);
  const auto found = Find(ids);
  ASSERT_EQ(found.size(), want.size());
  for (const auto& [id, data] : want) {
    ASSERT_EQ(found.at(id).size(), 1u) << "a trace in two blocks after compaction";
    EXPECT_EQ(found.at(id)[0], data);
  }

  // A merged block is not merged again, even with a late block of its hour.
  Put(Make(5, 59 * kMinuteMs));
  stats = compactor.Run("t", kHour0 + 3 * kHourMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 0);
  // The sources are deleted after the delay.
  EXPECT_EQ(stats->deleted, 3);
  EXPECT_EQ(Live().size(), 3u);
}

// Before its window is over, a window's blocks merge once `max_sources` of them wait.
TEST_F(TraceCompactorTest, MergesEarlyWhenEnoughBlocksWait) {
  Put(Make(10, 0));
  Put(Make(10, kMinuteMs));
  Compactor wide = MakeCompactor(3);
  auto stats = wide.Run("t", kHour0 + 30 * kMinuteMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 0);
  Put(Make(10, 2 * kMinuteMs));
  stats = wide.Run("t", kHour0 + 30 * kMinuteMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 1);
  auto live = Live();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].num_traces, 30u);
}

// Blocks whose last span ended longer ago than the tenant's trace retention are retired
// whole, unread; the others stay.
TEST_F(TraceCompactorTest, RetiresBlocksPastRetention) {
  limits_.defaults.retention.traces_ms = 2 * kHourMs;
  Put(Make(10, 0));
  const auto newer = Put(Make(10, 2 * kHourMs));
  const uint64_t read_before = bucket_->ranged_bytes;
  Compactor compactor = MakeCompactor();
  auto stats = compactor.Run("t", kHour0 + 3 * kHourMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->marked, 1);
  EXPECT_EQ(stats->compacted, 0);
  EXPECT_EQ(bucket_->ranged_bytes, read_before);
  auto live = Live();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].id, newer.id);
}

// A merge that uploaded its block and stopped before retiring its sources: the next pass
// retires them, and merges nothing again.
TEST_F(TraceCompactorTest, RetiresTheSourcesOfAnInterruptedMerge) {
  const auto a = Make(10, 0), b = Make(10, kMinuteMs);
  const auto ma = Put(a), mb = Put(b);
  Traces both;
  for (const auto* set : {&a, &b}) {
    for (const auto& t : *set) both[t.id] = t.traces_data;
  }
  std::vector<std::string> sources = {ma.id, mb.id};
  std::sort(sources.begin(), sources.end());
  const auto merged = Put(both, 2, sources);
  Compactor compactor = MakeCompactor();
  auto stats = compactor.Run("t", kHour0 + 2 * kHourMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->marked, 2);
  EXPECT_EQ(stats->compacted, 0);
  auto live = Live();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].id, merged.id);
}

// A source whose pages are damaged fails its merge and is left out of later ones; the other
// blocks are merged at the next pass, and the damaged block stays as it was.
TEST_F(TraceCompactorTest, LeavesADamagedBlockOut) {
  const auto a = Make(20, 0), b = Make(20, kMinuteMs), c = Make(20, 2 * kMinuteMs);
  Put(a);
  const auto damaged = Put(b);
  Put(c);
  const std::string data_key = blocks::BlockPrefix(root_, damaged.id) + block::kDataFile;
  auto data = bucket_->Get(data_key);
  ASSERT_TRUE(data.ok());
  std::string bad = *data;
  for (size_t i = bad.size() / 4; i < bad.size(); i += 97) bad[i] = static_cast<char>(~bad[i]);
  ASSERT_TRUE(bucket_->Put(data_key, bad).ok());
  Compactor compactor = MakeCompactor();
  auto stats = compactor.Run("t", kHour0 + 2 * kHourMs);
  EXPECT_FALSE(stats.ok());
  EXPECT_NE(stats.status().ToString().find(damaged.id), std::string::npos)
      << stats.status().ToString();
  stats = compactor.Run("t", kHour0 + 2 * kHourMs);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->compacted, 1);
  auto live = Live();
  ASSERT_EQ(live.size(), 2u);
  std::set<std::string> ids;
  for (const auto* set : {&a, &c}) {
    for (const auto& t : *set) ids.insert(t.id);
  }
  EXPECT_EQ(Find(ids).size(), 40u);
}

}  // namespace
}  // namespace strata::traces
