#include "frontend/frontend.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <sstream>
#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "base/units.h"
#include "promql/parser.h"
#include "query/head_querier.h"
#include "query/queryable.h"
#include "testing/corpus.h"
#include "testing/temp_dir.h"
#include "tsdb/db.h"

namespace strata::frontend {
namespace {

using testing::kHour;

// Counts Select calls, to see what the cache saved.
class CountingQuerier : public query::ForwardingQuerier {
 public:
  using ForwardingQuerier::ForwardingQuerier;
  Result<std::unique_ptr<query::SeriesSet>> Select(const query::SelectParams& p,
                                                   std::span<const Matcher> m) const override {
    ++selects;
    return ForwardingQuerier::Select(p, m);
  }
  mutable std::atomic<int> selects{0};
};

// Hands out queriers over whichever querier a test is using, and records the time range of
// each.
class TestQueryable : public query::Queryable {
 public:
  Result<std::unique_ptr<query::Querier>> TenantQuerier(
      const std::string&, const query::ReadHints& hints) const override {
    MutexLock lk(mu);
    ranges.emplace_back(hints.mint, hints.maxt);
    return std::unique_ptr<query::Querier>(std::make_unique<query::ForwardingQuerier>(*use));
  }
  mutable Mutex mu;
  const query::Querier* use GUARDED_BY(mu) = nullptr;
  mutable std::vector<std::pair<int64_t, int64_t>> ranges GUARDED_BY(mu);
};

void ExpectSame(const promql::QueryResult& got, const promql::QueryResult& want,
                const std::string& what) {
  ASSERT_EQ(got.series.size(), want.series.size()) << what;
  for (size_t i = 0; i < want.series.size(); ++i) {
    ASSERT_EQ(got.series[i].labels, want.series[i].labels) << what;
    const auto& gp = got.series[i].points;
    const auto& wp = want.series[i].points;
    ASSERT_EQ(gp.size(), wp.size()) << what << " " << FormatLabels(want.series[i].labels);
    ASSERT_TRUE(testing::SameHistograms(got.series[i].histograms, want.series[i].histograms))
        << what << " " << FormatLabels(want.series[i].labels);
    for (size_t k = 0; k < wp.size(); ++k) {
      ASSERT_EQ(gp[k].t, wp[k].t) << what;
      ASSERT_TRUE(std::bit_cast<uint64_t>(gp[k].v) == std::bit_cast<uint64_t>(wp[k].v) ||
                  (std::isnan(gp[k].v) && std::isnan(wp[k].v)))
          << what << " at " << wp[k].t << ": " << gp[k].v << " vs " << wp[k].v;
    }
  }
  auto messages = [](const promql::Annotations& a) {
    std::vector<std::string> out;
    for (const auto& e : a.warnings()) out.push_back(e.message + "@" + std::to_string(e.pos.start));
    for (const auto& e : a.infos()) out.push_back(e.message + "@" + std::to_string(e.pos.start));
    return out;
  };
  EXPECT_EQ(messages(got.annotations), messages(want.annotations)) << what;
}

class FrontendTest : public ::testing::Test {
 protected:
  static constexpr int64_t kHours = 30;

  void SetUp() override {
    auto db = tsdb::Db::Open(dir_.path() + "/db", {}, "t1");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    for (const auto& g : testing::Generate(kHours, 7)) {
      std::vector<LabelView> labels = ViewOf(g.labels);
      tsdb::SeriesInput in{labels, HashLabels(labels), g.samples, {}, g.histograms};
      auto out =
          db_->Append({&in, 1}, {}, {}, [](size_t, std::optional<int64_t>, tsdb::Rejection) {});
      ASSERT_TRUE(out.ok());
      ASSERT_TRUE(db_->WaitDurable(out->lsn).ok());
    }
    querier_ = std::make_unique<query::HeadQuerier>(db_->head());
  }

  // A frontend over its own runner (kept in runners_).
  std::unique_ptr<QueryFrontend> Make(FrontendOptions o, std::unique_ptr<Cache> cache) {
    runners_.push_back(std::make_unique<RangeRunner>(o, scheduler_, std::move(cache)));
    return std::make_unique<QueryFrontend>(limits_, queryable_, engine_, *runners_.back());
  }

  Result<promql::QueryResult> Run(const QueryFrontend& fe, const std::string& text, int64_t start,
                                  int64_t end, int64_t step, const query::Querier& q,
                                  QueryStats* stats = nullptr,
                                  std::optional<bool> adaptive = std::nullopt,
                                  const std::string& tenant = "t1") {
    auto expr = promql::ParseExpr(text);
    EXPECT_TRUE(expr.ok()) << text;
    RangeQuery rq;
    rq.tenant = tenant;
    rq.text = text;
    rq.expr = expr->get();
    rq.start_ms = start;
    rq.end_ms = end;
    rq.step_ms = step;
    rq.adaptive = adaptive;
    Use(q);
    return fe.Range(rq, stats);
  }

  // Makes the frontend's queriers read `q`.
  void Use(const query::Querier& q) {
    MutexLock lk(queryable_.mu);
    queryable_.use = &q;
  }

  testing::TempDir dir_{"frontend"};  // first: outlives the Db in it
  std::unique_ptr<tsdb::Db> db_;
  std::unique_ptr<query::Querier> querier_;
  TestQueryable queryable_;
  limits::TenantOverrides limits_;
  promql::Engine engine_;
  FairScheduler scheduler_{SchedulerOptions{2, 100}};
  std::vector<std::unique_ptr<RangeRunner>> runners_;
};

// Split into 4h pieces (unaligned starts, odd steps), cold and then from the cache, every
// corpus query answers exactly as the engine does on the whole range.
TEST_F(FrontendTest, SplitAndCachedAnswersEqualTheWholeQuery) {
  FrontendOptions o;
  o.split_interval_ms = 4 * kHour;
  auto fe = Make(o, std::make_unique<MemoryCache>(64u << 20));
  struct Range {
    int64_t start, end, step;
  };
  std::vector<Range> ranges = {{0, kHours * kHour, 60'000},
                               {kHour + 7'000, 20 * kHour - 3'000, 420'000},
                               {3 * kHour, 5 * kHour, 15'000},
                               {0, kHours * kHour, 2 * kHour}};
  for (const char* text : testing::kCorpus) {
    auto expr = promql::ParseExpr(text);
    ASSERT_TRUE(expr.ok());
    for (const auto& r : ranges) {
      auto want = engine_.Range(*querier_, **expr, r.start, r.end, r.step);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      for (int pass = 0; pass < 2; ++pass) {
        QueryStats st;
        auto got = Run(*fe, text, r.start, r.end, r.step, *querier_, &st);
        ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
        std::string what =
            fmt::format("{} [{}, {}] step {} pass {}", text, r.start, r.end, r.step, pass);
        ExpectSame(*got, *want, what);
        EXPECT_GT(st.splits, r.step < 4 * kHour ? 1u : 0u) << what;
        if (pass == 0 && std::string_view(text).find(':') == std::string_view::npos) {
          // Split, the steps read what they read unsplit (a subquery's inner steps count at
          // the last step of the piece evaluating them, so those differ).
          EXPECT_EQ(got->samples_per_step, want->samples_per_step) << what;
        }
        if (pass == 1) {
          EXPECT_EQ(st.cached_splits, st.splits) << what;
          for (const auto& [t, n] : got->samples_per_step) EXPECT_EQ(n, 0u) << what;
        }
      }
    }
  }
}

TEST_F(FrontendTest, CacheServesOverlappingRangesAndAnnotationsOfOtherSpellings) {
  FrontendOptions o;
  o.split_interval_ms = 4 * kHour;
  auto fe = Make(o, std::make_unique<MemoryCache>(64u << 20));
  CountingQuerier counting(*querier_);
  const std::string text = "sum by (code) (rate(http_requests_total[5m]))";
  ASSERT_TRUE(Run(*fe, text, 0, 24 * kHour, 60'000, counting).ok());
  int cold = counting.selects.load();
  EXPECT_EQ(cold, 2);  // 7 splits (24h:00 is one of its own), run as 2 pieces: 2 workers
  {
    // Each piece read through a querier for its own steps and the 5m window before them.
    MutexLock lk(queryable_.mu);
    ASSERT_EQ(queryable_.ranges.size(), 2u);
    std::sort(queryable_.ranges.begin(), queryable_.ranges.end());
    constexpr int64_t kWindow = int64_t{5} * 60'000;
    EXPECT_EQ(queryable_.ranges[0].first, -kWindow + 1);
    EXPECT_EQ(queryable_.ranges[1].second, 24 * kHour);
    EXPECT_EQ(queryable_.ranges[1].first, queryable_.ranges[0].second + 60'000 - kWindow + 1);
  }

  // The window moves on by an hour: 5 splits come from the cache, the 6th is extended.
  QueryStats st;
  auto moved = Run(*fe, text, kHour, 25 * kHour, 60'000, counting, &st);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(st.splits, 7u);
  EXPECT_EQ(st.cached_splits, 6u);
  EXPECT_EQ(st.partial_splits, 1u);
  EXPECT_EQ(counting.selects.load() - cold, 1);
  auto want = engine_.Range(*querier_, **promql::ParseExpr(text), kHour, 25 * kHour, 60'000);
  ExpectSame(*moved, *want, "moved window");

  // An annotation cached under one spelling is positioned in another spelling's text.
  const std::string a = "rate(memory_bytes[5m])";
  const std::string b = "rate(  memory_bytes[5m]  )";
  ASSERT_TRUE(Run(*fe, a, 0, 8 * kHour, 60'000, *querier_).ok());
  QueryStats sb;
  auto got = Run(*fe, b, 0, 8 * kHour, 60'000, *querier_, &sb);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(sb.cached_splits, sb.splits);
  ExpectSame(*got, *engine_.Range(*querier_, **promql::ParseExpr(b), 0, 8 * kHour, 60'000), b);
  ASSERT_EQ(got->annotations.infos().size(), 1u);
  EXPECT_EQ(got->annotations.infos().begin()->pos.start, 7);
}

TEST_F(FrontendTest, FreshResultsAreNotCached) {
  FrontendOptions o;
  o.split_interval_ms = 4 * kHour;
  o.max_freshness_ms = NowMillis();  // everything since 1970 is "fresh"
  auto fe = Make(o, std::make_unique<MemoryCache>(64u << 20));
  for (int pass = 0; pass < 2; ++pass) {
    QueryStats st;
    ASSERT_TRUE(Run(*fe, "memory_bytes", 0, 8 * kHour, 60'000, *querier_, &st).ok());
    EXPECT_EQ(st.cached_splits, 0u);
  }
}

TEST_F(FrontendTest, StartAndEndModifiersAreNotSplit) {
  FrontendOptions o;
  o.split_interval_ms = kHour;
  auto fe = Make(o, std::make_unique<MemoryCache>(64u << 20));
  const std::string text = "memory_bytes @ start() - memory_bytes @ end()";
  QueryStats st;
  auto got = Run(*fe, text, 2 * kHour, 6 * kHour, 60'000, *querier_, &st);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(st.splits, 1u);
  ExpectSame(*got,
             *engine_.Range(*querier_, **promql::ParseExpr(text), 2 * kHour, 6 * kHour, 60'000),
             text);
}

TEST_F(FrontendTest, TenantLimitsNameTheLimit) {
  FrontendOptions o;
  limits::TenantLimits small;
  small.query.max_series = 10;
  small.query.max_query_length_ms = 6 * kHour;
  small.query.max_samples = 100;
  limits_.tenants["small"] = small;
  auto fe = Make(o, nullptr);
  auto series = Run(*fe, "memory_bytes", 0, kHour, 60'000, *querier_, nullptr, {}, "small");
  ASSERT_FALSE(series.ok());
  EXPECT_EQ(series.status().code(), Status::Code::kLimitExceeded);
  EXPECT_NE(series.status().message().find("query.max_series"), std::string::npos);
  auto length = Run(*fe, "up", 0, 7 * kHour, 60'000, *querier_, nullptr, {}, "small");
  ASSERT_FALSE(length.ok());
  EXPECT_EQ(length.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(length.status().message().find("query.max_query_length"), std::string::npos);
  auto samples = Run(*fe, "sum(memory_bytes{instance=\"host-1\"})", 0, 5 * kHour, 60'000, *querier_,
                     nullptr, {}, "small");
  ASSERT_FALSE(samples.ok());
  EXPECT_EQ(samples.status().code(), Status::Code::kLimitExceeded);
  // Other tenants keep the defaults.
  EXPECT_TRUE(Run(*fe, "memory_bytes", 0, 7 * kHour, 60'000, *querier_).ok());
}

// Over budget, the step widens to a multiple of the asked one and the infos say so; the
// points are the engine's at the wider step. Off unless asked.
TEST_F(FrontendTest, AdaptiveResolutionWidensTheStepAndSaysSo) {
  FrontendOptions o;
  limits_.defaults.query.max_points = uint64_t{40} * 200;  // 40 series x 200 steps
  auto fe = Make(o, nullptr);
  const std::string text = "rate(http_requests_total[10m])";
  QueryStats st;
  auto plain = Run(*fe, text, 0, 24 * kHour, 60'000, *querier_, &st);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(st.step_ms, 60'000);
  EXPECT_TRUE(st.infos.empty());

  QueryStats ad;
  auto got = Run(*fe, text, 0, 24 * kHour, 60'000, *querier_, &ad, true);
  ASSERT_TRUE(got.ok());
  // 1441 steps x 40 series = 57,640 points over 8,000: 8x wider.
  EXPECT_EQ(ad.step_ms, 8 * 60'000);
  ASSERT_EQ(ad.infos.size(), 1u);
  EXPECT_NE(ad.infos[0].find("step widened from 1m to 8m"), std::string::npos) << ad.infos[0];
  ExpectSame(
      *got,
      *engine_.Range(*querier_, **promql::ParseExpr(text), 0, 24 * kHour, int64_t{8} * 60'000),
      "adapted");

  limits_.defaults.query.adaptive_resolution =
      true;  // the tenant's default; the request may say no
  auto tenant_on = Make(o, nullptr);
  QueryStats off;
  ASSERT_TRUE(Run(*tenant_on, text, 0, 24 * kHour, 60'000, *querier_, &off, false).ok());
  EXPECT_EQ(off.step_ms, 60'000);
}

// A client that went away (or a timeout) stops the query: sub-queries not yet started never
// run, and the answer is Cancelled.
TEST_F(FrontendTest, CancellationStopsAllSubQueries) {
  FrontendOptions o;
  o.split_interval_ms = kHour;
  auto fe = Make(o, nullptr);
  CountingQuerier counting(*querier_);
  auto expr = promql::ParseExpr("rate(http_requests_total[5m])");
  std::atomic<bool> gone{true};
  RangeQuery rq;
  rq.tenant = "t1";
  rq.expr = expr->get();
  rq.start_ms = 0;
  rq.end_ms = 24 * kHour;
  rq.step_ms = 60'000;
  rq.ctl.cancelled = &gone;
  Use(counting);
  auto r = fe->Range(rq, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCancelled);
  EXPECT_EQ(counting.selects.load(), 0);

  gone = false;
  rq.ctl.cancelled = nullptr;
  rq.ctl.deadline = std::chrono::steady_clock::now();  // already past
  r = fe->Range(rq, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded) << r.status().ToString();
}

// Queries over the threshold are logged with what they cost.
TEST_F(FrontendTest, SlowQueriesAreLogged) {
  FrontendOptions o;
  o.slow_query_ms = 1;  // everything here is "slow"
  auto fe = Make(o, nullptr);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  auto r = Run(*fe, "sum(rate(http_requests_total[5m]))", 0, 24 * kHour, 15'000, *querier_);
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(r.ok());
  for (const char* part :
       {"slow query", "tenant=t1", "query=\"sum(rate(http_requests_total[5m]))\"",
        "samples=", "series=1", "splits=2"}) {
    EXPECT_NE(out.str().find(part), std::string::npos) << part << " in " << out.str();
  }
}

TEST_F(FrontendTest, ExtentsRoundTripAndCorruptionIsDetected) {
  auto r =
      engine_.Range(*querier_, **promql::ParseExpr("rate(memory_bytes[5m])"), 0, kHour, 60'000);
  ASSERT_TRUE(r.ok());
  Extent e{0, kHour, r->series, r->annotations};
  std::string bytes = EncodeExtent(e).value();
  auto back = DecodeExtent(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  promql::QueryResult again;
  again.series = back->series;
  again.annotations = back->annotations;
  ExpectSame(again, *r, "round trip");
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    EXPECT_FALSE(DecodeExtent(std::string_view(bytes).substr(0, cut)).ok());
  }
  for (size_t i = 0; i < bytes.size(); i += 5) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    EXPECT_FALSE(DecodeExtent(bad).ok()) << i;
  }
}

TEST(MemoryCacheTest, EvictsLeastRecentlyUsed) {
  MemoryCache c(100);
  c.Set("a", std::string(40, 'a'));
  c.Set("b", std::string(40, 'b'));
  EXPECT_TRUE(c.Get("a").has_value());  // a is now the most recent
  c.Set("c", std::string(40, 'c'));
  EXPECT_TRUE(c.Get("a").has_value());
  EXPECT_FALSE(c.Get("b").has_value());
  EXPECT_TRUE(c.Get("c").has_value());
  c.Set("huge", std::string(200, 'h'));
  EXPECT_FALSE(c.Get("huge").has_value());
  c.Set("a", "x");
  EXPECT_EQ(*c.Get("a"), "x");
}

// While one tenant's flood fills the queue, another tenant's request starts at the next
// free worker, not behind the flood.
TEST(FairSchedulerTest, OneTenantsFloodDoesNotStarveAnother) {
  // Declared before the scheduler: its destructor still runs the queued work that uses them.
  std::atomic<int> flood_done{0};
  std::atomic<int> flood_done_when_b_ran{-1};
  std::atomic<bool> b_done{false};
  FairScheduler s(SchedulerOptions{2, 1000});
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(s.Submit("flood", [&] {
                   std::this_thread::sleep_for(std::chrono::milliseconds(10));
                   ++flood_done;
                 }).ok());
  }
  ASSERT_TRUE(s.Submit("quiet", [&] {
                 flood_done_when_b_ran = flood_done.load();
                 b_done = true;
               }).ok());
  while (!b_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_LE(flood_done_when_b_ran.load(), 4) << "waited behind the flood";
}

// The same when the flood's requests are split into sub-queries: waiting for them, a request
// gives its slot up, and the light tenant's request gets the next free one.
TEST(FairSchedulerTest, SplitRequestsDoNotHoldSlotsAgainstOthers) {
  std::atomic<int> subs_done{0};
  std::atomic<int> subs_when_b_ran{-1};
  std::atomic<bool> b_done{false};
  FairScheduler s(SchedulerOptions{2, 1000});
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(s.Submit("flood", [&] {
                   std::vector<std::function<void()>> tasks(20, [&] {
                     std::this_thread::sleep_for(std::chrono::milliseconds(5));
                     ++subs_done;
                   });
                   s.RunGroup("flood", std::move(tasks), 2);
                 }).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int before = subs_done.load();
  ASSERT_TRUE(s.Submit("quiet", [&] {
                 subs_when_b_ran = subs_done.load();
                 b_done = true;
               }).ok());
  while (!b_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_LE(subs_when_b_ran.load() - before, 4) << "waited behind the flood's sub-queries";
}

TEST(FairSchedulerTest, OutstandingRequestsAreBoundedPerTenant) {
  std::atomic<bool> release{false};
  FairScheduler s(SchedulerOptions{1, 3});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.Submit("t", [&] {
                   while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                 }).ok());
  }
  Status over = s.Submit("t", [] {});
  EXPECT_EQ(over.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(over.message().find("frontend.max_outstanding_per_tenant"), std::string::npos);
  EXPECT_TRUE(s.Submit("other", [] {}).ok());
  release = true;
}

// Groups run from inside requests on every worker at once still finish: callers run their
// own sub-tasks.
TEST(FairSchedulerTest, NestedGroupsNeverDeadlock) {
  std::atomic<int> ran{0};
  std::atomic<int> requests{0};
  FairScheduler s(SchedulerOptions{2, 100});
  for (int r = 0; r < 6; ++r) {
    ASSERT_TRUE(s.Submit("t" + std::to_string(r % 2), [&] {
                   std::vector<std::function<void()>> tasks(20, [&] { ++ran; });
                   s.RunGroup("t", std::move(tasks), 4);
                   ++requests;
                 }).ok());
  }
  while (requests < 6) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(ran.load(), 120);
}

// memcached as the shared results cache: a real server on loopback.
class MemcachedTest : public FrontendTest {
 protected:
  void SetUp() override {
    FrontendTest::SetUp();
    const char* bin = nullptr;
    for (const char* c : {"/usr/bin/memcached", "/usr/sbin/memcached"}) {
      if (::access(c, X_OK) == 0) bin = c;
    }
    ASSERT_NE(bin, nullptr) << "memcached is not installed (scripts/install-deps.sh --with-peers)";
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::close(fd);
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string p = std::to_string(port_);
      ::execl(bin, bin, "-l", "127.0.0.1", "-p", p.c_str(), "-U", "0", "-m", "64", "-u", "root",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    MemcachedOptions mo;
    mo.addresses = {"127.0.0.1:" + std::to_string(port_)};
    for (int i = 0; i < 100; ++i) {  // until it listens
      auto c = MemcachedCache::Open(mo);
      ASSERT_TRUE(c.ok());
      (*c)->Set("probe", "1");
      if ((*c)->Get("probe")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  void TearDown() override { StopServer(); }
  void StopServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::unique_ptr<Cache> Open() {
    MemcachedOptions mo;
    mo.addresses = {"127.0.0.1:" + std::to_string(port_)};
    return std::move(MemcachedCache::Open(mo)).value();
  }
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(MemcachedTest, SharedCacheServesAnotherFrontendAndOutagesAreMisses) {
  FrontendOptions o;
  o.split_interval_ms = 4 * kHour;
  const std::string text =
      "histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[10m])))";
  auto want = engine_.Range(*querier_, **promql::ParseExpr(text), 0, 24 * kHour, 120'000);
  auto first = Make(o, Open());
  auto second = Make(o, Open());  // another server sharing the cache
  ASSERT_TRUE(Run(*first, text, 0, 24 * kHour, 120'000, *querier_).ok());
  QueryStats st;
  auto got = Run(*second, text, 0, 24 * kHour, 120'000, *querier_, &st);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(st.cached_splits, st.splits);
  ExpectSame(*got, *want, "from memcached");

  StopServer();
  QueryStats down;
  auto without = Run(*second, text, 0, 24 * kHour, 120'000, *querier_, &down);
  ASSERT_TRUE(without.ok()) << without.status().ToString();
  EXPECT_EQ(down.cached_splits, 0u);
  ExpectSame(*without, *want, "memcached down");
}

}  // namespace
}  // namespace strata::frontend
