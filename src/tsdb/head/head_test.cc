#include "tsdb/head/head.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

namespace strata::tsdb {
namespace {

std::vector<Sample> SamplesOf(const Head& h, const MemSeries& s, int64_t mint = INT64_MIN,
                              int64_t maxt = INT64_MAX) {
  std::vector<Sample> out;
  h.WithSeriesLocked(s, [&](const MemSeries& ms) {
    ms.ForEachSample(mint, maxt, [&](int64_t t, double v) { out.push_back({t, v}); });
  });
  return out;
}

MemSeries* Create(Head& h, std::vector<LabelView> labels) {
  bool created;
  return h.GetOrCreate(HashLabels(labels), labels, &created);
}

TEST(Head, CreatesFindsAndInternsSeries) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "up"}, {"job", "node"}};
  std::vector<LabelView> b = {{"__name__", "up"}, {"job", "prom"}};
  bool created;
  MemSeries* sa = h.GetOrCreate(HashLabels(a), a, &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(h.GetOrCreate(HashLabels(a), a, &created), sa);
  EXPECT_FALSE(created);
  MemSeries* sb = Create(h, b);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(h.Find(HashLabels(b), b), sb);
  EXPECT_EQ(h.num_series(), 2u);
  EXPECT_EQ(h.SeriesForMetric("up"), 2u);
  EXPECT_EQ(h.ByRef(sa->ref()), sa);
  // "__name__", "up", "job", "node", "prom": shared strings are stored once.
  EXPECT_EQ(h.Stats().symbols, 5u);
  EXPECT_EQ(sa->labels()[0].name, sb->labels()[0].name);
}

TEST(Head, ReusedRefIsRefused) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "a"}};
  std::vector<LabelView> b = {{"__name__", "b"}};
  bool created;
  ASSERT_NE(h.GetOrCreate(HashLabels(a), a, &created, 7), nullptr);
  EXPECT_EQ(h.GetOrCreate(HashLabels(b), b, &created, 7), nullptr);
  EXPECT_EQ(h.GetOrCreate(HashLabels(a), a, &created, 7)->ref(), 7u);  // same labels: found
  // Refs thin out as series leave: a far one costs a page of slots, not a table up to it.
  EXPECT_EQ(h.GetOrCreate(HashLabels(b), b, &created, 4'000'000'000u)->ref(), 4'000'000'000u);
  EXPECT_LT(h.Stats().index_bytes, 1u << 20);
  std::vector<LabelView> c = {{"__name__", "c"}};
  EXPECT_EQ(h.GetOrCreate(HashLabels(c), c, &created, UINT32_MAX), nullptr);
}

TEST(Head, HashCollisionsAreResolvedByLabels) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "a"}};
  std::vector<LabelView> b = {{"__name__", "b"}};
  bool created;
  // Force both label sets onto the same hash.
  MemSeries* sa = h.GetOrCreate(42, a, &created);
  MemSeries* sb = h.GetOrCreate(42, b, &created);
  EXPECT_TRUE(created);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(h.Find(42, a), sa);
  EXPECT_EQ(h.Find(42, b), sb);
  EXPECT_EQ(h.Find(42, std::vector<LabelView>{{"__name__", "c"}}), nullptr);
}

TEST(Head, FindManyAnswersAsFindDoes) {
  Head h;
  struct In {
    uint64_t hash;
    std::vector<LabelView> labels;
  };
  // 600 series over every stripe, three of them sharing one hash, and label sets not stored.
  std::vector<std::string> names;
  names.reserve(600);
  for (int i = 0; i < 600; ++i) names.push_back("m" + std::to_string(i));
  std::vector<In> in;
  in.reserve(names.size());
  for (const auto& n : names) {
    std::vector<LabelView> l = {{"__name__", n}};
    in.push_back({HashLabels(l), l});
  }
  for (int i = 0; i < 3; ++i) in[static_cast<size_t>(i)].hash = 7;
  std::vector<MemSeries*> want(in.size(), nullptr);
  bool created;
  for (size_t i = 0; i < in.size(); i += 2)
    want[i] = h.GetOrCreate(in[i].hash, in[i].labels, &created);
  want[1] = h.GetOrCreate(7, in[1].labels, &created);  // the second of the colliding three
  ASSERT_EQ(h.Append(*want[2], 1000, 1.0, 0), AppendResult::kAppended);
  want[4]->set_labels_checked();
  std::vector<Head::Found> got;
  h.FindMany(std::span<const In>(in), got);
  ASSERT_EQ(got.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(got[i].series, want[i]) << "input " << i;
    EXPECT_EQ(got[i].series, h.Find(in[i].hash, in[i].labels)) << "input " << i;
    // Only the series with a sample has an open chunk to append to.
    EXPECT_EQ(got[i].at.end != nullptr, i == 2) << "input " << i;
    EXPECT_EQ(got[i].labels_checked, i == 4) << "input " << i;
  }
  h.FindMany(std::span<const In>(), got);
  EXPECT_TRUE(got.empty());
}

TEST(Head, AppendRulesAndDuplicates) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 1000, 2, 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 999, 2, 0), AppendResult::kOutOfOrder);
  // Regression: a retried batch re-sends samples older than the newest one; exact duplicates
  // anywhere in the series are accepted, conflicting ones are not.
  EXPECT_EQ(h.Append(*s, 1500, 3, 0), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 1000, 4, 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 1200, 1, 0), AppendResult::kOutOfOrder);
  EXPECT_EQ(h.Append(*s, 2000, StaleNaN(), 0), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 2000, StaleNaN(), 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 2000, std::nan(""), 0), AppendResult::kDuplicateTimestamp);
  auto got = SamplesOf(h, *s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(IsStaleNaN(got[2].v));
}

TEST(Head, HistogramsAlternateWithFloatsUnderTheSameRules) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  auto hist = [](double count) {
    histogram::FloatHistogram fh;
    fh.count = count;
    return std::make_shared<const histogram::FloatHistogram>(fh);
  };
  EXPECT_EQ(h.Append(*s, 1000, 1, 0), AppendResult::kAppended);
  EXPECT_EQ(h.AppendHistogram(*s, 2000, hist(1), 0), AppendResult::kAppended);
  EXPECT_EQ(h.AppendHistogram(*s, 2000, hist(1), 0), AppendResult::kDuplicate);
  EXPECT_EQ(h.AppendHistogram(*s, 2000, hist(2), 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 2000, 1, 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.AppendHistogram(*s, 1000, hist(1), 0), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 1500, 1, 0), AppendResult::kOutOfOrder);
  EXPECT_EQ(h.AppendHistogram(*s, 1500, hist(1), 0), AppendResult::kOutOfOrder);
  EXPECT_EQ(h.AppendHistogram(*s, 1500, hist(1), 1000), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 3000, 2, 0), AppendResult::kAppended);
  std::vector<histogram::HistogramSample> got;
  h.WithSeriesLocked(*s, [&](const MemSeries& ms) { ms.AppendHistograms(0, 2500, got); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].t, 1500);
  EXPECT_EQ(got[1].t, 2000);
  EXPECT_EQ(SamplesOf(h, *s).size(), 2u);

  MemSeries* only = Create(h, {{"__name__", "y"}});
  EXPECT_EQ(h.AppendHistogram(*only, 1000, hist(1), 0), AppendResult::kAppended);
  h.WithSeriesLocked(*only, [&](const MemSeries& ms) { EXPECT_FALSE(ms.empty()); });

  // Regression: a refused histogram leaves no trace (an empty histogram list made the series
  // look non-empty and Stats read its first element).
  MemSeries* floats = Create(h, {{"__name__", "z"}});
  EXPECT_EQ(h.Append(*floats, 2000, 1, 0), AppendResult::kAppended);
  EXPECT_EQ(h.AppendHistogram(*floats, 1000, hist(1), 0), AppendResult::kOutOfOrder);
  h.WithSeriesLocked(*floats, [&](const MemSeries& ms) {
    int chunks = 0;
    ms.ForEachHistogramChunk([&](int64_t, int64_t, std::span<const uint8_t>) { ++chunks; });
    EXPECT_EQ(chunks, 0);
    EXPECT_EQ(ms.ooo_histograms(), nullptr);
  });
  EXPECT_EQ(h.Stats().max_time, 3000);  // and no read of an empty list
}

TEST(Head, HistogramsAreKeptInChunksOfOneLayout) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  auto make = [](int i, bool wide) {
    histogram::FloatHistogram fh;
    fh.schema = 2;
    fh.positive_spans = {{0, wide ? 3u : 2u}};
    fh.positive_buckets =
        wide ? std::vector<double>{1.0 * i, 2, 3} : std::vector<double>{1.0 * i, 2};
    fh.count = fh.positive_buckets[0] + (wide ? 5 : 2);
    return std::make_shared<const histogram::FloatHistogram>(fh);
  };
  std::vector<histogram::HistogramSample> want;
  want.reserve(131);
  for (int i = 0; i < 130; ++i) want.push_back({int64_t{1000} * i, make(i, i >= 125)});
  for (const auto& w : want)
    ASSERT_EQ(h.AppendHistogram(*s, w.t, w.h, 200'000), AppendResult::kAppended);
  // A late one, kept beside the chunks and read back in order.
  histogram::HistogramSample late{1500, make(7, false)};
  ASSERT_EQ(h.AppendHistogram(*s, late.t, late.h, 200'000), AppendResult::kAppended);
  EXPECT_EQ(h.AppendHistogram(*s, late.t, late.h, 200'000), AppendResult::kDuplicate);
  EXPECT_EQ(h.AppendHistogram(*s, 3000, make(9, false), 200'000),
            AppendResult::kDuplicateTimestamp);
  want.insert(want.begin() + 2, late);
  h.WithSeriesLocked(*s, [&](const MemSeries& ms) {
    std::vector<std::pair<int64_t, int64_t>> chunks;
    ms.ForEachHistogramChunk([&](int64_t mint, int64_t maxt, std::span<const uint8_t>) {
      chunks.emplace_back(mint, maxt);
    });
    // 120 samples, then the 5 left of the first layout, then the 5 of the wider one.
    EXPECT_EQ(chunks, (std::vector<std::pair<int64_t, int64_t>>{
                          {0, 119'000}, {120'000, 124'000}, {125'000, 129'000}}));
    std::vector<histogram::HistogramSample> got;
    ms.AppendHistograms(INT64_MIN, INT64_MAX, got);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].t, want[i].t);
      EXPECT_TRUE(got[i].h->Equals(*want[i].h)) << i;
    }
  });
  std::vector<MemSeries*> emptied;
  h.TruncateBefore(125'000, &emptied);
  h.WithSeriesLocked(*s, [&](const MemSeries& ms) {
    std::vector<histogram::HistogramSample> got;
    ms.AppendHistograms(INT64_MIN, INT64_MAX, got);
    EXPECT_EQ(got.size(), 5u);
    EXPECT_EQ(ms.ooo_histograms(), nullptr);
  });
}

// Kept in chunks, a histogram costs the head a few dozen bytes, not its decoded form's
// hundreds (an object, two vectors and a shared pointer per sample).
TEST(Head, HistogramSamplesAreSmallInTheHead) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  size_t before = 0;
  h.WithSeriesLocked(*s, [&](const MemSeries& ms) { before = ms.MemoryBytes(); });
  std::vector<double> counts(6, 0);
  constexpr int kSamples = 1200;
  for (int i = 0; i < kSamples; ++i) {
    histogram::FloatHistogram fh;
    fh.schema = 3;
    fh.positive_spans = {{-2, 6}};
    for (size_t b = 0; b < counts.size(); ++b) {
      counts[b] += static_cast<double>((static_cast<size_t>(i) * 7 + b * 3) % 5);
      fh.count += counts[b];
    }
    fh.positive_buckets = counts;
    fh.sum = fh.count * 0.3;
    ASSERT_EQ(h.AppendHistogram(*s, int64_t{15'000} * i,
                                std::make_shared<const histogram::FloatHistogram>(fh), 0),
              AppendResult::kAppended);
  }
  size_t after = 0;
  h.WithSeriesLocked(*s, [&](const MemSeries& ms) { after = ms.MemoryBytes(); });
  double per_sample = static_cast<double>(after - before) / kSamples;
  std::printf("head bytes per 6-bucket histogram sample: %.1f\n", per_sample);
  EXPECT_LT(per_sample, 40);
}

TEST(Head, CutsChunksAndReadsRanges) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(h.Append(*s, int64_t{i} * 15000, i, 0), AppendResult::kAppended);
  EXPECT_EQ(h.Stats().chunks, (1000 + 119) / 120);
  auto all = SamplesOf(h, *s);
  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(all[i].t, int64_t{i} * 15000);
  auto part = SamplesOf(h, *s, int64_t{15000} * 100, int64_t{15000} * 300);
  ASSERT_EQ(part.size(), 201u);
  EXPECT_EQ(part.front().v, 100);
  EXPECT_EQ(part.back().v, 300);
}

TEST(Head, OutOfOrderWindow) {
  Head h;
  MemSeries* s = Create(h, {{"__name__", "x"}});
  const int64_t w = 10'000;
  ASSERT_EQ(h.Append(*s, 100'000, 1, w), AppendResult::kAppended);
  ASSERT_EQ(h.Append(*s, 110'000, 3, w), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 105'000, 2, w), AppendResult::kAppended);
  EXPECT_EQ(h.Append(*s, 105'000, 2, w), AppendResult::kDuplicate);
  EXPECT_EQ(h.Append(*s, 105'000, 9, w), AppendResult::kDuplicateTimestamp);
  EXPECT_EQ(h.Append(*s, 100'000, 1, w), AppendResult::kDuplicate);  // in a chunk, in window
  EXPECT_EQ(h.Append(*s, 99'000, 1, w), AppendResult::kTooOld);
  auto got = SamplesOf(h, *s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].t, 100'000);
  EXPECT_EQ(got[1].t, 105'000);
  EXPECT_EQ(got[2].t, 110'000);
}

TEST(Head, SelectWithMatchers) {
  Head h;
  Create(h, {{"__name__", "node_cpu"}, {"cpu", "0"}, {"mode", "idle"}});
  Create(h, {{"__name__", "node_cpu"}, {"cpu", "1"}, {"mode", "user"}});
  Create(h, {{"__name__", "up"}, {"job", "node"}});
  using T = Matcher::Type;
  auto sel = [&](const std::vector<std::tuple<T, std::string, std::string>>& spec) {
    std::vector<Matcher> ms;
    ms.reserve(spec.size());
    for (const auto& [t, n, v] : spec) ms.push_back(Matcher::Make(t, n, v).value());
    return h.Select(ms).size();
  };
  EXPECT_EQ(sel({{T::kEqual, "__name__", "node_cpu"}}), 2u);
  EXPECT_EQ(sel({{T::kEqual, "__name__", "node_cpu"}, {T::kEqual, "mode", "idle"}}), 1u);
  EXPECT_EQ(sel({{T::kRegex, "__name__", "node_.*|up"}}), 3u);
  EXPECT_EQ(sel({{T::kNotEqual, "mode", "idle"}}), 2u);  // includes `up`, which lacks the label
  EXPECT_EQ(sel({{T::kEqual, "job", ""}}), 2u);
  EXPECT_EQ(sel({{T::kRegex, "cpu", "1|2"}}), 1u);
  EXPECT_EQ(sel({{T::kNotRegex, "cpu", ".+"}}), 1u);
  EXPECT_EQ(sel({{T::kEqual, "__name__", "missing"}}), 0u);
}

TEST(Head, SeriesWithoutSamplesLeave) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "m"}, {"pod", "a"}};
  std::vector<LabelView> b = {{"__name__", "m"}, {"pod", "b"}};
  std::vector<LabelView> c = {{"__name__", "other"}, {"pod", "c"}};
  MemSeries* sa = Create(h, a);
  MemSeries* sb = Create(h, b);
  MemSeries* sc = Create(h, c);
  h.Append(*sa, 1000, 1, 0);
  h.Append(*sb, 1000, 1, 0);
  h.Append(*sb, 3000, 2, 0);
  h.Append(*sc, 1500, 1, 0);
  const uint32_t ref_a = sa->ref();
  const uint32_t ref_c = sc->ref();
  std::vector<MemSeries*> emptied;
  h.TruncateBefore(2000, &emptied);  // a's and c's samples are in a block now; b has one left
  EXPECT_EQ(emptied.size(), 2u);
  Head::Pin pin = h.PinSeries();
  EXPECT_EQ(h.RemoveEmptySeries(emptied), 2u);
  EXPECT_EQ(h.removals(), 1u);
  // Pinned before the removal: still readable (freed once the pin goes).
  EXPECT_EQ(sa->OwnedLabels(), (Labels{{"__name__", "m"}, {"pod", "a"}}));
  pin.reset();

  EXPECT_EQ(h.num_series(), 1u);
  EXPECT_EQ(h.SeriesForMetric("m"), 1u);
  EXPECT_EQ(h.SeriesForMetric("other"), 0u);
  EXPECT_EQ(h.Find(HashLabels(a), a), nullptr);
  EXPECT_EQ(h.ByRef(ref_a), nullptr);
  EXPECT_EQ(h.Find(HashLabels(b), b), sb);
  EXPECT_EQ(h.LabelValues("pod"), std::vector<std::string>{"b"});
  EXPECT_EQ(h.LabelNames(), (std::vector<std::string>{"__name__", "pod"}));
  using T = Matcher::Type;
  std::vector<Matcher> m = {Matcher::Make(T::kRegex, "__name__", ".+").value()};
  EXPECT_EQ(h.Select(m), std::vector<MemSeries*>{sb});
  emptied.clear();
  h.TruncateBefore(2000, &emptied);
  EXPECT_TRUE(emptied.empty());
  EXPECT_EQ(h.RemoveEmptySeries(emptied), 0u);
  EXPECT_EQ(h.removals(), 1u);
  // Coming back, a series gets a new ref.
  MemSeries* again = Create(h, a);
  EXPECT_GT(again->ref(), ref_c);
  EXPECT_EQ(h.SeriesForMetric("m"), 2u);
}

// A series emptied by the truncation but given a sample before the removal (an append
// between the two, outside the commit lock) stays, with its sample.
TEST(Head, EmptiedSeriesThatGotASampleStay) {
  Head h;
  std::vector<LabelView> a = {{"__name__", "m"}, {"pod", "a"}};
  MemSeries* sa = Create(h, a);
  h.Append(*sa, 1000, 1, 0);
  std::vector<MemSeries*> emptied;
  h.TruncateBefore(2000, &emptied);
  ASSERT_EQ(emptied, std::vector<MemSeries*>{sa});
  h.Append(*sa, 2500, 2, 0);
  EXPECT_EQ(h.RemoveEmptySeries(emptied), 0u);
  EXPECT_EQ(h.Find(HashLabels(a), a), sa);
  EXPECT_EQ(SamplesOf(h, *sa).size(), 1u);
}

// Removal from the open-addressing series map: with every hash in a few home slots, the
// probe runs overlap and wrap, and every survivor must stay findable.
TEST(Head, RemovalKeepsCollidingSeriesFindable) {
  Head h;
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint64_t, std::vector<std::string>>> live;
  int next = 0;
  for (int64_t round = 0; round < 20; ++round) {
    for (int k = 0; k < 40; ++k, ++next) {
      // Low bits pick the home slot (near the table's end, so runs wrap); all in stripe 0.
      uint64_t hash = 13 + rng() % 4;
      live.push_back({hash, {"__name__", "m", "id", std::to_string(next)}});
    }
    for (auto& [hash, l] : live) {
      std::vector<LabelView> v = {{l[0], l[1]}, {l[2], l[3]}};
      bool created;
      MemSeries* s = h.GetOrCreate(hash, v, &created);
      ASSERT_NE(s, nullptr);
      if (rng() % 2 == 0) h.Append(*s, 1000 * (round + 1), 1, 0);
    }
    std::vector<MemSeries*> emptied;
    h.TruncateBefore(1000 * (round + 1), &emptied);
    h.RemoveEmptySeries(emptied);
    std::vector<std::pair<uint64_t, std::vector<std::string>>> kept;
    for (auto& [hash, l] : live) {
      std::vector<LabelView> v = {{l[0], l[1]}, {l[2], l[3]}};
      MemSeries* s = h.Find(hash, v);
      if (s != nullptr) {
        EXPECT_FALSE(s->empty());
        kept.push_back({hash, l});
      }
    }
    EXPECT_EQ(kept.size(), h.num_series());
    live = std::move(kept);
  }
}

// Queries hold pins while a block cut truncates and removes series (run under TSan/ASan).
TEST(Head, QueriesRaceRemovalSafely) {
  Head h;
  std::mutex commit;  // what a Db's commit lock does: appends stay out of a removal
  std::atomic<bool> done{false};
  std::thread reader([&] {
    using T = Matcher::Type;
    std::vector<Matcher> m = {Matcher::Make(T::kEqual, "__name__", "m").value()};
    while (!done) {
      Head::Pin pin = h.PinSeries();
      for (MemSeries* s : h.Select(m)) {
        (void)s->OwnedLabels();
        (void)SamplesOf(h, *s);
      }
    }
  });
  for (int64_t t = 1; t <= 300; ++t) {
    {
      std::lock_guard lk(commit);
      for (int k = 0; k < 20; ++k) {
        std::string id = std::to_string((t * 7 + k) % 50);
        std::vector<LabelView> l = {{"__name__", "m"}, {"id", id}};
        bool created;
        h.Append(*h.GetOrCreate(HashLabels(l), l, &created), t * 1000, 1, 0);
      }
    }
    std::vector<MemSeries*> emptied;
    h.TruncateBefore((t - 2) * 1000, &emptied);
    std::lock_guard lk(commit);
    h.RemoveEmptySeries(emptied);
  }
  done = true;
  reader.join();
  EXPECT_GT(h.removals(), 0u);
}

TEST(Head, ConcurrentCreateAndAppend) {
  Head h;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = std::to_string(i % 500);
        std::vector<LabelView> l = {{"__name__", "m"}, {"id", id}};
        bool created;
        MemSeries* s = h.GetOrCreate(HashLabels(l), l, &created);
        h.Append(*s, t * 100000 + i, i, 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.num_series(), 500u);
  EXPECT_EQ(h.SeriesForMetric("m"), 500u);
}

}  // namespace
}  // namespace strata::tsdb
