// Two tenants on one server: while one floods the query frontend with heavy, uncacheable
// range queries (PromQL or LogQL) from many clients, the other's dashboard query stays within
// 2x of its latency on an idle server (medians).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
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

// `hosts` x 2 streams {job="web", host, level}, a line every 2 s for `hours`.
void PushLogs(http::Client& c, const std::string& tenant, int hosts, int64_t end_ms, int hours) {
  for (int h = 0; h < hosts; ++h) {
    for (const char* level : {"info", "error"}) {
      std::string values;
      int i = 0;
      for (int64_t t = end_ms - hours * kHour; t <= end_ms; t += 2000, ++i) {
        values +=
            fmt::format(R"({}["{}","GET /api/item/{} status={} took={}ms user=u{}"])", i ? "," : "",
                        t * 1'000'000, i, level[0] == 'e' ? 500 : 200, (i + h) % 97, i % 13);
      }
      auto res = c.Do(testing::LokiPush(
          fmt::format(R"({{"streams":[{{"stream":{{"job":"web","host":"h{}","level":"{}"}},)"
                      R"("values":[{}]}}]}})",
                      h, level, values),
          false, tenant));
      ASSERT_TRUE(res.ok());
      ASSERT_EQ(res->result(), http::Status::no_content) << res->body();
    }
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A server with a `flood` and a `quiet` tenant, each with 12 h of CPU counters.
class FrontendFairnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::Config c;
    c.listen = "127.0.0.1:0";
    c.grpc_listen = "";
    c.data_dir = dir_.path();
    c.threads = 4;
    c.compactor_enabled = false;
    srv_ = std::make_unique<server::StrataServer>(c);
    ASSERT_TRUE(srv_->Start().ok());
    ASSERT_TRUE(srv_->WaitReady().ok());
    port_ = std::to_string(srv_->port());
    client_ = std::make_unique<http::Client>("127.0.0.1", port_);
    ASSERT_NO_FATAL_FAILURE(Push(*client_, "flood", 40, end_, 12));  // 1,280 series
    ASSERT_NO_FATAL_FAILURE(Push(*client_, "quiet", 10, end_, 12));  // 320 series
  }

  // A GET of `path` as `tenant`; whether it was answered 200.
  static bool Get(http::Client& c, const std::string& tenant, const std::string& path) {
    http::Request req(bhttp::verb::get, path, 11);
    req.set("X-Scope-OrgID", tenant);
    auto res = c.Do(std::move(req));
    return res.ok() && res->result() == http::Status::ok;
  }

  // A query_range of `api` over the 12 h at a step of 60 s; `+ salt * 0` keeps the results
  // cache out.
  std::string Range(const std::string& api, const std::string& q, int salt) const {
    return api + "?query=" + q + "%20%2B%20" + std::to_string(salt) + "%20*%200" +
           "&start=" + std::to_string((end_ - 12 * kHour) / 1000) +
           "&end=" + std::to_string(end_ / 1000) + "&step=60";
  }

  // The quiet tenant's dashboard query 21 times alone, then 21 times while 6 clients of the
  // flooding tenant each call `flood(client, k, n)` back to back: its median latency stays
  // within 2x of the median alone.
  void ExpectFair(const std::function<bool(http::Client&, int, int)>& flood) {
    std::atomic<int> salt{0};
    auto quiet = [&] {
      auto started = std::chrono::steady_clock::now();
      EXPECT_TRUE(Get(*client_, "quiet",
                      Range("/api/v1/query_range",
                            "sum%20by%20(mode)%20(rate(cpu_seconds_total%5B5m%5D))", ++salt)));
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    std::vector<double> alone;
    alone.reserve(21);
    for (int i = 0; i < 21; ++i) alone.push_back(quiet());

    std::atomic<bool> stop{false};
    std::atomic<int> flood_answers{0};
    std::vector<std::thread> flooders;
    flooders.reserve(6);
    for (int k = 0; k < 6; ++k) {
      flooders.emplace_back([&, k] {
        http::Client fc("127.0.0.1", port_, 60'000);
        for (int n = 0; !stop; ++n) {
          if (flood(fc, k, n)) ++flood_answers;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::vector<double> loaded;
    loaded.reserve(21);
    for (int i = 0; i < 21; ++i) loaded.push_back(quiet());
    stop = true;
    for (auto& t : flooders) t.join();  // each finishes the query it is running

    double a = Median(alone);
    double b = Median(loaded);
    std::cout << "quiet tenant median alone " << a * 1000 << " ms, under flood " << b * 1000
              << " ms (" << b / a << "x); flood queries answered: " << flood_answers.load() << "\n";
    EXPECT_GE(flood_answers.load(), 6) << "the flood did not run";
    EXPECT_LE(b, 2 * a) << "the flooding tenant slowed the quiet one more than 2x";
  }

  testing::TempDir dir_{"frontend-fairness"};
  std::unique_ptr<server::StrataServer> srv_;
  std::string port_;
  std::unique_ptr<http::Client> client_;
  const int64_t end_ = NowMillis() / 60'000 * 60'000;
};

TEST_F(FrontendFairnessTest, FloodingTenantDoesNotSlowAnother) {
  ExpectFair([&](http::Client& c, int k, int n) {
    return Get(
        c, "flood",
        Range("/api/v1/query_range",
              "sum%20by%20(mode)%20(quantile_over_time(0.5%2C%20cpu_seconds_total%5B30m%5D))",
              k * 100000 + n));
  });
}

// LogQL queries run on the same fair queue and yield as PromQL's do: a tenant flooding it
// with regex scans of its logs does not slow another tenant's dashboard either.
TEST_F(FrontendFairnessTest, FloodingTenantsLogQueriesDoNotSlowAnother) {
  ASSERT_NO_FATAL_FAILURE(PushLogs(*client_, "flood", 4, end_, 12));  // 8 streams, 172,808 lines
  ExpectFair([&](http::Client& c, int k, int n) {
    return Get(c, "flood",
               Range("/loki/api/v1/query_range",
                     "sum%20by%20(level)%20(count_over_time(%7Bjob%3D%22web%22%7D%20%7C~%20%22"
                     "status%3D5..%20took%3D9%5B0-9%5Dms%22%20%5B30m%5D))",
                     k * 100000 + n));
  });
}

}  // namespace
}  // namespace strata
