#include "server/config.h"

#include <gtest/gtest.h>

namespace strata::server {
namespace {

TEST(Config, EmptyGivesDefaults) {
  auto c = ParseConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, ":9009");
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_TRUE(c->wal_fsync_always);
  EXPECT_FALSE(c->push.tenants.require);
}

TEST(Config, FullFileAndOverrides) {
  auto c = ParseConfig(R"(
server:
  listen: 127.0.0.1:9100
  max_request_body: 4MiB
storage:
  data_dir: /var/lib/strata
  wal:
    fsync: interval
    fsync_interval: 250ms
auth:
  require_tenant: true
limits:
  ingestion_rate: 5000
  max_active_series: 100
  out_of_order_window: 5m
  reject_labels: [user_id, session_id]
  logs:
    max_line_size: 1MiB
    reject_old_samples_max_age: 2d
  traces:
    max_bytes_per_trace: 1MB
overrides:
  big-team:
    ingestion_rate: 1e6
    logs:
      ingestion_rate_mb: 8
    traces:
      ingestion_rate_limit_bytes: 15000000
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:9100");
  EXPECT_EQ(c->max_request_body_bytes, 4u << 20);
  EXPECT_FALSE(c->wal_fsync_always);
  EXPECT_EQ(c->wal_fsync_interval_ms, 250);
  EXPECT_TRUE(c->push.tenants.require);
  EXPECT_EQ(c->limits.defaults.ingest.out_of_order_window_ms, 300'000);
  EXPECT_EQ(c->limits.For("someone").ingest.ingestion_rate, 5000);
  const auto& big = c->limits.For("big-team").ingest;
  EXPECT_EQ(big.ingestion_rate, 1e6);
  EXPECT_EQ(big.max_active_series, 100u);  // inherited from the global limits
  EXPECT_EQ(big.reject_labels.size(), 2u);
  // Log limits: Loki's names; a tenant's section starts from the global one.
  const auto& logs = c->limits.For("someone").logs;
  EXPECT_EQ(logs.max_line_size, 1u << 20);
  EXPECT_EQ(logs.reject_old_samples_max_age_ms, 2 * 86'400'000);
  EXPECT_EQ(logs.ingestion_rate_mb, 0);  // unlimited unless configured
  EXPECT_EQ(logs.max_label_names_per_series, 15u);
  const auto& big_logs = c->limits.For("big-team").logs;
  EXPECT_EQ(big_logs.ingestion_rate_mb, 8);
  EXPECT_EQ(big_logs.max_line_size, 1u << 20);
  // Trace limits: Tempo's names, inherited the same way.
  EXPECT_EQ(c->limits.For("someone").traces.max_bytes_per_trace, 1'000'000u);
  EXPECT_EQ(c->limits.For("someone").traces.ingestion_rate_limit_bytes, 0);
  EXPECT_EQ(c->limits.For("big-team").traces.ingestion_rate_limit_bytes, 15e6);
  EXPECT_EQ(c->limits.For("big-team").traces.max_bytes_per_trace, 1'000'000u);
}

TEST(Config, ErrorsNameTheKey) {
  auto bad = [](const char* yaml) { return ParseConfig(yaml).status().message(); };
  EXPECT_NE(bad("server:\n  lisen: x\n").find("server.lisen"), std::string::npos);
  EXPECT_NE(bad("limits:\n  ingestion_rate: fast\n").find("limits.ingestion_rate"),
            std::string::npos);
  EXPECT_NE(bad("storage:\n  wal:\n    fsync: sometimes\n").find("storage.wal.fsync"),
            std::string::npos);
  EXPECT_NE(bad("limits:\n  out_of_order_window: 5 minutes\n").find("out_of_order_window"),
            std::string::npos);
  EXPECT_NE(bad("overrides:\n  t:\n    nope: 1\n").find("overrides.t.nope"), std::string::npos);
  EXPECT_NE(bad("limits:\n  logs:\n    max_lines: 1\n").find("limits.logs.max_lines"),
            std::string::npos);
  EXPECT_NE(
      bad("overrides:\n  t:\n    logs:\n      ingestion_rate_mb: -1\n").find("overrides.t.logs"),
      std::string::npos);
  EXPECT_NE(bad("limits:\n  traces:\n    max_traces: 1\n").find("limits.traces.max_traces"),
            std::string::npos);
  EXPECT_NE(bad("overrides:\n  t:\n    traces:\n      ingestion_burst_size_bytes: -1\n")
                .find("overrides.t.traces"),
            std::string::npos);
  EXPECT_NE(bad("storage:\n  trace_block_age: 0s\n").find("storage.trace_block_age"),
            std::string::npos);
  EXPECT_NE(bad("[1, 2").find("invalid YAML"), std::string::npos);
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST(Config, QueryAndFrontendSections) {
  auto c = ParseConfig(R"(
auth:
  require_tenant: true
query:
  timeout: 30s
  lookback_delta: 10m
  max_samples: 1000
  max_series: 5000
  max_query_length: 31d
  max_concurrent: 3
  adaptive_resolution: true
  max_points: 2000000
frontend:
  split_interval: 12h
  max_parallel_splits: 2
  max_outstanding_per_tenant: 7
  max_freshness: 5m
  slow_query_threshold: 2s
  results_cache:
    type: memcached
    memcached:
      addresses: [127.0.0.1:11211, cache-2:11211]
      timeout: 100ms
      ttl: 24h
overrides:
  big:
    query:
      timeout: 5m
      max_series: 0
      adaptive_resolution: false
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& l = c->limits.defaults.query;
  EXPECT_EQ(l.timeout_ms, 30000);
  EXPECT_EQ(c->query.engine.timeout_ms, 30000);
  EXPECT_EQ(c->query.engine.lookback_delta_ms, 600000);
  EXPECT_EQ(l.max_samples, 1000u);
  EXPECT_EQ(c->query.engine.max_samples, 1000u);
  EXPECT_EQ(l.max_series, 5000u);
  EXPECT_EQ(l.max_query_length_ms, int64_t{31} * 24 * 3600 * 1000);
  EXPECT_TRUE(l.adaptive_resolution);
  EXPECT_EQ(l.max_points, 2'000'000u);
  EXPECT_EQ(c->query.scheduler.workers, 3u);
  EXPECT_EQ(c->query.scheduler.max_outstanding_per_tenant, 7u);
  EXPECT_EQ(c->query.frontend.split_interval_ms, 12 * 3'600'000);
  EXPECT_EQ(c->query.frontend.max_parallel_splits, 2u);
  EXPECT_EQ(c->query.frontend.max_freshness_ms, 300'000);
  EXPECT_EQ(c->query.frontend.slow_query_ms, 2000);
  EXPECT_EQ(c->results_cache.type, "memcached");
  EXPECT_EQ(c->results_cache.memcached.addresses.size(), 2u);
  EXPECT_EQ(c->results_cache.memcached.timeout_ms, 100);
  EXPECT_EQ(c->results_cache.memcached.ttl_s, 86'400);
  const auto& big = c->limits.For("big").query;
  EXPECT_EQ(big.timeout_ms, 300'000);
  EXPECT_EQ(big.max_series, 0u);
  EXPECT_EQ(big.max_samples, 1000u);  // from the defaults above
  EXPECT_FALSE(big.adaptive_resolution);
  EXPECT_EQ(&c->limits.For("other").query, &l);
  EXPECT_TRUE(c->query.tenants.require);
  EXPECT_FALSE(ParseConfig("query:\n  timeout: 0s\n").ok());
  EXPECT_FALSE(ParseConfig("query:\n  max_sample: 1\n").ok());
  EXPECT_FALSE(ParseConfig("frontend:\n  results_cache:\n    type: redis\n").ok());
  EXPECT_FALSE(ParseConfig("frontend:\n  results_cache:\n    type: memcached\n").ok());
  EXPECT_FALSE(ParseConfig("overrides:\n  t:\n    query:\n      max_seris: 1\n").ok());
}

TEST(Config, ObjectStorageCompactorAndTenantBuckets) {
  auto c = ParseConfig(R"(
storage:
  block_range: 1h
  bucket:
    type: s3
    s3:
      endpoint: http://127.0.0.1:4568
      bucket: metrics
      region: eu-west-1
      addressing: virtual
      max_retries: 3
      request_timeout: 30s
compactor:
  interval: 1m
  ranges: [1h, 6h, 24h]
  deletion_delay: 30m
  retention:
    raw: 30d
    5m: 90d
store_gateway:
  cache_size: 1GiB
overrides:
  acme:
    bucket:
      type: filesystem
      dir: /srv/acme
    retention:
      raw: 7d
    ingestion_rate: 10
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->block_range_ms, 3600'000);
  EXPECT_EQ(c->bucket.type, "s3");
  EXPECT_EQ(c->bucket.s3.bucket, "metrics");
  EXPECT_FALSE(c->bucket.s3.path_style);
  EXPECT_EQ(c->bucket.s3.max_retries, 3);
  EXPECT_EQ(c->compactor.ranges, (std::vector<int64_t>{3'600'000, 21'600'000, 86'400'000}));
  EXPECT_EQ(c->limits.defaults.retention.raw_ms, int64_t{30} * 86'400'000);
  EXPECT_EQ(c->limits.defaults.retention.res_1h_ms, 0);
  EXPECT_EQ(c->store_gateway.cache_bytes, 1u << 30);
  EXPECT_EQ(c->tenant_buckets.at("acme").dir, "/srv/acme");
  EXPECT_EQ(c->limits.tenants.at("acme").retention.raw_ms, int64_t{7} * 86'400'000);
  EXPECT_EQ(c->limits.tenants.at("acme").retention.res_5m_ms, int64_t{90} * 86'400'000);
  EXPECT_EQ(c->limits.tenants.at("acme").ingest.ingestion_rate, 10);
}

TEST(Config, RedactedSourceHidesSecrets) {
  auto c = ParseConfig(R"(
storage:
  bucket:
    type: s3
    s3:
      bucket: metrics
      access_key_id: AKIDEXAMPLE
      secret_access_key: wJalrXUtnFEMI
      session_token: FwoGZXIvYXdzE
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string shown = RedactedSource(*c);
  EXPECT_EQ(shown.find("wJalrXUtnFEMI"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("FwoGZXIvYXdzE"), std::string::npos) << shown;
  EXPECT_NE(shown.find("secret_access_key: <secret>"), std::string::npos) << shown;
  EXPECT_NE(shown.find("access_key_id: AKIDEXAMPLE"), std::string::npos) << shown;
  EXPECT_EQ(RedactedSource(*ParseConfig("")), "");
}

TEST(Config, ObjectStorageErrorsNameTheKey) {
  auto err = [](const char* yaml) { return ParseConfig(yaml).status().message(); };
  EXPECT_NE(err("storage: {bucket: {type: gcs}}").find("storage.bucket.type"), std::string::npos);
  EXPECT_NE(err("storage: {bucket: {type: s3}}").find("storage.bucket.s3.bucket"),
            std::string::npos);
  EXPECT_NE(err("storage: {bucket: {s3: {addressing: odd}}}").find("addressing"),
            std::string::npos);
  EXPECT_NE(err("storage: {block_range: 7h}").find("storage.block_range"), std::string::npos);
  EXPECT_NE(err("compactor: {ranges: [1h, 12h]}").find("compactor.ranges"), std::string::npos);
  EXPECT_NE(err("compactor: {retention: {raw: 1d, weekly: 1d}}").find("compactor.retention.weekly"),
            std::string::npos);
  EXPECT_NE(err("overrides: {t: {bucket: {typo: 1}}}").find("overrides.t.bucket.typo"),
            std::string::npos);
}

// Trace retention (Tempo's block_retention), per tenant like the others.
TEST(Config, TraceRetention) {
  auto c = ParseConfig(R"(
compactor:
  retention: {traces: 336h, logs: 30d}
overrides:
  acme:
    retention: {traces: 2d}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->limits.defaults.retention.traces_ms, int64_t{14} * 86'400'000);
  const auto& acme = c->limits.tenants.at("acme").retention;
  EXPECT_EQ(acme.traces_ms, int64_t{2} * 86'400'000);
  EXPECT_EQ(acme.logs_ms, int64_t{30} * 86'400'000);
}

// Log retention as Loki configures it (retention_period, retention_stream), and the log
// block cut thresholds.
TEST(Config, LogRetentionAndBlockCuts) {
  auto c = ParseConfig(R"(
storage:
  log_block_size: 16MiB
  log_block_age: 10m
compactor:
  retention:
    logs: 30d
    log_streams:
      - {selector: '{namespace="dev"}', priority: 1, period: 24h}
      - {selector: '{app=~"audit.*"}', priority: 2, period: 400d}
      - {selector: '{app="noise"}', priority: -1, period: 1h}
overrides:
  acme:
    retention: {logs: 7d, log_streams: []}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_block_bytes, uint64_t{16} << 20);
  EXPECT_EQ(c->log_block_age_ms, 600'000);
  const auto& r = c->limits.defaults.retention;
  EXPECT_EQ(r.logs_ms, int64_t{30} * 86'400'000);
  ASSERT_EQ(r.log_streams.size(), 3u);
  EXPECT_EQ(r.log_streams[2].priority, -1);
  EXPECT_EQ(r.log_streams[1].selector, R"({app=~"audit.*"})");
  Labels dev_audit{{"app", "audit-x"}, {"namespace", "dev"}}, dev{{"namespace", "dev"}},
      prod{{"namespace", "prod"}};
  EXPECT_EQ(r.LogStreamMs(dev_audit), int64_t{400} * 86'400'000);
  EXPECT_EQ(r.LogStreamMs(dev), int64_t{86'400'000});
  EXPECT_EQ(r.LogStreamMs(prod), int64_t{30} * 86'400'000);
  const auto& acme = c->limits.tenants.at("acme").retention;
  EXPECT_EQ(acme.logs_ms, int64_t{7} * 86'400'000);
  EXPECT_TRUE(acme.log_streams.empty());
  EXPECT_EQ(acme.raw_ms, r.raw_ms);

  auto err = [](const std::string& yaml) {
    auto bad = ParseConfig(yaml);
    return bad.ok() ? std::string() : bad.status().message();
  };
  EXPECT_NE(err("compactor: {retention: {log_streams: [{selector: 'app=x', period: 1d}]}}")
                .find("compactor.retention.log_streams[0].selector"),
            std::string::npos);
  EXPECT_NE(err("compactor: {retention: {log_streams: [{selector: '{a=\"b\"}', ttl: 1d}]}}")
                .find("compactor.retention.log_streams[0].ttl"),
            std::string::npos);
  EXPECT_NE(err("storage: {log_block_size: 0}").find("storage.log_block_size"), std::string::npos);
  EXPECT_NE(err("compactor: {retention: {log_streams: [{selector: '{a=\"b\"}'}]}}")
                .find("compactor.retention.log_streams[0]\" needs a selector and a period"),
            std::string::npos);
}

}  // namespace
}  // namespace strata::server
