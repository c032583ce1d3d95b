#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "base/file.h"
#include "base/ulid.h"
#include "objstore/memory_bucket.h"
#include "testing/temp_dir.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"
#include "tsdb/block/reader.h"
#include "tsdb/block/writer.h"

namespace strata::tsdb::block {
namespace {

struct TestSeries {
  Labels labels;
  std::vector<Sample> samples;
};

std::vector<TestSeries> MakeSeries(int n, int64_t mint, int64_t maxt, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TestSeries> out;
  for (int i = 0; i < n; ++i) {
    TestSeries s;
    s.labels = {{"__name__", i % 3 == 0 ? "up" : "http_requests_total"},
                {"instance", "host-" + std::to_string(i)},
                {"job", i % 2 == 0 ? "api" : "db"}};
    if (i % 5 == 0) s.labels.push_back({"zone", "eu"});
    int64_t step = 1000 + static_cast<int64_t>(rng() % 30000);
    double v = 0;
    for (int64_t t = mint + static_cast<int64_t>(rng() % 5000); t < maxt; t += step) {
      v += static_cast<double>(rng() % 100) / 7;
      s.samples.push_back({t, v});
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const TestSeries& a, const TestSeries& b) { return a.labels < b.labels; });
  return out;
}

class BlockTest : public ::testing::Test {
 protected:
  BlockMeta Write(const std::vector<TestSeries>& series, uint32_t shards) {
    auto w = BlockWriter::Create(dir_.path(), {kMin, kMax, shards}).value();
    for (const auto& s : series) EXPECT_TRUE(w->AddSeries(s.labels, s.samples).ok());
    return w->Finish().value();
  }
  RangeFetcher Fetcher(const std::string& file) {
    return [path = dir_.path() + "/" +
                   file](std::span<const ByteRange> ranges) -> Result<std::vector<std::string>> {
      ASSIGN_OR_RETURN(std::string data, ReadFile(path));
      std::vector<std::string> out;
      for (const auto& r : ranges) {
        out.push_back(r.offset < data.size() ? data.substr(r.offset, r.length) : "");
      }
      return out;
    };
  }
  ShardIndex Open(const BlockMeta& meta, uint32_t shard) {
    auto data = ReadFile(dir_.path() + "/" + IndexFile(shard)).value();
    const auto& sm = meta.shards[shard];
    return ShardIndex::Parse(std::string_view(data).substr(sm.ioi_offset, sm.ioi_length),
                             sm.index_bytes)
        .value();
  }
  // Every series of the block matching `matchers`, with samples, across shards.
  std::map<Labels, std::vector<Sample>> Select(const BlockMeta& meta,
                                               const std::vector<Matcher>& matchers) {
    std::map<Labels, std::vector<Sample>> out;
    for (uint32_t sh = 0; sh < meta.shards.size(); ++sh) {
      ShardIndex idx = Open(meta, sh);
      auto ords = idx.Postings(matchers, Fetcher(IndexFile(sh))).value();
      auto series =
          idx.Series(ords, kMin, kMax, meta.min_time, false, Fetcher(IndexFile(sh))).value();
      std::string chunks = ReadFile(dir_.path() + "/" + ChunksFile(sh)).value();
      for (const auto& s : series) {
        auto& samples = out[s.labels];
        for (const auto& c : s.chunks) {
          EXPECT_TRUE(DecodeChunkRecord(chunks.substr(c.offset, c.length), &samples, nullptr).ok());
        }
      }
    }
    return out;
  }

  static constexpr int64_t kMin = 7'200'000;
  static constexpr int64_t kMax = 14'400'000;
  testing::TempDir dir_{"block"};
};

Matcher M(Matcher::Type t, const std::string& n, const std::string& v) {
  return Matcher::Make(t, n, v).value();
}

TEST_F(BlockTest, RoundTripWithMatchers) {
  auto series = MakeSeries(500, kMin, kMax, 1);
  for (uint32_t shards : {1u, 4u}) {
    BlockMeta meta = Write(series, shards);
    EXPECT_EQ(meta.num_series, series.size());
    EXPECT_EQ(meta.shards.size(), shards);
    using T = Matcher::Type;
    std::vector<std::vector<Matcher>> cases = {
        {},
        {M(T::kEqual, "__name__", "up")},
        {M(T::kEqual, "job", "api"), M(T::kNotEqual, "__name__", "up")},
        {M(T::kRegex, "instance", "host-1.*")},
        {M(T::kNotRegex, "instance", "host-[0-8].*")},
        {M(T::kEqual, "zone", "")},
        {M(T::kNotEqual, "zone", "")},
        {M(T::kRegex, "zone", "eu|")},
        {M(T::kEqual, "nope", "x")},
        {M(T::kEqual, "job", "zzz")},
        {M(T::kEqual, "instance", "host-499")},
    };
    for (const auto& matchers : cases) {
      std::map<Labels, std::vector<Sample>> want;
      for (const auto& s : series) {
        bool ok = true;
        for (const auto& m : matchers) {
          std::string_view v;
          for (const auto& l : s.labels) {
            if (l.name == m.name()) v = l.value;
          }
          ok = ok && m.Matches(v);
        }
        if (ok) want[s.labels] = s.samples;
      }
      auto got = Select(meta, matchers);
      ASSERT_EQ(got.size(), want.size()) << shards;
      // One assertion a series, not one a sample: 2.5M of them took most of this test's time
      // under the sanitizers.
      auto same = [](const Sample& a, const Sample& b) { return a.t == b.t && a.v == b.v; };
      for (const auto& [l, samples] : want) {
        ASSERT_TRUE(std::ranges::equal(got[l], samples, same)) << shards;
      }
    }
    ShardIndex idx = Open(meta, 0);
    auto names = idx.LabelNames();
    EXPECT_EQ(names.front(), "__name__");
    auto jobs = idx.LabelValues("job", Fetcher(IndexFile(0))).value();
    EXPECT_EQ(jobs, (std::vector<std::string>{"api", "db"}));
  }
}

// Long postings lists (a name every series has) are decoded once and kept: a repeated lookup
// reads only the short lists, answers the same, and the index's memory counts what is kept.
TEST_F(BlockTest, LongPostingsListsStayDecoded) {
  std::vector<TestSeries> series;
  series.reserve(10'000);
  for (int i = 0; i < 10'000; ++i) {
    series.push_back({{{"__name__", "node_cpu_seconds_total"},
                       {"cpu", std::to_string(i % 8)},
                       {"instance", fmt::format("host-{:05}", i / 8)},
                       {"mode", i % 8 == 0 ? "idle" : "user"}},
                      {{kMin, 1.0}}});
  }
  std::sort(series.begin(), series.end(),
            [](const TestSeries& a, const TestSeries& b) { return a.labels < b.labels; });
  BlockMeta meta = Write(series, 1);
  ShardIndex idx = Open(meta, 0);
  uint64_t bytes_read = 0;
  RangeFetcher fetch = [&, inner = Fetcher(IndexFile(0))](std::span<const ByteRange> ranges) {
    for (const auto& r : ranges) bytes_read += r.length;
    return inner(ranges);
  };
  using T = Matcher::Type;
  std::vector<std::vector<Matcher>> cases = {
      {M(T::kEqual, "__name__", "node_cpu_seconds_total"), M(T::kEqual, "instance", "host-00007"),
       M(T::kEqual, "mode", "idle")},
      {M(T::kEqual, "mode", "user"), M(T::kRegex, "instance", "host-0000[1-3]")},
      {M(T::kEqual, "__name__", "node_cpu_seconds_total"), M(T::kNotEqual, "mode", "user"),
       M(T::kRegex, "instance", "host-0123.")},
      {M(T::kEqual, "__name__", "node_cpu_seconds_total"), M(T::kEqual, "instance", "nope")},
  };
  const size_t empty_bytes = idx.MemoryBytes();
  for (const auto& matchers : cases) {
    std::vector<uint32_t> want;
    for (uint32_t o = 0; o < series.size(); ++o) {
      bool ok = true;
      for (const auto& m : matchers)
        ok = ok && m.Matches(GetLabel(ViewOf(series[o].labels), m.name()));
      if (ok) want.push_back(o);
    }
    bytes_read = 0;
    EXPECT_EQ(idx.Postings(matchers, fetch).value(), want);
    uint64_t first = bytes_read;
    bytes_read = 0;
    EXPECT_EQ(idx.Postings(matchers, fetch).value(), want);
    EXPECT_LE(bytes_read, first);
  }
  // The name's list (10,000 series) and mode="user"'s (8,750) are kept; mode="idle"'s
  // (1,250) is not.
  EXPECT_EQ(idx.MemoryBytes() - empty_bytes, (10'000 + 8'750) * sizeof(uint32_t));
  bytes_read = 0;
  std::vector<Matcher> name_only = {M(T::kEqual, "__name__", "node_cpu_seconds_total")};
  EXPECT_EQ(idx.Postings(name_only, fetch)->size(), 10'000u);
  EXPECT_LT(bytes_read, 1000u);  // the table block only
}

TEST_F(BlockTest, TimeRangeFiltersChunks) {
  auto series = MakeSeries(20, kMin, kMax, 2);
  BlockMeta meta = Write(series, 1);
  ShardIndex idx = Open(meta, 0);
  std::vector<uint32_t> all{0, 1, 2};
  auto full = idx.Series(all, kMin, kMax, meta.min_time, false, Fetcher(IndexFile(0))).value();
  auto part =
      idx.Series(all, kMin, kMin + 1000, meta.min_time, true, Fetcher(IndexFile(0))).value();
  ASSERT_EQ(part.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_LE(part[i].chunks.size(), 1u);
    EXPECT_GT(full[i].chunks.size(), part[i].chunks.size());
  }
}

TEST_F(BlockTest, RejectsOutOfOrderSeriesAndSamples) {
  auto w = BlockWriter::Create(dir_.path(), {kMin, kMax, 1}).value();
  ASSERT_TRUE(w->AddSeries({{"a", "2"}}, std::vector<Sample>{{kMin, 1}}).ok());
  EXPECT_FALSE(w->AddSeries({{"a", "1"}}, std::vector<Sample>{{kMin, 1}}).ok());
  EXPECT_FALSE(w->AddSeries({{"a", "3"}}, std::vector<Sample>{{kMax, 1}}).ok());
  EXPECT_FALSE(w->AddSeries({{"a", "4"}}, std::vector<Sample>{{kMin + 5, 1}, {kMin + 5, 2}}).ok());
}

// Any corruption of the index or chunks is reported, never a crash or a wrong answer
// dressed as right.
TEST_F(BlockTest, CorruptionIsDetected) {
  auto series = MakeSeries(100, kMin, kMax, 3);
  BlockMeta meta = Write(series, 1);
  std::string index = ReadFile(dir_.path() + "/" + IndexFile(0)).value();
  const auto& sm = meta.shards[0];
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = index;
    size_t pos = kFileHeaderSize + rng() % (bad.size() - kFileHeaderSize);
    bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng() % 255));
    auto fetch = [&](std::span<const ByteRange> ranges) -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const auto& r : ranges)
        out.push_back(r.offset < bad.size() ? bad.substr(r.offset, r.length) : "");
      return out;
    };
    auto idx = ShardIndex::Parse(std::string_view(bad).substr(sm.ioi_offset, sm.ioi_length),
                                 sm.index_bytes);
    if (pos >= sm.ioi_offset) {
      EXPECT_FALSE(idx.ok()) << pos;
      continue;
    }
    ASSERT_TRUE(idx.ok());
    // Every byte before the index-of-index belongs to a checksummed section, and reading
    // every label's postings and every series touches all of them.
    bool failed = false;
    for (const auto& name : idx->LabelNames()) {
      std::vector<Matcher> ms = {M(Matcher::Type::kRegex, name, ".+")};
      failed = failed || !idx->Postings(ms, fetch).ok();
    }
    std::vector<uint32_t> all(idx->num_series());
    for (uint32_t k = 0; k < all.size(); ++k) all[k] = k;
    failed = failed || !idx->Series(all, kMin, kMax, meta.min_time, true, fetch).ok();
    EXPECT_TRUE(failed) << "flip at " << pos << " went unnoticed";
  }
  std::vector<Sample> out;
  std::string rec = "\x01garbage-garbage";
  EXPECT_EQ(DecodeChunkRecord(rec, &out, nullptr).code(), Status::Code::kCorruption);
}

TEST(BlockMetaTest, RoundTripAndValidation) {
  BlockMeta m;
  m.id = NewUlid(1000);
  m.min_time = 0;
  m.max_time = 7200000;
  m.num_series = 3;
  m.num_samples = 30;
  m.num_chunks = 3;
  m.sources = {m.id};
  m.shards = {{3, 100, 200, 150, 50}};
  auto back = DecodeMeta(EncodeMeta(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, m);
  for (const std::string& bad :
       {std::string("{"), std::string("[]"), std::string("{\"version\":2}"),
        EncodeMeta(m).replace(EncodeMeta(m).find(m.id), 3, "xyz")}) {
    EXPECT_EQ(DecodeMeta(bad).status().code(), Status::Code::kCorruption) << bad;
  }
  m.shards[0].ioi_offset = 190;
  EXPECT_FALSE(DecodeMeta(EncodeMeta(m)).ok());
}

TEST_F(BlockTest, UploadListAndReadMeta) {
  objstore::MemoryBucket bucket;
  auto series = MakeSeries(10, kMin, kMax, 4);
  BlockMeta meta = Write(series, 2);
  ASSERT_TRUE(UploadBlock(bucket, "t1", dir_.path(), meta).ok());
  ASSERT_TRUE(bucket.Put("t1/" + NewUlid(5) + "/shard-000.index", "partial").ok());
  auto listed = blocks::ListBlocks(bucket, MetricsRoot("t1")).value();
  ASSERT_EQ(listed.size(), 2u);
  int complete = 0;
  for (const auto& b : listed) complete += b.complete ? 1 : 0;
  EXPECT_EQ(complete, 1);
  EXPECT_EQ(ReadMeta(bucket, "t1", meta.id).value(), meta);
  EXPECT_TRUE(blocks::ListBlocks(bucket, MetricsRoot("t2"))->empty());
}

}  // namespace
}  // namespace strata::tsdb::block
