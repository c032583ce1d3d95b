#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "api/prom_api.h"
#include "api/push_api.h"
#include "base/status.h"
#include "generator/generator.h"
#include "limits/limits.h"
#include "objstore/registry.h"
#include "store/gateway.h"
#include "tsdb/compact/compactor.h"

namespace strata::server {

// The `strata serve` configuration. Every field has a default, so an empty file (or none)
// gives a working single-node server; docs/configuration.md lists the keys.
struct Config {
  // server
  std::string listen = ":9009";
  std::string grpc_listen = ":4317";  // OTLP/gRPC; empty: none
  int threads = 0;                    // 0 = one per core
  uint64_t max_request_body_bytes = 10u << 20;
  int64_t idle_timeout_ms = 120'000;
  int64_t shutdown_timeout_ms = 30'000;
  // storage
  std::string data_dir = "./data";
  bool wal_fsync_always = true;  // false: fsync every wal_fsync_interval_ms
  int64_t wal_fsync_interval_ms = 100;
  uint64_t wal_segment_size = 64u << 20;
  uint64_t wal_checkpoint_min_bytes = 256u << 20;
  int64_t block_range_ms = 7'200'000;        // 2h
  int64_t maintenance_interval_ms = 10'000;  // checkpoints and block cuts are checked this often
  uint64_t max_exemplars = 100'000;  // per tenant (Prometheus's max_exemplars); 0: none kept
  // object storage: the default bucket and tenants' own buckets (overrides.<tenant>.bucket)
  objstore::BucketConfig bucket;
  std::map<std::string, objstore::BucketConfig> tenant_buckets;
  // a tenant's log head is cut into a block at this size of lines and metadata, or once its
  // oldest entry is this old
  uint64_t log_block_bytes = uint64_t{64} << 20;
  int64_t log_block_age_ms = 1'800'000;  // 30m
  // a tenant's trace head is cut into a block once it took this many bytes of spans, or once
  // the first of them arrived this long ago; a cut takes the traces idle this long
  uint64_t trace_block_bytes = uint64_t{64} << 20;
  int64_t trace_block_age_ms = 300'000;   // 5m
  int64_t trace_idle_period_ms = 10'000;  // 10s, Tempo's trace_idle_period
  // compactor (inside serve unless disabled; `strata compactor` runs it alone)
  bool compactor_enabled = true;
  int64_t compactor_interval_ms = 300'000;  // 5m
  std::string compactor_listen = ":9010";   // `strata compactor`'s /metrics
  tsdb::compact::CompactorOptions compactor;
  // store gateway
  store::GatewayOptions store_gateway;
  int64_t store_sync_interval_ms = 60'000;
  // log
  std::string log_level = "info";
  // query (engine, default per-tenant limits, workers) and frontend (splitting, caching)
  api::ApiOptions query;
  frontend::ResultsCacheConfig results_cache;
  // ingest over HTTP: the tenant policy (auth.require_tenant) and the decompressed-body bound
  api::PushOptions push;
  // limits (the defaults: limits, query, compactor.retention) and overrides.<tenant>
  limits::TenantOverrides limits;
  // the metrics-generator: span metrics and service graphs into each tenant's metrics
  generator::Options generator;
  // The YAML this was parsed from, for /api/v1/status/config (empty: all defaults).
  std::string source;
};

// Parses YAML text. Unknown keys and malformed values are errors naming the key.
Result<Config> ParseConfig(std::string_view yaml);
Result<Config> LoadConfigFile(const std::string& path);
// `source` with the values of secret keys (S3 secret_access_key, session_token) replaced by
// "<secret>", as YAML: what the status endpoints may show.
std::string RedactedSource(const Config& config);

}  // namespace strata::server
