#include "traces/search_filter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "blocks/lifecycle.h"
#include "cache/page_cache.h"
#include "proto/otlp.h"
#include "testing/counting_bucket.h"
#include "testing/synthetic_traces.h"
#include "testing/temp_dir.h"
#include "traceql/metrics.h"
#include "traceql/parser.h"
#include "traces/block/writer.h"
#include "traces/gateway.h"
#include "traces/queryable.h"
#include "traces/storage.h"

namespace strata::traces {
namespace {

// One tenant's trace blocks in a bucket, read through a gateway, with an empty head.
class Store {
 public:
  Store()
      : dir_("search-filter"),
        gateway_(cache_, {}, [this](const std::string&) { return bucket_; }) {
    auto storage = Storage::Open({.dir = dir_.path() + "/traces"});
    EXPECT_TRUE(storage.ok());
    storage_ = std::move(*storage);
    queryable_.SetStorage(storage_.get());
    queryable_.SetGateway(&gateway_);
  }

  // Writes traces (id, TracesData, spans) as one block, in small pages.
  void AddBlock(std::vector<testing::SyntheticTrace> traces) {
    std::sort(traces.begin(), traces.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    const std::string dir = dir_.path() + "/block" + std::to_string(++blocks_);
    auto writer = block::BlockWriter::Create(dir, {.page_bytes = 64u << 10});
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (const auto& t : traces) {
      ASSERT_TRUE((*writer)->Add(t.id, t.traces_data, t.spans, t.start_ns, t.end_ns).ok());
    }
    auto meta = (*writer)->Finish();
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    ASSERT_TRUE(blocks::UploadBlock(*bucket_, blocks::BlocksRoot("t", Signal::kTraces), meta->id,
                                    dir, block::BlockWriter::Files(), block::EncodeMeta(*meta))
                    .ok());
    ASSERT_TRUE(gateway_.AddBlock("t", *meta).ok());
  }

  struct Answer {
    std::set<std::string> matched;  // the IDs of the traces the query matches
    uint64_t given = 0;             // traces the search gave to evaluate
    uint64_t spans = 0;             // spans of the matched traces
    int64_t earliest = std::numeric_limits<int64_t>::max();  // of the matched traces' starts
  };
  // The traces `query` matches, searched with or without its filter, which leaves out traces
  // starting before `floor`.
  Answer Search(const std::string& query, bool filtered,
                int64_t floor = std::numeric_limits<int64_t>::min()) {
    Answer out;
    auto root = traceql::Parse(query);
    EXPECT_TRUE(root.ok()) << query << ": " << root.status().ToString();
    if (!root.ok()) return out;
    EXPECT_TRUE(traceql::Validate(**root).ok()) << query;
    traceql::SearchEvaluator eval((*root)->pipeline);
    const traceql::Prefilter prefilter = traceql::PrefilterOf((*root)->pipeline);
    QueryFilter filter(prefilter, std::nullopt);
    filter.RaiseStartFloor(floor);
    out.given = ForEach(filtered ? &filter : nullptr, [&](const traceql::Trace& t) {
      if (eval.Eval(t).empty()) return;
      out.matched.insert(t.id);
      out.earliest = std::min(out.earliest, t.start_ns);
      out.spans += t.spans.size();
    });
    return out;
  }

  struct MetricsAnswer {
    std::vector<traceql::Series> series;
    uint64_t given = 0;  // traces the search gave to evaluate
  };
  // `query`'s series over the blocks: every trace evaluated, or (`counted`) with the spans the
  // columns decide counted by the filter.
  MetricsAnswer Metrics(const std::string& query, bool counted) {
    MetricsAnswer out;
    auto root = traceql::Parse(query);
    EXPECT_TRUE(root.ok() && (*root)->metrics) << query;
    if (!root.ok() || !(*root)->metrics) return out;
    const traceql::MetricsExpr& m = *(*root)->metrics;
    EXPECT_TRUE(traceql::Validate(**root).ok()) << query;
    const int64_t t0 = int64_t{1'700'000'000} * 1'000'000'000;
    traceql::MetricsEvaluator eval(
        m, traceql::Intervals::Range(t0 - 10'000'000'000, t0 + 120'000'000'000, 10'000'000'000),
        1000);
    const traceql::Prefilter prefilter = traceql::PrefilterOf(m);
    QueryFilter filter(prefilter, std::nullopt);
    if (counted) {
      EXPECT_TRUE(QueryFilter::CanCount(m, prefilter)) << query;
      filter.CountInto(m, eval);
    }
    out.given =
        ForEach(counted ? &filter : nullptr, [&](const traceql::Trace& t) { eval.Observe(t); });
    out.series = eval.Result();
    return out;
  }

 private:
  // Searches every trace of the blocks, with `filter` or without, and gives each one the search
  // gives `fn`, decoded; returns how many it gave.
  uint64_t ForEach(block::TraceFilter* filter,
                   const std::function<void(const traceql::Trace&)>& fn) {
    uint64_t given = 0;
    Status st = queryable_.Search(
        "t", 0, std::numeric_limits<int64_t>::max(), uint64_t{64} << 20,
        [&](const FoundTrace& found) {
          ++given;
          auto t = traceql::DecodeTrace(found.traces_data);
          EXPECT_TRUE(t.ok()) << t.status().ToString();
          if (t.ok()) fn(*t);
          return true;
        },
        nullptr, filter);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return given;
  }

  testing::TempDir dir_;
  std::shared_ptr<testing::CountingBucket> bucket_ = std::make_shared<testing::CountingBucket>();
  cache::PageCache cache_{64u << 20, nullptr, nullptr};
  Gateway gateway_;
  std::unique_ptr<Storage> storage_;
  StorageQueryable queryable_;
  int blocks_ = 0;
};

std::vector<testing::SyntheticTrace> Synthetic(uint64_t seed, int n) {
  testing::SyntheticTraces gen(seed);
  std::vector<testing::SyntheticTrace> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(gen.Next(int64_t{1'700'000'000} * 1'000'000'000 + i));
  return out;
}

// The filter never changes an answer, and where a query is made of conditions the columns
// decide, it gives exactly the traces that match: the expected sets come from evaluating every
// trace of the blocks in full.
TEST(QueryFilterTest, GivesEveryTraceAQueryMatches) {
  Store store;
  store.AddBlock(Synthetic(1, 150));
  store.AddBlock(Synthetic(2, 150));
  const std::vector<std::string> exact = {
      "{ status = error }",
      "{ resource.service.name = \"checkout\" }",
      "{ span.http.response.status_code >= 500 }",
      "{ .http.request.method = \"POST\" && kind = server }",
      "{ name =~ \".*Cart.*\" }",
      "{ name !~ \"oteldemo.*\" && kind = client }",
      "{ duration > 300ms }",
      "{ span.rpc.grpc.status_code != 0 }",
      "{ resource.service.name = \"payment\" || resource.service.name = \"email\" }",
      "{ span.app.user.id != nil }",
      "{ .messaging.system = \"kafka\" }",
      "{ status = error && resource.service.name = \"payment\" }",
      "{ kind = consumer }",
      "{ .service.name = \"quote\" && .rpc.method = \"GetQuote\" }",
      "{ statusMessage != \"\" }",
      "{ resource.telemetry.sdk.language = \"go\" && duration < 2ms }",
      "{ span.app.product.id = 5 }",
      "{ resource.service.name = \"frontend\" } && { resource.service.name = \"email\" }",
      "{ status = error } || { resource.service.name = \"ad\" }",
  };
  const std::vector<std::string> loose = {
      "{ resource.service.name = \"frontend\" } >> { status = error }",
      "{ kind = server } !> { kind = client }",
      "{ kind = server } &> { kind = client && duration > 100ms }",
      "{ status = error } | count() > 1",
      "{ } | by(resource.service.name) | count() > 5",
      "{ !(status = error) && kind = producer }",
      "{ span.http.response.status_code = 200 } | select(span.http.route)",
      "({ kind = server } && { status = error }) | count() > 2",
      "{ event.name = \"exception\" }",
      "{ span:id != \"\" && resource.service.name = \"cart\" }",
      "{ nestedSetParent = -1 && kind = server }",
      "{ duration > 100ms } | { resource.service.name = \"cart\" }",
  };
  uint64_t total = store.Search("{ }", false).given;
  ASSERT_EQ(total, 300u);
  for (const std::vector<std::string>* queries : {&exact, &loose}) {
    for (const std::string& q : *queries) {
      const Store::Answer all = store.Search(q, false), filtered = store.Search(q, true);
      EXPECT_EQ(filtered.matched, all.matched) << q;
      EXPECT_EQ(all.given, total) << q;
      if (queries == &exact) {
        EXPECT_EQ(filtered.given, filtered.matched.size()) << q;
      }
    }
  }
  // The filter rules out most traces for a selective query.
  const Store::Answer errors = store.Search("{ status = error }", true);
  EXPECT_GT(errors.matched.size(), 0u);
  EXPECT_LT(errors.given, total / 5);
}

// Metrics counted from the columns are the metrics counted from rebuilt traces: the same
// series, to the last bit.
TEST(QueryFilterTest, CountsMetricsFromTheColumns) {
  Store store;
  std::vector<testing::SyntheticTrace> first = Synthetic(1, 250);
  // An unknown field keeps this trace whole, outside the columns: it is rebuilt and counted
  // as the others are.
  first[0].traces_data += std::string("\xf8\x06\x01", 3);
  store.AddBlock(first);
  store.AddBlock(Synthetic(2, 250));
  for (
      const std::string q : {
          R"({ status = error } | rate() by (resource.service.name))",
          R"({ } | count_over_time() by (span.http.route))",
          R"({ kind = server } | quantile_over_time(duration, .5, .99) by (name))",
          R"({ resource.service.name = "cart" } | avg_over_time(duration))",
          R"({ span.http.response.status_code >= 200 } | max_over_time(span.http.response.status_code) by (.service.name))",
          R"({ } | histogram_over_time(duration) by (kind))",
          R"({ .app.order.id != nil } | sum_over_time(duration) by (status, resource.service.name))",
          R"({ name =~ ".*Get.*" || statusMessage != "" } | min_over_time(duration) by (span.rpc.method))",
      }) {
    const Store::MetricsAnswer all = store.Metrics(q, false), counted = store.Metrics(q, true);
    EXPECT_EQ(all.given, 500u) << q;
    EXPECT_EQ(counted.given, 1u) << q;  // only the trace kept whole
    ASSERT_EQ(counted.series.size(), all.series.size()) << q;
    EXPECT_FALSE(all.series.empty()) << q;
    for (size_t i = 0; i < all.series.size(); ++i) {
      EXPECT_EQ(counted.series[i].labels, all.series[i].labels) << q;
      const auto& a = all.series[i].values;
      const auto& c = counted.series[i].values;
      ASSERT_EQ(c.size(), a.size()) << q;
      for (size_t j = 0; j < a.size(); ++j) {
        EXPECT_TRUE((std::isnan(a[j]) && std::isnan(c[j])) || a[j] == c[j]) << q;
      }
    }
  }
  // Queries the columns cannot count alone are not counted from them.
  for (const std::string q : {
           R"({ status = error } >> { } | rate())",
           R"({ } | compare({ status = error }))",
           R"({ event.name = "exception" } | rate())",
           R"({ } | rate() by (rootServiceName))",
       }) {
    auto root = traceql::Parse(q);
    ASSERT_TRUE(root.ok() && (*root)->metrics) << q;
    EXPECT_FALSE(QueryFilter::CanCount(*(*root)->metrics, traceql::PrefilterOf(*(*root)->metrics)))
        << q;
  }
}

// A search answering its newest matches leaves older traces out before rebuilding them.
TEST(QueryFilterTest, LeavesOutTracesBeforeTheStartFloor) {
  Store store;
  store.AddBlock(Synthetic(5, 300));
  const Store::Answer all = store.Search("{ }", true);
  ASSERT_EQ(all.given, 300u);
  const int64_t floor = all.earliest + 200;  // Synthetic's traces start 1 ns apart
  const Store::Answer newer = store.Search("{ }", true, floor);
  EXPECT_EQ(newer.given, 100u);
  EXPECT_EQ(newer.earliest, floor);
}

// A trace of one span per name (span IDs from `first_span`), as an OTLP exporter sends it.
testing::SyntheticTrace Trace(std::string_view id_hex, int first_span,
                              const std::vector<std::string>& names) {
  std::string spans;
  for (size_t i = 0; i < names.size(); ++i) {
    spans += fmt::format(
        R"({}{{"traceId":"{}","spanId":"{:016x}","name":"{}","startTimeUnixNano":"{}",)"
        R"("endTimeUnixNano":"{}"}})",
        i > 0 ? "," : "", id_hex, first_span + static_cast<int>(i), names[i], 1000 + i, 2000 + i);
  }
  auto pb = proto::OtlpJsonToProtobuf(
      proto::OtlpSignal::kTraces,
      fmt::format(R"({{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}})", spans));
  EXPECT_TRUE(pb.ok()) << pb.status().ToString();
  testing::SyntheticTrace t;
  EXPECT_TRUE(HexDecode(id_hex, &t.id));
  t.traces_data = pb.ok() ? *pb : std::string();
  t.spans = names.size();
  t.start_ns = 1000;
  t.end_ns = 2000 + static_cast<int64_t>(names.size());
  return t;
}

// A trace stored in two blocks is judged whole: its parts are joined before the query sees
// them, even when neither part alone would match.
TEST(QueryFilterTest, JudgesTracesSplitAcrossBlocksWhole) {
  Store store;
  constexpr std::string_view kSplit = "5b8efff798038103d269b633813fc60c";
  store.AddBlock({Trace(kSplit, 1, {"op 0", "op 1", "op 2"}),
                  Trace("00000000000000000000000000000001", 1, {"op 1"})});
  store.AddBlock(
      {Trace(kSplit, 10, {"late"}), Trace("00000000000000000000000000000002", 1, {"late"})});
  const std::string q = R"({ name = "late" } && { name = "op 1" })";
  const Store::Answer found = store.Search(q, true);
  std::string id;
  ASSERT_TRUE(HexDecode(kSplit, &id));
  EXPECT_EQ(found.matched, std::set<std::string>{id});
  EXPECT_EQ(found.spans, 4u);
  EXPECT_EQ(found.matched, store.Search(q, false).matched);
  // Traces stored whole are still ruled out: only the split one is given besides.
  EXPECT_EQ(found.given, 1u);
}

}  // namespace
}  // namespace strata::traces
