#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/queue/queue.h"
#include "agent/sample/policy.h"
#include "agent/scrape/relabel.h"
#include "base/status.h"
#include "limits/limits.h"

namespace strata::agent {

// One endpoint an exporter can deliver to.
struct BackendConfig {
  std::string url;  // the full endpoint, e.g. http://host:9009/api/v1/push
  // Active health probe: GET this URL; an answer below 500 = up (a receiver without the path
  // answers 404 and is still up), 5xx or no answer = down. Default: /-/ready on the host;
  // "none" leaves health to the sends' outcomes alone.
  std::string probe_url;
  std::map<std::string, std::string> headers;  // added to every request (auth)
  bool operator==(const BackendConfig&) const = default;
};

// Health checking with hysteresis: a backend goes down after `unhealthy_after` failures in a
// row (probes or sends) and comes back after `healthy_after` successes in a row.
struct HealthOptions {
  int64_t probe_interval_ms = 5'000;
  int64_t probe_timeout_ms = 2'000;
  int unhealthy_after = 3;
  int healthy_after = 2;
  bool operator==(const HealthOptions&) const = default;
};

enum class ExporterType { kRemoteWrite, kOtlpHttp, kLoki };

// The OTLP signals an otlp_http exporter sends (`signals: [metrics, logs, traces]`, the default).
struct OtlpSignals {
  bool metrics = true, logs = true, traces = true;
  bool operator==(const OtlpSignals&) const = default;
};

struct ExporterConfig {
  std::string name;
  ExporterType type = ExporterType::kRemoteWrite;
  OtlpSignals signals;  // otlp_http only
  // backends[0] is the primary, the rest are failovers in order of preference.
  std::vector<BackendConfig> backends;
  std::string tenant;  // when set, sent as X-Scope-OrgID instead of the received tenant
  int64_t timeout_ms = 30'000;
  // A request merges queued records up to these bounds (bytes as queued, snappy-compressed).
  // The next request is prepared while one is in flight, so moderate requests keep the
  // backend busy; larger ones only cost memory (measured in bench/agent).
  uint64_t max_batch_bytes = 8u << 20;
  uint32_t max_batch_items = 10'000;
  // A request smaller than those bounds waits this long after its first record for more, so
  // a stream of small requests (browsers, small clients) goes out in fewer, larger ones.
  int64_t batch_wait_ms = 5;
  int64_t min_backoff_ms = 100;
  int64_t max_backoff_ms = 10'000;
  // Items per second sent at most (a backlog drains at this rate); 0 = as fast as the backend
  // acknowledges.
  double max_send_rate = 0;
  // Requests in flight at once. remote_write splits each batch over this many lanes by series
  // (each lane in order, so per-series order holds): worth it when the backend's round trip,
  // not the agent's CPU, is the limit; other types send one at a time.
  size_t concurrency = 1;
  HealthOptions health;
  QueueOptions queue;
  bool operator==(const ExporterConfig&) const = default;
};

// Per-tenant rate limits of what receivers accept (limits.defaults, limits.tenants.<id>).
using RateLimitTable = limits::Overrides<limits::RateLimits>;

// What a receiver does with requests that carry no X-Scope-OrgID.
struct ReceiverConfig {
  std::string tenant;  // used when the header is absent; empty = none (the backend decides)
  bool operator==(const ReceiverConfig&) const = default;
};

// Where the Faro receiver finds source maps for exception stack frames, as Alloy's
// faro.receiver `sourcemaps` block.
struct FaroSourceMaps {
  struct Location {
    std::string path;                  // a directory; "{{ .Release }}" is the app's release
    std::string minified_path_prefix;  // the frames' URL prefix this directory serves
    bool operator==(const Location&) const = default;
  };
  std::vector<Location> locations;  // tried first, in order
  // Fetch the script named by a frame (http or https) and the map its sourceMappingURL names,
  // from these origins only (URL prefixes, or "*"); off by default: the URLs come from
  // browsers.
  bool download = false;
  std::vector<std::string> download_from_origins;
  int64_t download_timeout_ms = 1'000;
  bool operator==(const FaroSourceMaps&) const = default;
};

// The Faro receiver (POST /collect, /collect/{app-key}) for the Grafana Faro Web SDK, with the
// settings of Grafana Alloy's faro.receiver (docs/agent.md).
struct FaroConfig {
  bool enabled = true;
  std::string tenant;   // used without X-Scope-OrgID or an app key's tenant
  std::string api_key;  // when set, requests must carry it in x-api-key
  // /collect/{key}: the keys accepted there, each with its tenant ("" = `tenant`).
  std::map<std::string, std::string> app_keys;
  // Origins answered with CORS headers: exact (case aside), "*" for any, or one * wildcard
  // ("https://*.example.com"), kept in lower case. Empty: no CORS headers (same-origin pages
  // only).
  std::vector<std::string> cors_allowed_origins;
  // Trace-context headers the SDK may add to its requests, allowed by CORS preflights beside
  // the SDK's own (content-type, content-encoding, x-api-key, x-faro-session-id,
  // x-scope-orgid, idempotency-key); others are refused.
  std::vector<std::string> trace_context_headers = {"traceparent", "tracestate", "b3",
                                                    "uber-trace-id"};
  uint64_t max_payload_size = 5u << 20;  // request body as sent (413 beyond)
  // Requests per second per app (meta.app name and environment), or for all apps together.
  bool rate_limiting = false;
  bool per_app = true;
  double rate = 50, burst_size = 100;
  // Loki stream labels: a value sets a fixed label; "" takes the line's key of that name.
  std::vector<std::pair<std::string, std::string>> extra_log_labels = {{"app_name", ""},
                                                                       {"kind", ""}};
  bool json_lines = false;  // log_format: json (default logfmt)
  FaroSourceMaps sourcemaps;
  bool operator==(const FaroConfig&) const = default;
};

// Tail sampling of the OTLP traces path (`tail_sampling`): the OpenTelemetry Collector's
// tail_sampling processor keys as they are, plus Strata's memory bound, queue and peers.
struct TailSamplingConfig {
  bool enabled = false;  // a tail_sampling block is present
  // How long after a trace's first span its decision is made.
  int64_t decision_wait_ms = 30'000;
  // Traces waiting for a decision at most; at the bound spans wait on disk (back-pressure).
  uint64_t num_traces = 50'000;
  uint64_t expected_new_traces_per_sec = 0;  // a sizing hint there; accepted, not needed here
  // Decisions remembered so late spans follow their trace (kept on disk across restarts).
  uint64_t sampled_cache_size = 100'000;
  uint64_t non_sampled_cache_size = 100'000;
  // Memory of spans waiting for a decision at most (Strata's bound beside num_traces).
  uint64_t max_buffered_bytes = 256u << 20;
  bool sample_on_first_match = false;
  std::vector<PolicyConfig> policies;
  // Several agents: every agent lists the same peer URLs (http://host:port of their HTTP
  // listeners), `self` being its own; each owns a share of trace IDs and forwards the rest.
  std::string self;
  std::vector<std::string> peers;
  QueueOptions queue;  // of the spans queue and of each peer's forwarding queue
  bool operator==(const TailSamplingConfig&) const = default;
};

// Targets listed in the configuration.
struct StaticTargets {
  std::vector<std::string> targets;  // host:port
  std::map<std::string, std::string> labels;
  bool operator==(const StaticTargets&) const = default;
};

// Targets read from files (YAML or JSON lists of {targets, labels}), Prometheus's file_sd.
struct FileSdConfig {
  std::vector<std::string> files;  // paths; the last path element may hold * and ? globs
  int64_t refresh_interval_ms = int64_t{5} * 60'000;
  bool operator==(const FileSdConfig&) const = default;
};

// One scrape job, with Prometheus's scrape_config keys and defaults.
struct ScrapeConfig {
  std::string job_name;
  int64_t interval_ms = 60'000;
  int64_t timeout_ms = 10'000;
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::map<std::string, std::vector<std::string>> params;
  bool honor_labels = false;
  bool honor_timestamps = true;
  uint64_t sample_limit = 0;  // 0 = none; beyond it the scrape fails
  uint64_t body_size_limit_bytes = 64u << 20;
  std::string tenant;  // X-Scope-OrgID of the scraped samples; empty = none
  std::vector<StaticTargets> static_configs;
  std::vector<FileSdConfig> file_sd_configs;
  std::vector<RelabelRule> relabel_configs;         // on target labels
  std::vector<RelabelRule> metric_relabel_configs;  // on scraped series
  bool operator==(const ScrapeConfig&) const = default;
};

struct AgentConfig {
  // One HTTP listener for every HTTP receiver (remote write, OTLP/HTTP, Loki push), /metrics
  // and /-/reload. 4318 is OTLP/HTTP's default port, so OTel SDKs find it unconfigured.
  std::string listen = ":4318";
  // OTLP/gRPC (4317, OTLP's default gRPC port); empty disables it.
  std::string grpc_listen = ":4317";
  std::string data_dir = "./agent-data";
  uint64_t max_request_body_bytes = 10u << 20;
  uint64_t max_decompressed_body_bytes = 64u << 20;
  // Bytes of request bodies being decoded and queued at once; beyond it receivers answer 503.
  uint64_t memory_budget_bytes = 256u << 20;
  std::string log_level = "info";
  ReceiverConfig remote_write, otlp, loki;
  FaroConfig faro;
  TailSamplingConfig tail_sampling;
  RateLimitTable limits;
  std::vector<ScrapeConfig> scrape_configs;
  std::vector<ExporterConfig> exporters;
};

// Parses YAML text (docs/agent.md lists the keys). Unknown keys and malformed values are
// errors naming the key. Without exporters, every signal goes to a local `strata serve` on
// :9009: metrics by remote write (exporter "default"), OTLP logs and traces by OTLP/HTTP
// ("otlp") and Loki pushes by Loki push ("loki").
Result<AgentConfig> ParseAgentConfig(std::string_view yaml);
Result<AgentConfig> LoadAgentConfigFile(const std::string& path);

}  // namespace strata::agent
