// Blocks under fire: clients push numbered samples (time-compressed, so a block is cut every
// few seconds) to a server whose bucket is s3rver behind a proxy that fails 10% of requests
// and goes down entirely at times, while the server (with its compactor) is SIGKILLed at
// random moments. Afterwards every acknowledged sample is answered by the query API exactly
// once, and every complete block in the bucket is whole.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "base/units.h"
#include "objstore/s3_bucket.h"
#include "test_util.h"
#include "tsdb/block/bucket_io.h"
#include "tsdb/block/format.h"

namespace strata {
namespace {
using testing::Process;

constexpr int kClients = 3;
constexpr int kSeries = 4;
constexpr int kSamplesPerRequest = 20;  // one per second of sample time
constexpr int kKills = 8;

std::unique_ptr<Process> StartServer(const std::string& dir, const std::string& config, int port) {
  return std::make_unique<Process>(
      std::vector<std::string>{STRATA_BINARY, "serve", "--config", config, "--data-dir", dir,
                               "--listen", "127.0.0.1:" + std::to_string(port), "--grpc-listen",
                               ""},
      dir + "/../server.log");
}

std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.substr(all.size() > 3000 ? all.size() - 3000 : 0);
}

// Parses a query API matrix answer into metric -> t -> v; counts repeated timestamps.
std::map<std::string, std::map<int64_t, double>> ParseMatrix(const std::string& body,
                                                             int* duplicates) {
  std::map<std::string, std::map<int64_t, double>> out;
  size_t pos = 0;
  while ((pos = body.find("\"metric\":{", pos)) != std::string::npos) {
    size_t end = body.find('}', pos);
    std::string metric = body.substr(pos, end - pos);
    size_t vals = body.find("\"values\":[", end);
    size_t stop = body.find("]]", vals);
    auto& series = out[metric];
    size_t p = vals + 10;
    while (p < stop) {
      size_t open = body.find('[', p);
      if (open == std::string::npos || open > stop) break;
      size_t comma = body.find(',', open);
      size_t close = body.find(']', comma);
      double t = std::stod(body.substr(open + 1, comma - open - 1));
      std::string v = body.substr(comma + 2, close - comma - 3);
      auto [it, fresh] = series.emplace(static_cast<int64_t>(std::llround(t * 1000)), std::stod(v));
      if (!fresh) ++*duplicates;
      p = close + 1;
    }
    pos = stop;
  }
  return out;
}

TEST(BlockCrashTest, NoAcknowledgedSampleLostNoDuplicateNoHalfBlock) {
  testing::TempDir tmp("block-crash");
  int s3_port = testing::FreePort();
  auto s3rver = testing::StartS3rver(STRATA_S3RVER, tmp.path(), s3_port);
  int proxy_port = 0;
  auto proxy = testing::StartFaultProxy(STRATA_FAULT_PROXY, s3_port, 0.1, tmp.path() + "/proxy.log",
                                        &proxy_port);
  ASSERT_GT(proxy_port, 0);
  std::string config = tmp.path() + "/strata.yaml";
  std::ofstream(config) << "storage:\n"
                           "  block_range: 1m\n"
                           "  maintenance_interval: 200ms\n"
                           "  bucket:\n"
                           "    type: s3\n"
                           "    s3:\n"
                           "      endpoint: http://127.0.0.1:"
                        << proxy_port
                        << "\n"
                           "      bucket: strata\n"
                           "      access_key_id: S3RVER\n"
                           "      secret_access_key: S3RVER\n"
                           "      max_retries: 3\n"
                           "      request_timeout: 5s\n"
                           "compactor:\n"
                           "  interval: 1s\n"
                           "  ranges: [1m, 5m, 10m]\n"
                           "  deletion_delay: 2s\n"
                           "store_gateway:\n"
                           "  sync_interval: 1s\n"
                           "limits:\n"
                           "  ingestion_rate: 1e9\n"
                           "  ingestion_burst: 1000000000\n";
  std::string dir = tmp.path() + "/data";
  int port = testing::FreePort();
  auto server = StartServer(dir, config, port);
  ASSERT_TRUE(testing::WaitForHttp(port, "/-/ready")) << "server did not become ready";

  const int64_t base = (NowMillis() / 1000 - int64_t{3} * 3600) * 1000;
  const int64_t max_seq = 3 * 3600 - 60;  // sample time stays in the past
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::pair<int, int>, int64_t> acked;  // highest acknowledged sequence per series
  std::atomic<uint64_t> acks{0}, failures{0}, refused{0};
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      int64_t next = 0;
      std::unique_ptr<http::Client> client;
      while (!stop && next + kSamplesPerRequest <= max_seq) {
        if (!client) {
          client = std::make_unique<http::Client>("127.0.0.1", std::to_string(port), 3000);
        }
        proto::WriteRequest wr;
        for (int s = 0; s < kSeries; ++s) {
          proto::TimeSeries ts;
          ts.labels = {{"__name__", "crash_blocks"}, {"id", std::to_string(c * 10 + s)}};
          for (int k = 0; k < kSamplesPerRequest; ++k) {
            int64_t seq = next + k;
            ts.samples.push_back({base + seq * 1000, static_cast<double>(seq)});
          }
          wr.series.push_back(std::move(ts));
        }
        auto res = client->Do(testing::PushRequest(wr));
        if (res.ok() && res->result_int() == 204) {
          std::lock_guard lk(mu);
          next += kSamplesPerRequest;
          for (int s = 0; s < kSeries; ++s) acked[{c, s}] = next - 1;
          acks++;
        } else if (res.ok() && res->result_int() == 400) {
          // A retried batch whose start was stored and cut into a block before the crash
          // ate the answer: those samples are refused as too old now. Move on, as a
          // remote-write sender does; they are not counted as acknowledged.
          EXPECT_NE(res->body().find("too old"), std::string::npos) << res->body();
          next += kSamplesPerRequest;
          refused++;
        } else {
          failures++;
          client.reset();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }

  std::mt19937 rng(std::random_device{}());
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2500));
    if (k == 2 || k == 5) {
      // The bucket goes away for a while; the server keeps acknowledging into its WAL.
      ASSERT_TRUE(testing::SetProxyMode(proxy_port, "down"));
      std::this_thread::sleep_for(std::chrono::milliseconds(3000));
      ASSERT_TRUE(testing::SetProxyMode(proxy_port, "up"));
    }
    server->Kill(SIGKILL);
    server = StartServer(dir, config, port);
    ASSERT_TRUE(testing::WaitForHttp(port, "/-/ready", 120'000))
        << "no restart after kill " << k << "; server log ends:\n"
        << LogTail(dir + "/../server.log");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : clients) t.join();
  // Let cuts, uploads and compactions settle, then ask the query API for everything.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  int64_t end_s = (base + max_seq * 1000) / 1000 + 60;
  http::Client client("127.0.0.1", std::to_string(port), 30'000);
  auto res = client.Do(
      http::Request(boost::beast::http::verb::get,
                    "/api/v1/query?query=crash_blocks%5B4h%5D&time=" + std::to_string(end_s), 11));
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->result_int(), 200) << res->body();
  int duplicates = 0;
  auto got = ParseMatrix(res->body(), &duplicates);
  EXPECT_EQ(duplicates, 0) << "a sample is visible twice";

  uint64_t checked = 0;
  for (const auto& [key, last] : acked) {
    std::string metric = "\"metric\":{\"__name__\":\"crash_blocks\",\"id\":\"" +
                         std::to_string(key.first * 10 + key.second) + "\"";
    auto it = got.find(metric);
    ASSERT_NE(it, got.end()) << "series lost: " << metric;
    for (int64_t seq = 0; seq <= last; ++seq) {
      auto s = it->second.find(base + seq * 1000);
      ASSERT_NE(s, it->second.end())
          << "acknowledged sample " << seq << " of " << metric << " is missing; have "
          << it->second.size() << " samples from seq "
          << (it->second.empty() ? -1 : (it->second.begin()->first - base) / 1000) << " to "
          << (it->second.empty() ? -1 : (it->second.rbegin()->first - base) / 1000)
          << ", acknowledged up to " << last;
      ASSERT_EQ(s->second, static_cast<double>(seq));
      ++checked;
    }
  }

  // Every complete block is whole: all its objects exist at the sizes meta.json gives.
  // The server stops first: s3rver (unlike S3) lets a reader see an object while it is
  // being written, so the bucket is checked at rest.
  server->Kill(SIGTERM);
  objstore::S3Options o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(s3_port);
  o.bucket = "strata";
  o.access_key_id = "S3RVER";
  o.secret_access_key = "S3RVER";
  auto bucket = objstore::S3Bucket::Open(o).value();
  auto listed = blocks::ListBlocks(*bucket, tsdb::block::MetricsRoot("anonymous"));
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  int complete = 0;
  int compacted = 0;
  for (const auto& b : *listed) {
    if (!b.complete) continue;
    ++complete;
    auto meta = tsdb::block::ReadMeta(*bucket, "anonymous", b.id);
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    compacted += meta->level > 1 ? 1 : 0;
    auto objects = bucket->List(tsdb::block::BlockPrefix("anonymous", b.id), true).value();
    std::map<std::string, uint64_t> sizes;
    for (const auto& ob : objects) sizes[ob.key] = ob.size;
    for (uint32_t sh = 0; sh < meta->shards.size(); ++sh) {
      std::string prefix = tsdb::block::BlockPrefix("anonymous", b.id);
      EXPECT_EQ(sizes[prefix + tsdb::block::ChunksFile(sh)], meta->shards[sh].chunks_bytes);
      EXPECT_EQ(sizes[prefix + tsdb::block::IndexFile(sh)], meta->shards[sh].index_bytes);
    }
  }
  EXPECT_GT(complete, 0);
  EXPECT_GT(checked, 0u);
  std::cout << "block crash test: " << kKills << " kills, 2 bucket outages, " << acks.load()
            << " acknowledged requests, " << failures.load() << " failed attempts, "
            << refused.load() << " refused retries, " << checked << " samples verified, "
            << complete << " complete blocks in the bucket (" << compacted << " compacted)\n";
}

}  // namespace
}  // namespace strata
