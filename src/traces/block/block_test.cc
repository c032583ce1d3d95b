#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/file.h"
#include "blocks/bloom.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "proto/wire.h"
#include "testing/counting_bucket.h"
#include "testing/synthetic_traces.h"
#include "testing/temp_dir.h"
#include "traces/block/columns.h"
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

// Index version 1 (blocks written before 2026-12-05) held a blocked bloom filter where version 2
// holds fingerprints: such an index, laid out here byte by byte as docs/format/trace-block.md
// gives it, still reads and filters.
TEST_F(TraceBlockTest, ReadsVersionOneIndexes) {
  const std::string held(16, '\x03'), absent(16, '\x04');
  std::string bloom(2 * blocks::kBloomBlockBytes, '\0');
  const uint64_t feature = XXH3_64bits_withSeed(held.data(), held.size(), 4);
  blocks::BloomAdd({reinterpret_cast<uint8_t*>(bloom.data()), bloom.size()}, {&feature, 1});
  std::string v1 = "STBI";
  v1.push_back(1);  // version
  v1.push_back(1);  // pages
  v1 += std::string(16, '\x01') + std::string(16, '\x05');
  v1 += std::string{0, 100, 0x7f, 1};  // offset 0, length 100, raw 127, 1 trace
  v1.push_back(2);                     // bloom blocks
  v1 += bloom;
  PutFixed32(v1, Crc32c(v1));
  auto decoded = DecodeIndex(v1);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->pages.size(), 1u);
  EXPECT_EQ(decoded->pages[0].length, 100u);
  EXPECT_EQ(decoded->bloom, bloom);
  EXPECT_TRUE(decoded->MayHold(held));
  EXPECT_FALSE(decoded->MayHold(absent));
  v1[4] = 3;  // no such version
  EXPECT_EQ(DecodeIndex(v1).status().code(), Status::Code::kCorruption);
}

// Fingerprints rule out every ID a block does not hold but the few whose fingerprint one of its
// traces shares.
TEST_F(TraceBlockTest, FingerprintsRuleOutAbsentTraces) {
  std::mt19937_64 rng(3);
  auto random_id = [&] {
    std::string id(16, '\0');
    for (auto& c : id) c = static_cast<char>(rng());
    return id;
  };
  std::vector<std::string> ids(20'000);
  for (auto& id : ids) id = random_id();
  std::sort(ids.begin(), ids.end());
  auto w = BlockWriter::Create(dir_.path() + "/f", {});
  ASSERT_TRUE(w.ok());
  for (const auto& id : ids) ASSERT_TRUE((*w)->Add(id, "x", 1, 0, 0).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  auto index = ReadFile(dir_.path() + "/f/" + kIndexFile);
  ASSERT_TRUE(index.ok());
  auto decoded = DecodeIndex(*index);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->fingerprints.size(), ids.size());
  EXPECT_TRUE(std::is_sorted(decoded->fingerprints.begin(), decoded->fingerprints.end()));
  for (const auto& id : ids) EXPECT_TRUE(decoded->MayHold(id));
  // 200,000 absent IDs against 20,000 fingerprints: about 0.93 expected to pass.
  int passed = 0;
  for (int i = 0; i < 200'000; ++i) passed += decoded->MayHold(random_id()) ? 1 : 0;
  EXPECT_LE(passed, 8);
}

TEST_F(TraceBlockTest, DamagedIndexesAndMetasAreCorruption) {
  BlockIndex index;
  index.pages.push_back({std::string(16, '\x01'), std::string(16, '\x05'), 0, 100, 400, 3});
  index.pages.push_back({std::string(16, '\x06'), std::string(16, '\x09'), 100, 50, 200, 2});
  index.fingerprints = {7, 7, 300, 70'000, UINT32_MAX};
  const std::string encoded = EncodeIndex(index);
  auto decoded = DecodeIndex(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, index);
  // One fingerprint a trace: the pages' 5 traces.
  index.fingerprints.pop_back();
  EXPECT_EQ(DecodeIndex(EncodeIndex(index)).status().code(), Status::Code::kCorruption);
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

TEST_F(TraceBlockTest, ReadsVersionOneBlocks) {
  const auto traces = Traces(500);
  auto reader = Write(traces, {.page_bytes = 8u << 10, .format_version = 1});
  EXPECT_EQ(reader->meta().version, 1);
  for (const auto& [id, data] : traces) {
    auto got = reader->FindTrace(id, nullptr);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, data);
  }
}

// Version 2 blocks of realistic traces: every trace comes back byte for byte, and the block is
// smaller than version 1's of the same traces, within 40 bytes a span.
TEST_F(TraceBlockTest, ColumnarBlocksGiveBackEveryTrace) {
  testing::SyntheticTraces gen(3);
  std::map<std::string, std::string> traces;
  uint64_t spans = 0;
  for (int i = 0; i < 1000; ++i) {
    auto t = gen.Next(1'700'000'000'000'000'000 + int64_t{i} * 2'000'000);
    traces[t.id] = std::move(t.traces_data);
    spans += t.spans;
  }
  uint64_t v1_bytes = 0;
  {
    auto v1 = Write(traces, {.format_version = 1});
    v1_bytes = v1->meta().data_bytes;
  }
  auto reader = Write(traces);
  const BlockMeta& meta = reader->meta();
  EXPECT_EQ(meta.version, 2);
  EXPECT_LT(meta.data_bytes, v1_bytes);
  // The bound at rest: 40 bytes a span.
  EXPECT_LE(meta.data_bytes + meta.index_bytes, 40 * spans) << spans;
  // A lookup decodes its trace's whole page: every 40th trace (the scan below reads them all).
  int i = 0;
  for (const auto& [id, data] : traces) {
    if (i++ % 40 != 0) continue;
    auto got = reader->FindTrace(id, nullptr);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_TRUE(got->has_value());
    ASSERT_EQ(**got, data);
  }
  size_t seen = 0;
  ASSERT_TRUE(reader
                  ->ForEachTrace(
                      [&](std::string_view id, std::string_view data) {
                        EXPECT_EQ(traces.at(std::string(id)), data);
                        ++seen;
                        return Status::Ok();
                      },
                      nullptr)
                  .ok());
  EXPECT_EQ(seen, traces.size());
}

// Builders of OTLP messages for the columnar page tests.
using proto::PutBytesField;
using proto::PutVarintField;

std::string Msg(std::initializer_list<std::string> fields) {
  std::string out;
  for (const auto& f : fields) out += f;
  return out;
}
std::string Bytes(uint32_t field, std::string_view v) {
  std::string out;
  PutBytesField(out, field, v);
  return out;
}
std::string Varint(uint32_t field, uint64_t v) {
  std::string out;
  PutVarintField(out, field, v);
  return out;
}
std::string Fixed(uint32_t field, uint64_t v, bool wide = true) {
  std::string out;
  if (wide) {
    proto::PutFixed64Field(out, field, v);
  } else {
    proto::PutFixed32Field(out, field, static_cast<uint32_t>(v));
  }
  return out;
}
std::string Attr(uint32_t field, std::string_view key, const std::string& any) {
  return Bytes(field, Msg({Bytes(1, key), Bytes(2, any)}));
}
std::string Trace(const std::vector<std::string>& spans, const std::string& resource = "",
                  const std::string& scope = "") {
  std::string ss = scope.empty() ? "" : Bytes(1, scope);
  for (const auto& s : spans) ss += Bytes(2, s);
  return Bytes(1, Msg({resource.empty() ? "" : Bytes(1, resource), Bytes(2, ss)}));
}

struct PageCase {
  std::string id, data;
};

std::string Entries(const std::vector<PageCase>& cases) {
  std::string out;
  for (const auto& c : cases) {
    out += c.id;
    PutLengthPrefixed(out, c.data);
  }
  return out;
}

std::string Encode(std::string_view entries) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  auto page = EncodeColumnarPage(entries, cctx, 3);
  ZSTD_freeCCtx(cctx);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? *page : std::string();
}

uint64_t RawColumnBytes(std::string_view page) {
  auto sizes = ColumnSizes(page);
  EXPECT_TRUE(sizes.ok()) << sizes.status().ToString();
  return sizes.ok() ? (*sizes)[static_cast<size_t>(Column::kRaw)].raw : 0;
}

// Every OTLP span field, in every form its encoders write, goes to columns and comes back as
// it was.
TEST(ColumnarPageTest, KeepsEverySpanFieldInColumns) {
  const std::string id(16, '\x11'), other(16, '\x22');
  const std::string a(8, '\x01'), b(8, '\x02'), c(8, '\x03'), outside(8, '\x09');
  const std::string kvlist = Bytes(6, Attr(1, "k", Bytes(1, "v")));
  const std::string attrs =
      Attr(9, "s", Bytes(1, "text")) + Attr(9, "empty", Bytes(1, "")) + Attr(9, "t", Varint(2, 1)) +
      Attr(9, "f", Varint(2, 0)) + Attr(9, "neg", Varint(3, static_cast<uint64_t>(-42))) +
      Attr(9, "d", Fixed(4, 0x400921fb54442d18)) +
      Attr(9, "arr", Bytes(5, Bytes(1, Bytes(1, "x")))) + Attr(9, "map", kvlist) +
      Attr(9, "raw", Bytes(7, "\x00\xff")) + Attr(9, "nothing", "") + Bytes(9, Bytes(1, "novalue"));
  const std::string event = Msg({Fixed(1, 1'000'000'050), Bytes(2, "exception"),
                                 Attr(3, "exception.type", Bytes(1, "Error")), Varint(4, 2)});
  const std::string links =
      Bytes(13, Msg({Bytes(1, id), Bytes(2, b), Bytes(3, "k=v"), Attr(4, "l", Varint(3, 7)),
                     Varint(5, 1), Fixed(6, 0x301, false)})) +
      Bytes(13, Msg({Bytes(1, other), Bytes(2, outside)})) + Bytes(13, "");
  const std::vector<std::string> spans = {
      // A root with everything; its child comes after it, a grandchild before.
      Msg({Bytes(1, id), Bytes(2, a), Bytes(3, "vendor=1"), Bytes(5, "GET /"), Varint(6, 2),
           Fixed(7, 1'000'000'000), Fixed(8, 1'000'000'900), attrs, Varint(10, 3), Bytes(11, event),
           Bytes(11, ""), Varint(12, 1), links, Varint(14, 4),
           Bytes(15, Msg({Bytes(2, "boom"), Varint(3, 2)})), Fixed(16, 0x101, false)}),
      Msg({Bytes(1, id), Bytes(2, c), Bytes(4, b), Bytes(5, "db"), Fixed(7, 999'000'000),
           Fixed(8, 1'000'000'100), Bytes(15, "")}),
      Msg({Bytes(1, id), Bytes(2, b), Bytes(4, a), Varint(6, 3), Fixed(7, 1'000'000'010),
           Fixed(8, 1'000'000'020), Bytes(15, Varint(3, 1))}),
      // Parent outside the trace; no times, no name.
      Msg({Bytes(1, id), Bytes(2, outside), Bytes(4, std::string(8, '\x42'))}),
  };
  const std::string resource = Attr(1, "service.name", Bytes(1, "api"));
  std::vector<PageCase> cases = {
      {id, Trace(spans, resource, Msg({Bytes(1, "lib"), Bytes(2, "1.0")}))},
      // Two resources (one empty), two scopes, schema URLs.
      {other, Bytes(1, Msg({Bytes(1, ""),
                            Bytes(2, Msg({Bytes(2, Msg({Bytes(1, other), Bytes(2, a)})),
                                          Bytes(3, "https://s/1")})),
                            Bytes(2, ""), Bytes(3, "https://s/2")})) +
                  Bytes(1, "")},
      {std::string(16, '\x33'), ""},
  };
  const std::string entries = Entries(cases);
  const std::string page = Encode(entries);
  EXPECT_EQ(RawColumnBytes(page), 0u);
  auto back = DecodeColumnarPage(page, entries.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, entries);
}

// What the columns cannot give back byte for byte is kept whole: a span or a whole trace.
TEST(ColumnarPageTest, KeepsWhatColumnsCannotHoldWhole) {
  const std::string id(16, '\x11'), a(8, '\x01');
  const std::string good = Msg({Bytes(1, id), Bytes(2, a), Bytes(5, "ok")});
  const std::vector<std::string> odd_spans = {
      Msg({Bytes(1, id), Bytes(2, a), Bytes(5, "x"), Varint(17, 1)}),    // unknown field
      Msg({Bytes(2, a), Bytes(1, id)}),                                  // out of order
      Msg({Bytes(2, a)}),                                                // no trace ID
      Msg({Bytes(1, std::string(16, '\x12')), Bytes(2, a)}),             // another trace's
      Msg({Bytes(1, id), Bytes(2, "abcd")}),                             // a short span ID
      Msg({Bytes(1, id), Bytes(2, a), Varint(6, 0)}),                    // a default written
      Msg({Bytes(1, id), Bytes(2, a), Varint(6, 1), Varint(6, 2)}),      // a field twice
      Msg({Bytes(1, id), Bytes(2, a), std::string("\x30\x82\x00", 3)}),  // an overlong varint
      Msg({Bytes(1, id), Bytes(2, a), Bytes(5, "")}),                    // an empty name written
      Msg({Bytes(1, id), Bytes(2, a), Bytes(9, Msg({Bytes(2, Bytes(1, "v")), Bytes(1, "k")}))}),
      Msg({Bytes(1, id), Bytes(2, a), Bytes(15, Varint(1, 2))}),  // deprecated code
      std::string("\xff\xff"),                                    // not protobuf
  };
  std::vector<PageCase> cases;
  for (size_t i = 0; i < odd_spans.size(); ++i) {
    std::string tid = id;
    tid[15] = static_cast<char>(i);
    cases.push_back({tid, Trace({good, odd_spans[i], good})});
  }
  cases.push_back({std::string(16, '\x40'), "not protobuf at all"});
  cases.push_back({std::string(16, '\x41'), Trace({good}) + Varint(2, 5)});  // unknown field
  cases.push_back({std::string(16, '\x42'), Bytes(1, Msg({Bytes(2, ""), Bytes(1, "")}))});
  const std::string entries = Entries(cases);
  const std::string page = Encode(entries);
  EXPECT_GT(RawColumnBytes(page), 0u);
  auto back = DecodeColumnarPage(page, entries.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, entries);
}

// A page whose columns would outgrow its entries (here: empty events, 2 bytes of protobuf and
// a dozen in columns) keeps its traces whole.
TEST(ColumnarPageTest, OddTracesLargerAsColumnsAreKeptWhole) {
  const std::string id(16, '\x11');
  std::string span =
      Msg({Bytes(1, id), Bytes(2, std::string(8, '\x01')), Fixed(7, 1'700'000'000'000'000'000)});
  for (int i = 0; i < 20000; ++i) span += Bytes(11, "");
  const std::string entries = Entries({{id, Trace({span})}});
  const std::string page = Encode(entries);
  EXPECT_GT(RawColumnBytes(page), entries.size() / 2);
  auto back = DecodeColumnarPage(page, entries.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, entries);
}

// Damaged pages decode to kCorruption or to bytes of the index's size, never a crash (the
// sanitizer builds check the reads).
TEST(ColumnarPageTest, DamageIsCorruption) {
  testing::SyntheticTraces gen(5);
  std::vector<PageCase> cases;
  for (int i = 0; i < 30; ++i) {
    auto t = gen.Next(1'700'000'000'000'000'000 + int64_t{i} * 1'000'000);
    cases.push_back({t.id, t.traces_data});
  }
  std::sort(cases.begin(), cases.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  const std::string entries = Entries(cases);
  const std::string page = Encode(entries);
  EXPECT_EQ(DecodeColumnarPage(page, entries.size() - 1).status().code(),
            Status::Code::kCorruption);
  EXPECT_EQ(DecodeColumnarPage(page, entries.size() + 1).status().code(),
            Status::Code::kCorruption);
  for (size_t cut = 0; cut < page.size(); cut += 7) {
    EXPECT_EQ(DecodeColumnarPage(page.substr(0, cut), entries.size()).status().code(),
              Status::Code::kCorruption);
  }
  std::mt19937_64 rng(9);
  for (int i = 0; i < 1000; ++i) {
    std::string damaged = page;
    for (int k = 0; k < 1 + i % 3; ++k)
      damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    auto got = DecodeColumnarPage(damaged, entries.size());
    if (got.ok()) {
      EXPECT_EQ(got->size(), entries.size());
    } else {
      EXPECT_EQ(got.status().code(), Status::Code::kCorruption) << got.status().ToString();
    }
  }
}

}  // namespace
}  // namespace strata::traces::block
