#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/encoding.h"
#include "base/units.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "proto/otlp.h"
#include "proto/otlp_traces.h"
#include "testing/counting_bucket.h"
#include "testing/temp_dir.h"
#include "traces/block/writer.h"
#include "traces/db.h"
#include "traces/gateway.h"
#include "traces/queryable.h"
#include "traces/storage.h"
#include "traces/wal_record.h"

namespace strata::traces {
namespace {

// An OTLP/JSON request with `n` spans of trace `trace_hex`, span IDs from `first_span`.
std::string Request(std::string_view trace_hex, int first_span, int n) {
  std::string spans;
  for (int i = 0; i < n; ++i) {
    if (i > 0) spans += ",";
    spans += fmt::format(
        R"({{"traceId":"{}","spanId":"{:016x}","name":"op {}","startTimeUnixNano":"{}",)"
        R"("endTimeUnixNano":"{}"}})",
        trace_hex, first_span + i, i, 1000 + i, 2000 + i);
  }
  std::string json =
      fmt::format(R"({{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name",)"
                  R"("value":{{"stringValue":"svc"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}})",
                  spans);
  auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, json);
  EXPECT_TRUE(pb.ok()) << pb.status().ToString();
  return pb.ok() ? *pb : std::string();
}

proto::SplitTraces Split(const std::string& request) {
  auto split = proto::SplitByTrace(request);
  EXPECT_TRUE(split.ok()) << split.status().ToString();
  return split.ok() ? std::move(*split) : proto::SplitTraces{};
}

std::string Id(std::string_view hex) {
  std::string out;
  EXPECT_TRUE(HexDecode(hex, &out));
  return out;
}

constexpr std::string_view kTraceA = "5b8efff798038103d269b633813fc60c";
constexpr std::string_view kTraceB = "00000000000000000000000000000001";

TEST(TraceDbTest, ReadsWhatWasAppendedAndReplays) {
  testing::TempDir dir("traces");
  const auto first = Split(Request(kTraceA, 1, 3));
  const auto again = Split(Request(kTraceA, 4, 2));
  const auto other = Split(Request(kTraceB, 1, 1));
  auto refuse = [](size_t, Rejection) { FAIL() << "nothing is over a limit"; };
  std::string expected;
  {
    auto db = Db::Open(dir.path(), {}, "t");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    for (const auto* split : {&first, &again, &other}) {
      auto out = (*db)->Append(FragmentsOf(*split), {}, refuse);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(out->spans, split->spans);
    }
    // The trace is its fragments, in the order they came, as TracesData field 1.
    std::string want;
    for (const auto* split : {&first, &again}) {
      std::string_view rs = split->fragments[0].resource_spans;
      want.push_back('\x0a');
      PutUvarint(want, rs.size());
      want.append(rs);
    }
    FoundTrace found;
    ASSERT_TRUE((*db)->head().Read(Id(kTraceA), &found));
    expected = found.traces_data;
    EXPECT_EQ(expected, want);
    EXPECT_EQ(found.spans, 5u);
    EXPECT_EQ(found.bytes_read,
              first.fragments[0].resource_spans.size() + again.fragments[0].resource_spans.size());
    EXPECT_EQ((*db)->head().num_traces(), 2u);
    EXPECT_EQ((*db)->head().num_spans(), 6u);
    EXPECT_FALSE((*db)->head().Read(Id("0000000000000000000000000000000f"), &found));
    ASSERT_TRUE((*db)->Close().ok());
  }
  auto db = Db::Open(dir.path(), {}, "t");
  ASSERT_TRUE(db.ok());
  FoundTrace replayed;
  ASSERT_TRUE((*db)->head().Read(Id(kTraceA), &replayed));
  EXPECT_EQ(replayed.traces_data, expected);
  EXPECT_EQ((*db)->head().num_traces(), 2u);
  EXPECT_EQ((*db)->head().num_spans(), 6u);
}

TEST(TraceDbTest, RefusesWhatWouldMakeATraceTooLarge) {
  testing::TempDir dir("traces");
  auto db = Db::Open(dir.path(), {}, "t");
  ASSERT_TRUE(db.ok());
  const auto small = Split(Request(kTraceA, 1, 1));
  const auto big = Split(Request(kTraceA, 2, 20));
  const uint64_t limit = small.fragments[0].resource_spans.size() + 100;
  ASSERT_GT(small.fragments[0].resource_spans.size() + big.fragments[0].resource_spans.size(),
            limit);
  std::vector<std::pair<size_t, Rejection>> refused;
  auto reject = [&](size_t i, Rejection r) { refused.emplace_back(i, r); };
  ASSERT_TRUE((*db)->Append(FragmentsOf(small), {.max_bytes_per_trace = limit}, reject).ok());
  auto out = (*db)->Append(FragmentsOf(big), {.max_bytes_per_trace = limit}, reject);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->spans, 0u);
  EXPECT_TRUE(out->stored.empty());
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].second, Rejection::kTraceTooLarge);
  EXPECT_EQ((*db)->head().num_spans(), 1u);
  // Another trace is not affected.
  const auto other = Split(Request(kTraceB, 1, 1));
  out = (*db)->Append(FragmentsOf(other), {.max_bytes_per_trace = limit}, reject);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->spans, 1u);
  EXPECT_EQ(out->stored, std::vector<uint32_t>{0});
  EXPECT_EQ(refused.size(), 1u);
  // The same fragment again (a retry) is known: not stored, not refused.
  out = (*db)->Append(FragmentsOf(other), {.max_bytes_per_trace = limit}, reject);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->duplicates, 1u);
  EXPECT_TRUE(out->stored.empty());
  EXPECT_EQ(refused.size(), 1u);
}

TEST(TraceDbTest, StorageKeepsTenantsApart) {
  testing::TempDir dir("traces");
  auto storage = Storage::Open({.dir = dir.path()});
  ASSERT_TRUE(storage.ok());
  auto a = (*storage)->GetOrCreate("a");
  ASSERT_TRUE(a.ok());
  const auto split = Split(Request(kTraceA, 1, 2));
  ASSERT_TRUE((*a)->Append(FragmentsOf(split), {}, [](size_t, Rejection) {}).ok());
  EXPECT_EQ((*storage)->Find("b"), nullptr);
  EXPECT_FALSE((*storage)->GetOrCreate("../x").ok());
  // A second process may not open the same directory.
  EXPECT_FALSE(Storage::Open({.dir = dir.path()}).ok());
}

// Spans of the trace in a serialized TracesData, by span ID (hex).
std::set<std::string> SpanIds(std::string_view traces_data) {
  auto split = proto::SplitByTrace(traces_data);  // TracesData and the request share field 1
  EXPECT_TRUE(split.ok());
  std::set<std::string> out;
  for (const auto& f : split->fragments) {
    std::string td;
    td.push_back('\x0a');
    PutUvarint(td, f.resource_spans.size());
    td += f.resource_spans;
    auto j = proto::TraceJson(td, {.hex_ids = true});
    EXPECT_TRUE(j.ok());
    for (size_t at = j->find("\"spanId\":\""); at != std::string::npos;
         at = j->find("\"spanId\":\"", at + 1)) {
      out.insert(j->substr(at + 10, 16));
    }
  }
  return out;
}

TEST(TraceCutTest, BlocksTakeIdleTracesAndTheWalKeepsTheRest) {
  testing::TempDir dir("traces");
  auto bucket = std::make_shared<testing::CountingBucket>();
  cache::PageCache cache(16u << 20, nullptr, nullptr);
  Gateway gateway(cache, {}, [&](const std::string&) { return bucket; });
  StorageOptions opts{.dir = dir.path() + "/traces"};
  opts.db.idle_ms = 1000;
  opts.db.cut_age_ms = 1;
  auto storage = Storage::Open(opts);
  ASSERT_TRUE(storage.ok());
  auto db = (*storage)->GetOrCreate("t");
  ASSERT_TRUE(db.ok());
  auto none = [](size_t, Rejection) { FAIL(); };
  auto ship = [&](const std::string& d, const block::BlockMeta& meta) {
    RETURN_IF_ERROR(blocks::UploadBlock(*bucket, blocks::BlocksRoot("t", Signal::kTraces), meta.id,
                                        d, block::BlockWriter::Files(), block::EncodeMeta(meta)));
    return gateway.AddBlock("t", meta);
  };
  const auto a = Split(Request(kTraceA, 1, 3));
  const auto b = Split(Request(kTraceB, 1, 2));
  ASSERT_TRUE((*db)->Append(FragmentsOf(a), {}, none).ok());
  ASSERT_TRUE((*db)->Append(FragmentsOf(b), {}, none).ok());
  const int64_t now = NowMillis();
  // Nothing is idle yet.
  auto cut = (*db)->CutBlock(dir.path() + "/staging", ship, false, now);
  ASSERT_TRUE(cut.ok());
  EXPECT_FALSE(cut->has_value());
  // Both traces are idle a second later: one block holds them, the head lets them go.
  cut = (*db)->CutBlock(dir.path() + "/staging", ship, false, now + 1500);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_TRUE(cut->has_value());
  EXPECT_EQ((*cut)->num_traces, 2u);
  EXPECT_EQ((*cut)->num_spans, 5u);
  EXPECT_EQ((*db)->head().num_traces(), 0u);
  // A late span of trace A comes to the head; the lookup joins it to the block's.
  const auto late = Split(Request(kTraceA, 10, 1));
  ASSERT_TRUE((*db)->Append(FragmentsOf(late), {}, none).ok());
  StorageQueryable q;
  q.SetStorage(storage->get());
  q.SetGateway(&gateway);
  auto found = q.TraceById("t", Id(kTraceA));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->spans, 4u);
  EXPECT_EQ(SpanIds((*found)->traces_data),
            (std::set<std::string>{"0000000000000001", "0000000000000002", "0000000000000003",
                                   "000000000000000a"}));
  found = q.TraceById("t", Id(kTraceB));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->spans, 2u);
  // A block found anew reads its index once; a lookup then reads one page.
  cache::PageCache cold(16u << 20, nullptr, nullptr);
  Gateway cold_gateway(cold, {}, [&](const std::string&) { return bucket; });
  ASSERT_TRUE(cold_gateway.Sync("t").ok());
  ASSERT_EQ(cold_gateway.Blocks("t").size(), 1u);
  bucket->gets = 0;
  std::vector<std::string> parts;
  ASSERT_TRUE(cold_gateway.FindTrace("t", Id(kTraceB), parts, nullptr).ok());
  EXPECT_EQ(parts.size(), 1u);
  EXPECT_EQ(bucket->gets.load(), 1);
  // After a restart the WAL (a checkpoint now) holds only the late span.
  q.SetStorage(nullptr);
  ASSERT_TRUE((*storage)->Close().ok());
  storage->reset();
  storage = Storage::Open(opts);
  ASSERT_TRUE(storage.ok());
  Db* reopened = (*storage)->Find("t");
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->head().num_traces(), 1u);
  EXPECT_EQ(reopened->head().num_spans(), 1u);
}

TEST(TraceWalRecordTest, RefusesEveryTruncation) {
  const auto split = Split(Request(kTraceA, 1, 2));
  std::string payload;
  EncodeFragment(payload, FragmentsOf(split)[0]);
  std::vector<Fragment> out;
  ASSERT_TRUE(DecodeFragments(payload, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].resource_spans, split.fragments[0].resource_spans);
  EXPECT_EQ(out[0].spans, 2u);
  for (size_t cut = 1; cut < payload.size(); ++cut) {
    std::vector<Fragment> partial;
    EXPECT_FALSE(DecodeFragments(payload.substr(0, cut), partial).ok()) << cut;
  }
}

}  // namespace
}  // namespace strata::traces
