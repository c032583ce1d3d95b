#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/signal.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "logs/block/bloom.h"
#include "logs/block/format.h"
#include "logs/block/writer.h"
#include "logs/db.h"
#include "logs/gateway.h"
#include "objstore/memory_bucket.h"
#include "testing/counting_bucket.h"
#include "testing/temp_dir.h"

namespace strata::logs {
namespace {

using block::BlockMeta;

// The LogHub samples as streams: one per file, an entry per line one millisecond apart,
// every tenth with structured metadata.
std::map<Labels, std::vector<Entry>> RealStreams(const std::vector<std::string>& files) {
  std::map<Labels, std::vector<Entry>> out;
  int64_t ts = 1'700'000'000'000'000'000;
  for (const auto& f : files) {
    std::ifstream in(std::string(STRATA_TESTDATA_LOGS) + "/" + f);
    std::string line;
    auto& entries = out[Labels{{"job", f}, {"source", "loghub"}}];
    while (std::getline(in, line)) {
      Entry e{ts += 1'000'000, line, {}};
      if (entries.size() % 10 == 0) e.metadata = {{"trace_id", std::to_string(entries.size())}};
      entries.push_back(std::move(e));
    }
  }
  return out;
}

using testing::CountingBucket;

class LogBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::ifstream(std::string(STRATA_TESTDATA_LOGS) + "/HDFS_2k.log")) {
      GTEST_SKIP() << "no test logs at " << STRATA_TESTDATA_LOGS;
    }
  }

  // Writes `streams` as a block, uploads it and makes it visible in the gateway.
  BlockMeta Write(const std::map<Labels, std::vector<Entry>>& streams,
                  const block::WriterOptions& opts = {}) {
    auto w = block::BlockWriter::Create(dir_.path() + "/b", opts);
    EXPECT_TRUE(w.ok());
    for (const auto& [labels, entries] : streams)
      EXPECT_TRUE((*w)->AddStream(labels, entries).ok());
    auto meta = (*w)->Finish();
    EXPECT_TRUE(meta.ok()) << meta.status().ToString();
    EXPECT_TRUE(blocks::UploadBlock(*bucket_, blocks::BlocksRoot("t", Signal::kLogs), meta->id,
                                    dir_.path() + "/b", block::BlockWriter::Files(),
                                    block::EncodeMeta(*meta))
                    .ok());
    return *meta;
  }

  // A reader of the block through the fixture's cache.
  std::shared_ptr<block::BlockReader> Reader(const BlockMeta& meta) {
    return std::make_shared<block::BlockReader>(
        bucket_, blocks::BlockPrefix(blocks::BlocksRoot("t", Signal::kLogs), meta.id), meta, cache_,
        cache::RangeReadOptions{});
  }

  std::map<Labels, std::vector<Entry>> ReadAll(const Querier& q, int64_t mint, int64_t maxt,
                                               const SelectHints& hints = {}) {
    std::map<Labels, std::vector<Entry>> out;
    auto set = q.Select({}, mint, maxt, hints);
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    for (size_t i = 0; i < (*set)->size(); ++i) {
      std::vector<Entry> e;
      EXPECT_TRUE((*set)->Entries(i, e).ok());
      if (!e.empty()) out[(*set)->labels(i)] = std::move(e);
    }
    return out;
  }

  testing::TempDir dir_{"log-block"};
  std::shared_ptr<CountingBucket> bucket_ = std::make_shared<CountingBucket>();
  cache::PageCache cache_{64u << 20, nullptr, nullptr};
  Gateway gateway_{cache_, {}, [this](const std::string&) { return bucket_; }};
};

TEST_F(LogBlockTest, RealLogsComeBackByteForByteAndSmallerThanRaw) {
  auto streams =
      RealStreams({"HDFS_2k.log", "Linux_full.log", "OpenStack_2k.log", "Apache_2k.log"});
  block::WriterOptions opts;
  opts.page_bytes = 64 << 10;  // several pages per stream
  BlockMeta meta = Write(streams, opts);
  ASSERT_TRUE(gateway_.Sync("t").ok());
  ASSERT_EQ(gateway_.Blocks("t").size(), 1u);
  EXPECT_EQ(meta.num_streams, streams.size());
  uint64_t raw = 0;
  for (const auto& [l, es] : streams) {
    for (const auto& e : es) raw += e.line.size();
  }
  EXPECT_EQ(meta.line_bytes, raw);
  EXPECT_LT(meta.data_bytes + meta.index_bytes + meta.blooms_bytes, raw / 4)
      << "data " << meta.data_bytes << " index " << meta.index_bytes << " blooms "
      << meta.blooms_bytes;

  auto q = gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX);
  EXPECT_EQ(ReadAll(*q, INT64_MIN, INT64_MAX), streams);

  // A time range: exactly the entries inside it.
  const auto& hdfs = streams.begin()->second;
  int64_t lo = hdfs[100].ts_ns, hi = hdfs[1500].ts_ns;
  std::map<Labels, std::vector<Entry>> want;
  for (const auto& [l, es] : streams) {
    for (const auto& e : es) {
      if (e.ts_ns >= lo && e.ts_ns <= hi) want[l].push_back(e);
    }
  }
  EXPECT_EQ(ReadAll(*q, lo, hi), want);
  auto names = q->LabelValues("job", {}, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), streams.size());
}

TEST_F(LogBlockTest, LinesOfAnyShapeComeBackByteForByte) {
  // Parts are stored terminated by a space or a newline; lines whose last part holds a
  // newline, empty parts, and bytes of every value must still come back as sent.
  const std::vector<std::string> lines = {"",
                                          " ",
                                          "  ",
                                          "a",
                                          "a b",
                                          "a b c d e",
                                          "a\nb c",
                                          "a b\nc",
                                          "a b c\n",
                                          "\n",
                                          "x y z w\n ",
                                          "\n \n \n",
                                          std::string("n\0ul l\x80\xff", 8),
                                          "trailing ",
                                          " leading",
                                          "tab\there",
                                          "a  b   c    d     e      f       g        h"};
  for (uint32_t fields : {0u, 2u, 6u}) {
    std::map<Labels, std::vector<Entry>> streams;
    auto& es = streams[Labels{{"fields", std::to_string(fields)}}];
    for (size_t i = 0; i < lines.size(); ++i) {
      es.push_back({int64_t(i) * 1000, lines[i], i % 3 == 0 ? Labels{{"k", lines[i]}} : Labels{}});
    }
    block::WriterOptions opts;
    opts.fields = fields;
    opts.page_bytes = 32;  // several pages
    Write(streams, opts);
  }
  ASSERT_TRUE(gateway_.Sync("t").ok());
  auto q = gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX);
  auto got = ReadAll(*q, INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& [labels, es] : got) {
    ASSERT_EQ(es.size(), lines.size()) << FormatLabels(labels);
    for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(es[i].line, lines[i]) << i;
  }
  // Times and metadata alone: the text is not read, the metadata frame is.
  auto set = q->Select({}, INT64_MIN, INT64_MAX, {});
  ASSERT_TRUE(set.ok());
  for (size_t s = 0; s < (*set)->size(); ++s) {
    size_t i = 0;
    ASSERT_TRUE(
        (*set)
            ->Visit(s, false,
                    [&](const EntryRef& e) {
                      EXPECT_TRUE(e.line.empty());
                      const Labels want_md = i % 3 == 0 ? Labels{{"k", lines[i]}} : Labels{};
                      EXPECT_EQ(ToEntry(e).metadata, want_md);
                      EXPECT_EQ(e.ts_ns, int64_t(i) * 1000);
                      ++i;
                      return Status::Ok();
                    })
            .ok());
    EXPECT_EQ(i, lines.size());
  }
}

TEST_F(LogBlockTest, VisitStreamsWhatEntriesReturns) {
  // Blocks of different hours, one overlapping another with some of its entries again, and a
  // head holding entries of the second block again: visiting gives what Entries() (read
  // whole, merged and deduplicated) gives, in time order; with a needle, a superset of the
  // entries holding it that Entries() has.
  const Labels ls{{"job", "x"}};
  auto entry = [](int64_t s, std::string_view what) {
    return Entry{s * 1'000'000'000, fmt::format("{} line at {} s", what, s), {}};
  };
  std::vector<std::vector<Entry>> blocks(3);
  for (int64_t s = 0; s < 3600; s += 7) blocks[0].push_back(entry(s, "first"));
  for (int64_t s = 3600; s < 7200; s += 7) blocks[1].push_back(entry(s, s % 2 ? "odd" : "even"));
  for (int64_t s = 5000; s < 5100; s += 7) blocks[2].push_back(entry(s, s % 2 ? "odd" : "even"));
  blocks[2].push_back(entry(5001, "new"));
  std::sort(blocks[2].begin(), blocks[2].end(),
            [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
  for (const auto& b : blocks) Write({{ls, b}});
  Head head;
  bool created = false;
  std::vector<LabelView> view = ViewOf(ls);
  Stream* s = head.GetOrCreate(HashLabels(view), view, &created);
  Stream::UnpackCache cache;
  for (int64_t t = 7002; t < 7300; t += 7) {
    Entry e = entry(t, t % 2 ? "odd" : "even");
    ASSERT_EQ(head.Append(*s, e.ts_ns, e.line, {}, INT64_MAX, cache), AppendResult::kAppended);
  }
  ASSERT_TRUE(gateway_.Sync("t").ok());
  std::vector<std::unique_ptr<Querier>> parts;
  parts.push_back(gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX));
  parts.push_back(NewHeadQuerier(head));
  auto q = NewMergeQuerier(std::move(parts));
  auto holds = [](const std::string& needle) {
    return [needle](const Entry& e) { return e.line.find(needle) != std::string::npos; };
  };
  // The expected entries, from the input: each (time, line) once.
  std::map<int64_t, std::string> input;
  for (const auto& b : blocks) {
    for (const auto& e : b) input.emplace(e.ts_ns, e.line);
  }
  for (int64_t t = 7002; t < 7300; t += 7)
    input.emplace(t * 1'000'000'000, entry(t, t % 2 ? "odd" : "even").line);
  for (std::string needle : {"", "odd", "new", "absent"}) {
    SelectHints hints;
    if (!needle.empty()) hints.line_contains = {needle};
    auto set = q->Select({}, 0, INT64_MAX, hints);
    ASSERT_TRUE(set.ok());
    ASSERT_EQ((*set)->size(), 1u);
    std::vector<Entry> want, got;
    for (const auto& [t, line] : input) {
      if (line.find(needle) != std::string::npos) want.push_back({t, line, {}});
    }
    ASSERT_TRUE((*set)
                    ->Visit(0, true,
                            [&](const EntryRef& e) {
                              got.push_back(ToEntry(e));
                              return Status::Ok();
                            })
                    .ok());
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const Entry& a, const Entry& b) {
      return a.ts_ns < b.ts_ns;
    })) << needle;
    std::vector<Entry> kept;
    std::copy_if(got.begin(), got.end(), std::back_inserter(kept), holds(needle));
    EXPECT_EQ(kept.size(), want.size()) << needle;
    EXPECT_TRUE(kept == want) << needle;
    std::vector<Entry> whole;
    ASSERT_TRUE((*set)->Entries(0, whole).ok());
    std::erase_if(whole, [&](const Entry& e) { return !holds(needle)(e); });
    EXPECT_TRUE(whole == want) << needle;
  }
  // Without the lines: every entry once still (telling the overlapping blocks' entries apart
  // takes their lines, which are read for that).
  auto set = q->Select({}, 0, INT64_MAX, {});
  ASSERT_TRUE(set.ok());
  std::vector<int64_t> times;
  ASSERT_TRUE((*set)
                  ->Visit(0, false,
                          [&](const EntryRef& e) {
                            times.push_back(e.ts_ns);
                            return Status::Ok();
                          })
                  .ok());
  std::vector<int64_t> want_times;
  want_times.reserve(input.size());
  for (const auto& [t, line] : input) want_times.push_back(t);
  EXPECT_EQ(times, want_times);
}

TEST_F(LogBlockTest, NeedlesNeverMissALineAndAbsentOnesSkipPages) {
  auto streams = RealStreams({"HDFS_2k.log", "Linux_full.log", "Mac_2k.log", "Spark_2k.log"});
  block::WriterOptions opts;
  opts.page_bytes = 32 << 10;
  BlockMeta meta = Write(streams, opts);
  ASSERT_TRUE(gateway_.Sync("t").ok());
  auto q = gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX);
  std::mt19937_64 rng(7);
  std::vector<const Entry*> all;
  for (const auto& [l, es] : streams) {
    for (const auto& e : es) all.push_back(&e);
  }
  // Substrings of real lines: every line containing one comes back.
  for (int i = 0; i < 200; ++i) {
    const std::string& line = all[rng() % all.size()]->line;
    if (line.size() < 4) continue;
    size_t len = 3 + rng() % std::min<size_t>(30, line.size() - 3);
    std::string needle = line.substr(rng() % (line.size() - len + 1), len);
    auto got = ReadAll(*q, INT64_MIN, INT64_MAX, {{needle}});
    for (const auto& [l, es] : streams) {
      size_t want = std::count_if(es.begin(), es.end(), [&](const Entry& e) {
        return e.line.find(needle) != std::string::npos;
      });
      size_t have = 0;
      for (const auto& e : got[l]) have += e.line.find(needle) != std::string::npos;
      ASSERT_EQ(have, want) << "needle \"" << needle << "\"";
    }
  }
  // A querier opened for one instant of the block, asked for all of it, still finds every
  // line (the pages outside its range are looked up apart).
  const Entry& some = *all[rng() % all.size()];
  const std::string needle = some.line.substr(some.line.size() / 2, 12);
  auto narrow = gateway_.TenantQuerier("t", some.ts_ns, some.ts_ns);
  EXPECT_EQ(ReadAll(*narrow, INT64_MIN, INT64_MAX, {{needle}}),
            ReadAll(*q, INT64_MIN, INT64_MAX, {{needle}}))
      << needle;
  // Random trace IDs no line holds: nearly every page is ruled out by its bloom.
  auto reader = Reader(meta);
  auto idx = reader->Index();
  ASSERT_TRUE(idx.ok());
  size_t read = 0, total = 0;
  for (int i = 0; i < 20; ++i) {
    char id[33];
    snprintf(id, sizeof(id), "%016llx%016llx", static_cast<unsigned long long>(rng()),
             static_cast<unsigned long long>(rng()));
    auto features = block::NeedleFeatures(id, false);
    for (size_t s = 0; s < (*idx)->index.streams.size(); ++s) {
      auto pages = reader->Pages(**idx, s, INT64_MIN, INT64_MAX, features);
      ASSERT_TRUE(pages.ok());
      read += pages->size();
      total += (*idx)->index.streams[s].num_pages;
    }
  }
  EXPECT_LT(read * 100, total) << read << " of " << total << " pages read";
}

// Pages full of trace IDs hold every hex trigram, so trigrams alone rule none out; the
// anchors of long tokens do, and a part of a stored ID still finds its page.
TEST_F(LogBlockTest, AbsentTraceIdsSkipPagesFullOfTraceIds) {
  std::mt19937_64 rng(11);
  auto hex_id = [&] { return fmt::format("{:016x}{:016x}", rng(), rng()); };
  std::map<Labels, std::vector<Entry>> streams;
  auto& es = streams[Labels{{"app", "traced"}}];
  for (int i = 0; i < 40000; ++i) {
    es.push_back(
        {int64_t(i) * 1000, fmt::format("msg=done trace_id={} dur={}ms", hex_id(), i % 97), {}});
  }
  block::WriterOptions opts;
  opts.page_bytes = 64 << 10;
  BlockMeta meta = Write(streams, opts);
  auto reader = Reader(meta);
  auto idx = reader->Index();
  ASSERT_TRUE(idx.ok());
  const size_t pages = (*idx)->index.pages.size();
  ASSERT_GT(pages, 30u);
  size_t read = 0;
  for (int i = 0; i < 50; ++i) {
    auto p = reader->Pages(**idx, 0, INT64_MIN, INT64_MAX, block::NeedleFeatures(hex_id(), false));
    ASSERT_TRUE(p.ok());
    read += p->size();
  }
  EXPECT_LT(read * 100, pages * 50) << read << " of " << pages * 50 << " pages read";
  // 20 characters from the middle of a stored ID: its page is among those read.
  for (int i = 0; i < 200; ++i) {
    const size_t k = rng() % es.size();
    const std::string& line = es[k].line;
    std::string part = line.substr(line.find("trace_id=") + 9 + 6, 20);
    auto p = reader->Pages(**idx, 0, INT64_MIN, INT64_MAX, block::NeedleFeatures(part, false));
    ASSERT_TRUE(p.ok());
    bool found = false;
    for (uint32_t pg : *p) {
      const auto& pi = (*idx)->index.pages[pg];
      found = found || (es[k].ts_ns >= pi.min_ts && es[k].ts_ns <= pi.max_ts);
    }
    EXPECT_TRUE(found) << part;
  }
}

// Format 3 leaves digit-only tokens shorter than 15 bytes out of a page's features, and its
// needles do not ask for them; a version 2 block's filters hold them, and its needles do.
TEST(LogBloomTest, ShortNumbersAreTokenFeaturesOfVersion2BlocksOnly) {
  block::FeatureSet page;
  page.AddText("GET /item/7 took 250 ms, id 123456789012345678");
  const std::vector<uint64_t> features = page.Take();
  const std::vector<uint64_t> v3 = block::NeedleFeatures("took 250 ms", false);
  const std::vector<uint64_t> v2 = block::NeedleFeatures("took 250 ms", true);
  for (uint64_t f : v3) EXPECT_TRUE(std::binary_search(features.begin(), features.end(), f));
  ASSERT_EQ(v2.size(), v3.size() + 1);  // the bounded token "250"
  size_t missing = 0;
  for (uint64_t f : v2) missing += !std::binary_search(features.begin(), features.end(), f);
  EXPECT_EQ(missing, 1u);
  // A long number is a token of version 3 blocks too, and has anchors.
  const std::vector<uint64_t> id = block::NeedleFeatures(" 123456789012345678 ", false);
  EXPECT_EQ(id, block::NeedleFeatures(" 123456789012345678 ", true));
  for (uint64_t f : id) EXPECT_TRUE(std::binary_search(features.begin(), features.end(), f));
}

// An absent needle's bloom checks fetch the 64-byte blocks they need, one run per feature and
// size class, and little around them: not whole cache pages of the data's size per run.
TEST_F(LogBlockTest, AnAbsentNeedleFetchesLittleMoreThanItsBloomBlocks) {
  std::map<Labels, std::vector<Entry>> streams;
  auto& es = streams[Labels{{"app", "words"}}];
  for (int i = 0; i < 40000; ++i) {
    es.push_back({int64_t(i) * 1000,
                  fmt::format("GET /item/{} user={} took {}ms", i * 7919 % 100003, i % 501, i % 97),
                  {}});
  }
  block::WriterOptions opts;
  opts.page_bytes = 16 << 10;
  BlockMeta meta = Write(streams, opts);
  auto reader = Reader(meta);
  auto idx = reader->Index();
  ASSERT_TRUE(idx.ok());
  const block::BloomLayout& layout = (*idx)->blooms;
  ASSERT_GT((*idx)->index.pages.size(), 50u);

  const uint64_t before = bucket_->ranged_bytes.load();
  const std::vector<uint64_t> features = block::NeedleFeatures("zebrafishes", false);
  auto p = reader->Pages(**idx, 0, INT64_MIN, INT64_MAX, features);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->empty());
  // The first round checks two features: per class present, a run of 64 bytes per page.
  uint64_t need = 0, runs = 0;
  for (uint32_t n : layout.pages) {
    if (n == 0) continue;
    need += 2 * uint64_t{n} * block::kBloomBlockBytes;
    runs += 2;
  }
  const uint64_t fetched = bucket_->ranged_bytes.load() - before;
  EXPECT_LE(fetched, need + runs * 3072) << "needed " << need << " in " << runs << " runs";
  EXPECT_GE(fetched, need);
}

// Pages are cut by line and metadata bytes: entries with empty lines and large metadata (as
// OTLP sends) make many small pages, all read back.
TEST_F(LogBlockTest, MetadataCountsTowardsThePageSize) {
  std::map<Labels, std::vector<Entry>> streams;
  auto& es = streams[Labels{{"app", "otlp"}}];
  for (int i = 0; i < 3000; ++i) {
    es.push_back({int64_t{1'000} + i, "", {{"attributes", std::string(1000, 'a' + i % 26)}}});
  }
  block::WriterOptions opts;
  opts.page_bytes = 64 << 10;
  BlockMeta meta = Write(streams, opts);
  EXPECT_GE(meta.num_pages, 40u);
  ASSERT_TRUE(gateway_.Sync("t").ok());
  EXPECT_EQ(ReadAll(*gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX), INT64_MIN, INT64_MAX),
            streams);
}

TEST_F(LogBlockTest, DamagedFilesAreCorruptionNotACrash) {
  auto streams = RealStreams({"Apache_2k.log"});
  BlockMeta meta = Write(streams);
  std::string prefix = blocks::BlockPrefix(blocks::BlocksRoot("t", Signal::kLogs), meta.id);
  auto index = bucket_->Get(prefix + block::kIndexFile);
  ASSERT_TRUE(index.ok());
  for (size_t cut : {size_t{0}, size_t{3}, index->size() / 2, index->size() - 1}) {
    EXPECT_FALSE(block::DecodeIndex(index->substr(0, cut), meta.data_bytes).ok());
  }
  EXPECT_FALSE(block::DecodeIndex(*index, 10).ok());  // pages beyond the data file
  std::mt19937_64 rng(3);
  auto data = bucket_->Get(prefix + block::kDataFile);
  ASSERT_TRUE(data.ok());
  for (int i = 0; i < 50; ++i) {
    std::string bad = *data;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    ASSERT_TRUE(bucket_->Put(prefix + block::kDataFile, bad).ok());
    cache::PageCache fresh(1 << 20, nullptr, nullptr);
    auto r = std::make_shared<block::BlockReader>(bucket_, prefix, meta, fresh,
                                                  cache::RangeReadOptions{});
    auto q = NewBlockQuerier(r);
    auto set = q->Select({}, INT64_MIN, INT64_MAX, {});
    ASSERT_TRUE(set.ok());
    std::vector<Entry> e;
    Status st = (*set)->Entries(0, e);
    if (!st.ok()) {
      EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
    }
  }
  EXPECT_FALSE(block::DecodeMeta("{}").ok());
  EXPECT_FALSE(block::DecodeMeta(R"({"version":1,"signal":"traces"})").ok());
  auto round = block::DecodeMeta(block::EncodeMeta(meta));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(*round, meta);
}

// Reads merge the head (without what it knows a visible block holds, as StorageQueryable
// reads it) and the blocks.
TEST_F(LogBlockTest, DbCutShipsTheHeadAndQueriesSeeEveryEntryOnce) {
  auto streams = RealStreams({"OpenSSH_2k.log", "Zookeeper_2k.log"});
  auto db = Db::Open(dir_.path() + "/db", {}, "t");
  ASSERT_TRUE(db.ok());
  auto append = [&](const std::map<Labels, std::vector<Entry>>& in, size_t from, size_t to) {
    for (const auto& [labels, es] : in) {
      std::vector<EntryInput> inputs;
      std::vector<std::vector<LabelView>> md;
      md.reserve(es.size());
      for (size_t i = from; i < std::min(to, es.size()); ++i) {
        md.push_back(ViewOf(es[i].metadata));
        inputs.push_back({es[i].ts_ns, es[i].line, md.back()});
      }
      auto lv = ViewOf(labels);
      StreamInput s{lv, HashLabels(lv), inputs};
      auto out = (*db)->Append({&s, 1}, {}, [](size_t, const EntryInput*, Rejection, int64_t) {
        ADD_FAILURE() << "refused";
      });
      ASSERT_TRUE(out.ok());
      ASSERT_TRUE((*db)->WaitDurable(out->lsn).ok());
    }
  };
  append(streams, 0, 1200);
  auto ship = [&](const std::string& dir, const BlockMeta& meta) {
    RETURN_IF_ERROR(blocks::UploadBlock(*bucket_, blocks::BlocksRoot("t", Signal::kLogs), meta.id,
                                        dir, block::BlockWriter::Files(), block::EncodeMeta(meta)));
    gateway_.AddBlock("t", meta);
    return Status::Ok();
  };
  // Not due: nothing cut. Forced: the head goes to a block.
  auto none = (*db)->CutBlock(dir_.path() + "/staging", ship, false, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto cut = (*db)->CutBlock(dir_.path() + "/staging", ship, true, 0);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_TRUE(cut->has_value());
  EXPECT_EQ((*cut)->num_entries, 2400u);
  EXPECT_EQ((*db)->head().Stats().entries, 0u);
  EXPECT_EQ((*db)->head().num_streams(), 0u);
  append(streams, 1200, 2000);

  auto merged = [&] {
    std::vector<std::unique_ptr<Querier>> parts;
    parts.push_back(NewHeadQuerier((*db)->head(), (*db)->shipped_seal()));
    parts.push_back(gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX));
    return NewMergeQuerier(std::move(parts));
  };
  EXPECT_EQ(ReadAll(*merged(), INT64_MIN, INT64_MAX), streams);

  // A restart replays only what was not shipped: the entries after the cut.
  ASSERT_TRUE((*db)->Close().ok());
  db->reset();
  db = Db::Open(dir_.path() + "/db", {}, "t");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->head().Stats().entries, 1600u);
  EXPECT_EQ(ReadAll(*merged(), INT64_MIN, INT64_MAX), streams);

  // A query holding the head delays the drop; the entries stay visible throughout.
  auto held = merged();
  auto second = (*db)->CutBlock(dir_.path() + "/staging", ship, false, INT64_MAX / 2);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*db)->head().Stats().entries, 1600u);  // not dropped while `held` lives
  EXPECT_EQ(ReadAll(*held, INT64_MIN, INT64_MAX), streams);
  // A read that begins now leaves the shipped entries out of the head, so what counts
  // entries by spans (index/stats, volume) counts each once.
  uint64_t total = 0;
  for (const auto& [labels, es] : streams) total += es.size();
  auto now = merged();
  auto set = now->Select({}, INT64_MIN, INT64_MAX, {});
  ASSERT_TRUE(set.ok());
  uint64_t counted = 0;
  for (size_t i = 0; i < (*set)->size(); ++i) {
    std::vector<Span> spans;
    ASSERT_TRUE((*set)->Spans(i, spans).ok());
    for (const Span& sp : spans) counted += sp.entries;
  }
  EXPECT_EQ(counted, total);
  EXPECT_EQ(ReadAll(*now, INT64_MIN, INT64_MAX), streams);
  now.reset();
  held.reset();
  auto third = (*db)->CutBlock(dir_.path() + "/staging", ship, false, INT64_MAX / 2);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->has_value());
  EXPECT_EQ((*db)->head().Stats().entries, 0u);
  EXPECT_EQ(ReadAll(*merged(), INT64_MIN, INT64_MAX), streams);
}

// A stream of many head chunks goes to a block whole and in time order, whether its chunks
// follow each other in time (written a chunk at a time) or late entries make them overlap
// (written at once); closed chunks are packed, so the head holds a fraction of the text.
TEST_F(LogBlockTest, DbCutWritesStreamsOfManyPackedChunks) {
  auto linux = RealStreams({"Linux_full.log"}).begin()->second;
  ASSERT_GT(linux.size(), 20000u);
  std::vector<Entry> late = linux;  // every 50th entry 2 s late, arriving after its successors
  for (size_t i = 0; i < late.size(); i += 50) late[i].ts_ns -= 2'000'000'000;
  std::map<Labels, std::vector<Entry>> streams = {{{{"order", "late"}}, late},
                                                  {{{"order", "time"}}, linux}};
  auto db = Db::Open(dir_.path() + "/db", {}, "t");
  ASSERT_TRUE(db.ok());
  uint64_t raw = 0;
  for (const auto& [labels, es] : streams) {
    auto lv = ViewOf(labels);
    for (size_t from = 0; from < es.size(); from += 1000) {
      std::vector<EntryInput> inputs;
      std::vector<std::vector<LabelView>> md;
      md.reserve(1000);
      for (size_t i = from; i < std::min(from + 1000, es.size()); ++i) {
        md.push_back(ViewOf(es[i].metadata));
        inputs.push_back({es[i].ts_ns, es[i].line, md.back()});
        raw += es[i].line.size();
      }
      StreamInput in{lv, HashLabels(lv), inputs};
      auto out = (*db)->Append({&in, 1}, {}, [](size_t, const EntryInput*, Rejection, int64_t) {
        ADD_FAILURE() << "refused";
      });
      ASSERT_TRUE(out.ok());
    }
  }
  EXPECT_LT((*db)->head().Stats().bytes, raw / 3);
  for (auto& [labels, es] : streams) {
    std::stable_sort(es.begin(), es.end(),
                     [](const Entry& a, const Entry& b) { return a.ts_ns < b.ts_ns; });
  }
  auto head = NewHeadQuerier((*db)->head());
  EXPECT_EQ(ReadAll(*head, INT64_MIN, INT64_MAX), streams);
  auto ship = [&](const std::string& dir, const BlockMeta& meta) {
    RETURN_IF_ERROR(blocks::UploadBlock(*bucket_, blocks::BlocksRoot("t", Signal::kLogs), meta.id,
                                        dir, block::BlockWriter::Files(), block::EncodeMeta(meta)));
    gateway_.AddBlock("t", meta);
    return Status::Ok();
  };
  head.reset();
  auto cut = (*db)->CutBlock(dir_.path() + "/staging", ship, true, 0);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_TRUE(cut->has_value());
  EXPECT_EQ((*db)->head().Stats().entries, 0u);
  EXPECT_EQ(ReadAll(*gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX), INT64_MIN, INT64_MAX),
            streams);
}

// Appends, queries and cuts at once: every acknowledged entry is seen by every query that
// starts after its acknowledgement, exactly once, whether it is in the head, a block or both.
TEST_F(LogBlockTest, CutsDuringAppendsAndQueriesNeverHideOrRepeatAnEntry) {
  auto db = Db::Open(dir_.path() + "/db", {}, "t");
  ASSERT_TRUE(db.ok());
  auto ship = [&](const std::string& dir, const BlockMeta& meta) {
    RETURN_IF_ERROR(blocks::UploadBlock(*bucket_, blocks::BlocksRoot("t", Signal::kLogs), meta.id,
                                        dir, block::BlockWriter::Files(), block::EncodeMeta(meta)));
    gateway_.AddBlock("t", meta);
    return Status::Ok();
  };
  auto query = [&] {
    std::vector<std::unique_ptr<Querier>> parts;
    parts.push_back(NewHeadQuerier((*db)->head(), (*db)->shipped_seal()));
    parts.push_back(gateway_.TenantQuerier("t", INT64_MIN, INT64_MAX));
    return NewMergeQuerier(std::move(parts));
  };
  constexpr int kWriters = 2, kPerWriter = 3000;
  std::atomic<int> acked[kWriters] = {};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      Labels labels{{"writer", std::to_string(w)}};
      auto lv = ViewOf(labels);
      for (int i = 0; i < kPerWriter; ++i) {
        std::string line = fmt::format("writer {} entry {}", w, i);
        EntryInput e{int64_t{1'000'000} * i, line, {}};
        StreamInput in{lv, HashLabels(lv), {&e, 1}};
        auto out = (*db)->Append({&in, 1}, {}, [](size_t, const EntryInput*, Rejection, int64_t) {
          ADD_FAILURE() << "refused";
        });
        ASSERT_TRUE(out.ok());
        ASSERT_TRUE((*db)->WaitDurable(out->lsn).ok());
        acked[w] = i + 1;
      }
    });
  }
  std::thread cutter([&] {
    while (!done) {
      auto cut = (*db)->CutBlock(dir_.path() + "/staging", ship, false, INT64_MAX / 2);
      EXPECT_TRUE(cut.ok()) << cut.status().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  int checks = 0;
  while (acked[0] < kPerWriter || acked[1] < kPerWriter) {
    int seen_before[kWriters];
    for (int w = 0; w < kWriters; ++w) seen_before[w] = acked[w];
    auto got = ReadAll(*query(), INT64_MIN, INT64_MAX);
    for (int w = 0; w < kWriters; ++w) {
      Labels labels{{"writer", std::to_string(w)}};
      const auto& es = got[labels];
      // Entries 0..seen_before-1 all there, each once, in order.
      ASSERT_GE(es.size(), static_cast<size_t>(seen_before[w]));
      for (int i = 0; i < seen_before[w]; ++i) {
        ASSERT_EQ(es[i].line, fmt::format("writer {} entry {}", w, i));
      }
    }
    ++checks;
  }
  done = true;
  for (auto& t : threads) t.join();
  cutter.join();
  EXPECT_GT(checks, 0);
  EXPECT_GT(gateway_.Blocks("t").size(), 1u);
  auto got = ReadAll(*query(), INT64_MIN, INT64_MAX);
  for (int w = 0; w < kWriters; ++w) {
    Labels labels{{"writer", std::to_string(w)}};
    EXPECT_EQ(got[labels].size(), static_cast<size_t>(kPerWriter));
  }
}

}  // namespace
}  // namespace strata::logs
