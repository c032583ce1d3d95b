// Two tenants on one server: while one floods the query frontend with heavy, uncacheable
// range queries from many clients, the other's dashboard query stays within 2x of its
// latency on an idle server (medians).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/units.h"
#include "server/server.h"
#include "test_util.h"

namespace strata {
namespace {
namespace bhttp = boost::beast::http;

constexpr int64_t kHour = 3'600'000;

// `hosts` x 32 counters (cpu x mode), one sample a minute for `hours`.
void Push(http::Client& c, const std::string& tenant, int hosts, int64_t end, int hours) {
  for (int h = 0; h < hosts; ++h) {
    proto::WriteRequest wr;
    for (int cpu = 0; cpu < 4; ++cpu) {
      for (const char* mode :
           {"idle", "user", "system", "iowait", "irq", "nice", "steal", "soft"}) {
        proto::TimeSeries ts;
        ts.labels = {{"__name__", "cpu_seconds_total"},
                     {"cpu", std::to_string(cpu)},
                     {"instance", "host-" + std::to_string(h)},
                     {"mode", mode}};
        double v = 0;
        for (int64_t t = end - hours * kHour; t <= end; t += 60'000) {
          v += static_cast<double>((t / 60'000 + h + cpu) % 7);
          ts.samples.push_back({t, v});
        }
        wr.series.push_back(std::move(ts));
      }
    }
    auto res = c.Do(testing::PushRequest(wr, tenant));
    ASSERT_TRUE(res.ok());
    ASSERT_EQ(res->result(), http::Status::no_content) << res->body();
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST(FrontendFairnessTest, FloodingTenantDoesNotSlowAnother) {
  testing::TempDir dir("frontend-fairness");
  server::Config c;
  c.listen = "127.0.0.1:0";
  c.data_dir = dir.path();
  c.threads = 4;
  c.compactor_enabled = false;
  c.limits.defaults.ingest.ingestion_rate = 1e9;
  c.limits.defaults.ingest.ingestion_burst = 1'000'000'000;
  server::StrataServer srv(c);
  ASSERT_TRUE(srv.Start().ok());
  ASSERT_TRUE(srv.WaitReady().ok());
  std::string port = std::to_string(srv.port());
  http::Client client("127.0.0.1", port);
  const int64_t end = NowMillis() / 60'000 * 60'000;
  Push(client, "flood", 40, end, 12);  // 1,280 series
  Push(client, "quiet", 10, end, 12);  // 320 series

  auto range = [&](const std::string& q, int64_t step_s) {
    return "/api/v1/query_range?query=" + q +
           "&start=" + std::to_string((end - 12 * kHour) / 1000) +
           "&end=" + std::to_string(end / 1000) + "&step=" + std::to_string(step_s);
  };
  // A salt in the query text keeps the results cache out of both measurements.
  std::atomic<int> salt{0};
  auto quiet_query = [&](http::Client& c) {
    auto started = std::chrono::steady_clock::now();
    http::Request req(bhttp::verb::get,
                      range("sum%20by%20(mode)%20(rate(cpu_seconds_total%5B5m%5D))%20%2B%20" +
                                std::to_string(++salt) + "%20*%200",
                            60),
                      11);
    req.set("X-Scope-OrgID", "quiet");
    auto res = c.Do(std::move(req));
    EXPECT_TRUE(res.ok() && res->result() == http::Status::ok);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::vector<double> alone;
  alone.reserve(21);
  for (int i = 0; i < 21; ++i) alone.push_back(quiet_query(client));

  std::atomic<bool> stop{false};
  std::atomic<int> flood_answers{0};
  std::vector<std::thread> flooders;
  flooders.reserve(6);
  for (int k = 0; k < 6; ++k) {
    flooders.emplace_back([&, k] {
      http::Client fc("127.0.0.1", port, 60'000);
      for (int n = 0; !stop; ++n) {
        http::Request req(bhttp::verb::get,
                          range("sum%20by%20(mode)%20(quantile_over_time(0.5%2C%20cpu_seconds_"
                                "total%5B30m%5D))%20%2B%20" +
                                    std::to_string(k * 100000 + n) + "%20*%200",
                                60),
                          11);
        req.set("X-Scope-OrgID", "flood");
        auto res = fc.Do(std::move(req));
        if (res.ok() && res->result() == http::Status::ok) ++flood_answers;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<double> loaded;
  loaded.reserve(21);
  for (int i = 0; i < 21; ++i) loaded.push_back(quiet_query(client));
  stop = true;
  for (auto& t : flooders) t.join();  // each finishes the query it is running

  double a = Median(alone);
  double b = Median(loaded);
  std::cout << "quiet tenant median alone " << a * 1000 << " ms, under flood " << b * 1000
            << " ms (" << b / a << "x); flood queries answered: " << flood_answers.load() << "\n";
  EXPECT_GE(flood_answers.load(), 6) << "the flood did not run";
  EXPECT_LE(b, 2 * a) << "the flooding tenant slowed the quiet one more than 2x";
}

}  // namespace
}  // namespace strata
