#include "server/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "base/units.h"
#include "base/yaml_section.h"
#include "logql/parser.h"

namespace strata::server {
namespace {

Status ParseLimits(const YAML::Node& node, const std::string& path, limits::IngestLimits& l) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Double("ingestion_rate", l.ingestion_rate));
  RETURN_IF_ERROR(s.Int("ingestion_burst", l.ingestion_burst));
  RETURN_IF_ERROR(s.Int("max_active_series", l.max_active_series));
  RETURN_IF_ERROR(s.Int("max_series_per_metric", l.max_series_per_metric));
  RETURN_IF_ERROR(s.Int("max_label_names_per_series", l.max_label_names_per_series));
  RETURN_IF_ERROR(s.Int("max_label_name_length", l.max_label_name_length));
  RETURN_IF_ERROR(s.Int("max_label_value_length", l.max_label_value_length));
  RETURN_IF_ERROR(s.Duration("creation_grace_period", l.creation_grace_period_ms));
  RETURN_IF_ERROR(s.Duration("out_of_order_window", l.out_of_order_window_ms));
  RETURN_IF_ERROR(s.StrList("reject_labels", l.reject_labels));
  RETURN_IF_ERROR(s.StrList("drop_labels", l.drop_labels));
  std::string scheme;
  RETURN_IF_ERROR(s.Str("name_validation", scheme));
  if (scheme == "legacy") {
    l.name_validation = limits::NameValidation::kLegacy;
  } else if (scheme == "utf8") {
    l.name_validation = limits::NameValidation::kUtf8;
  } else if (!scheme.empty()) {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.name_validation\": want legacy or utf8, got \"{}\"", path, scheme));
  }
  return s.Unknown();
}

Status ParseLogLimits(const YAML::Node& node, const std::string& path, limits::LogLimits& l) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Double("ingestion_rate_mb", l.ingestion_rate_mb));
  RETURN_IF_ERROR(s.Double("ingestion_burst_size_mb", l.ingestion_burst_size_mb));
  RETURN_IF_ERROR(s.Bytes("max_line_size", l.max_line_size));
  RETURN_IF_ERROR(s.Bool("max_line_size_truncate", l.max_line_size_truncate));
  RETURN_IF_ERROR(s.Int("max_label_names_per_series", l.max_label_names_per_series));
  RETURN_IF_ERROR(s.Int("max_label_name_length", l.max_label_name_length));
  RETURN_IF_ERROR(s.Int("max_label_value_length", l.max_label_value_length));
  RETURN_IF_ERROR(s.Int("max_global_streams_per_user", l.max_global_streams_per_user));
  RETURN_IF_ERROR(s.Bool("reject_old_samples", l.reject_old_samples));
  RETURN_IF_ERROR(s.Duration("reject_old_samples_max_age", l.reject_old_samples_max_age_ms));
  RETURN_IF_ERROR(s.Duration("creation_grace_period", l.creation_grace_period_ms));
  RETURN_IF_ERROR(s.Duration("out_of_order_window", l.out_of_order_window_ms));
  RETURN_IF_ERROR(s.Bytes("max_structured_metadata_size", l.max_structured_metadata_size));
  RETURN_IF_ERROR(
      s.Int("max_structured_metadata_entries_count", l.max_structured_metadata_entries_count));
  RETURN_IF_ERROR(s.Unknown());
  if (l.ingestion_rate_mb < 0 || l.ingestion_burst_size_mb < 0 || l.out_of_order_window_ms < 0) {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}\": ingestion_rate_mb, ingestion_burst_size_mb and out_of_order_window "
        "must not be negative",
        path));
  }
  return Status::Ok();
}

Status ParseTraceLimits(const YAML::Node& node, const std::string& path, limits::TraceLimits& l) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Double("ingestion_rate_limit_bytes", l.ingestion_rate_limit_bytes));
  RETURN_IF_ERROR(s.Double("ingestion_burst_size_bytes", l.ingestion_burst_size_bytes));
  RETURN_IF_ERROR(s.Bytes("max_bytes_per_trace", l.max_bytes_per_trace));
  RETURN_IF_ERROR(s.Unknown());
  if (l.ingestion_rate_limit_bytes < 0 || l.ingestion_burst_size_bytes < 0) {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}\": ingestion_rate_limit_bytes and ingestion_burst_size_bytes must not be "
        "negative",
        path));
  }
  return Status::Ok();
}

// Limits for metrics ingestion at the top of `node`, for logs under its `logs` key and for
// traces under `traces` (limits, overrides.<tenant>).
Status ParseSignalLimits(const YAML::Node& node, const std::string& path, limits::TenantLimits& l) {
  YAML::Node rest = YAML::Clone(node);
  if (rest.IsMap() && rest["logs"]) {
    RETURN_IF_ERROR(ParseLogLimits(rest["logs"], path + ".logs", l.logs));
    rest.remove("logs");
  }
  if (rest.IsMap() && rest["traces"]) {
    RETURN_IF_ERROR(ParseTraceLimits(rest["traces"], path + ".traces", l.traces));
    rest.remove("traces");
  }
  return ParseLimits(rest, path, l.ingest);
}

Status ParseBucket(const YAML::Node& node, const std::string& path, objstore::BucketConfig& b) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Str("type", b.type));
  RETURN_IF_ERROR(s.Str("dir", b.dir));
  YamlSection s3(s.Get("s3"), path + ".s3");
  RETURN_IF_ERROR(s3.Check());
  auto& o = b.s3;
  RETURN_IF_ERROR(s3.Str("endpoint", o.endpoint));
  RETURN_IF_ERROR(s3.Str("bucket", o.bucket));
  RETURN_IF_ERROR(s3.Str("region", o.region));
  RETURN_IF_ERROR(s3.Str("prefix", o.prefix));
  std::string addressing;
  RETURN_IF_ERROR(s3.Str("addressing", addressing));
  if (addressing == "virtual") {
    o.path_style = false;
  } else if (addressing == "path") {
    o.path_style = true;
  } else if (!addressing.empty()) {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.s3.addressing\": want path or virtual, got \"{}\"", path, addressing));
  }
  RETURN_IF_ERROR(s3.Str("access_key_id", o.access_key_id));
  RETURN_IF_ERROR(s3.Str("secret_access_key", o.secret_access_key));
  RETURN_IF_ERROR(s3.Str("session_token", o.session_token));
  RETURN_IF_ERROR(s3.Str("credentials_file", o.credentials_file));
  RETURN_IF_ERROR(s3.Str("profile", o.profile));
  RETURN_IF_ERROR(s3.Duration("connect_timeout", o.connect_timeout_ms));
  RETURN_IF_ERROR(s3.Duration("request_timeout", o.request_timeout_ms));
  RETURN_IF_ERROR(s3.Int("max_retries", o.max_retries));
  RETURN_IF_ERROR(s3.Bytes("part_size", o.part_size));
  RETURN_IF_ERROR(s3.Unknown());
  RETURN_IF_ERROR(s.Unknown());
  if (b.type != "filesystem" && b.type != "s3" && b.type != "memory") {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.type\": want filesystem, s3 or memory, got \"{}\"", path, b.type));
  }
  if (b.type == "s3" && o.bucket.empty()) {
    return Status::InvalidArgument(fmt::format("config: \"{}.s3.bucket\" is required", path));
  }
  return Status::Ok();
}

Status ParseRetention(const YAML::Node& node, const std::string& path, limits::Retention& r) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Duration("raw", r.raw_ms));
  RETURN_IF_ERROR(s.Duration("5m", r.res_5m_ms));
  RETURN_IF_ERROR(s.Duration("1h", r.res_1h_ms));
  RETURN_IF_ERROR(s.Duration("logs", r.logs_ms));
  RETURN_IF_ERROR(s.Duration("traces", r.traces_ms));
  if (YAML::Node streams = s.Get("log_streams"); streams && !streams.IsNull()) {
    const std::string list = s.Path("log_streams");
    if (!streams.IsSequence()) {
      return Status::InvalidArgument(fmt::format("config: \"{}\" must be a list", list));
    }
    r.log_streams.clear();
    for (size_t i = 0; i < streams.size(); ++i) {
      YamlSection rule(streams[i], fmt::format("{}[{}]", list, i));
      RETURN_IF_ERROR(rule.Check());
      limits::StreamRetention sr;
      std::string priority = "0";
      sr.period_ms = -1;
      RETURN_IF_ERROR(rule.Str("selector", sr.selector));
      RETURN_IF_ERROR(rule.Str("priority", priority));
      RETURN_IF_ERROR(rule.Duration("period", sr.period_ms));
      RETURN_IF_ERROR(rule.Unknown());
      auto [end, err] =
          std::from_chars(priority.data(), priority.data() + priority.size(), sr.priority);
      if (err != std::errc() || end != priority.data() + priority.size()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}\": want an integer", rule.Path("priority")));
      }
      if (sr.selector.empty() || sr.period_ms < 0) {
        return Status::InvalidArgument(fmt::format("config: \"{}\" needs a selector and a period",
                                                   fmt::format("{}[{}]", list, i)));
      }
      auto matchers = logql::ParseMatchers(sr.selector, true);
      if (!matchers.ok()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}\": {}", rule.Path("selector"), matchers.status().message()));
      }
      sr.matchers = std::move(matchers).value();
      r.log_streams.push_back(std::move(sr));
    }
  }
  return s.Unknown();
}

// The per-tenant query limits among the keys of `s` (query, overrides.<tenant>.query).
Status ParseQueryLimits(YamlSection& s, limits::QueryLimits& l) {
  RETURN_IF_ERROR(s.Duration("timeout", l.timeout_ms));
  RETURN_IF_ERROR(s.Int("max_samples", l.max_samples));
  RETURN_IF_ERROR(s.Int("max_series", l.max_series));
  RETURN_IF_ERROR(s.Duration("max_query_length", l.max_query_length_ms));
  RETURN_IF_ERROR(s.Bool("adaptive_resolution", l.adaptive_resolution));
  RETURN_IF_ERROR(s.Int("max_points", l.max_points));
  RETURN_IF_ERROR(s.Int("max_entries_limit_per_query", l.max_entries_limit_per_query));
  if (l.timeout_ms <= 0) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}\" must be positive", s.Path("timeout")));
  }
  return Status::Ok();
}

Status ParseResultsCache(const YAML::Node& node, const std::string& path,
                         frontend::ResultsCacheConfig& c) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Str("type", c.type));
  RETURN_IF_ERROR(s.Bytes("size", c.memory_bytes));
  YamlSection mc(s.Get("memcached"), path + ".memcached");
  RETURN_IF_ERROR(mc.Check());
  RETURN_IF_ERROR(mc.StrList("addresses", c.memcached.addresses));
  RETURN_IF_ERROR(mc.Duration("timeout", c.memcached.timeout_ms));
  int64_t ttl_ms = c.memcached.ttl_s * 1000;
  RETURN_IF_ERROR(mc.Duration("ttl", ttl_ms));
  c.memcached.ttl_s = ttl_ms / 1000;
  RETURN_IF_ERROR(mc.Bytes("max_item_size", c.memcached.max_item_bytes));
  RETURN_IF_ERROR(mc.Unknown());
  RETURN_IF_ERROR(s.Unknown());
  if (c.type != "memory" && c.type != "memcached" && c.type != "none") {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.type\": want memory, memcached or none, got \"{}\"", path, c.type));
  }
  if (c.type == "memcached" && c.memcached.addresses.empty()) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.memcached.addresses\" must name at least one host:port", path));
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(std::string_view yaml) {
  ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(yaml));
  Config c;
  c.source = std::string(yaml);
  YamlSection top(root, "");
  RETURN_IF_ERROR(top.Check());

  YamlSection server(top.Get("server"), "server");
  RETURN_IF_ERROR(server.Check());
  RETURN_IF_ERROR(server.Str("listen", c.listen));
  RETURN_IF_ERROR(server.Str("grpc_listen", c.grpc_listen));
  RETURN_IF_ERROR(server.Int("threads", c.threads));
  RETURN_IF_ERROR(server.Bytes("max_request_body", c.max_request_body_bytes));
  RETURN_IF_ERROR(server.Bytes("max_decompressed_body", c.push.max_decompressed_body_bytes));
  RETURN_IF_ERROR(server.Duration("idle_timeout", c.idle_timeout_ms));
  RETURN_IF_ERROR(server.Duration("shutdown_timeout", c.shutdown_timeout_ms));
  RETURN_IF_ERROR(server.Unknown());

  YamlSection storage(top.Get("storage"), "storage");
  RETURN_IF_ERROR(storage.Check());
  RETURN_IF_ERROR(storage.Str("data_dir", c.data_dir));
  YamlSection wal(storage.Get("wal"), "storage.wal");
  RETURN_IF_ERROR(wal.Check());
  std::string fsync;
  RETURN_IF_ERROR(wal.Str("fsync", fsync));
  if (fsync == "interval") {
    c.wal_fsync_always = false;
  } else if (!fsync.empty() && fsync != "always") {
    return Status::InvalidArgument(
        fmt::format("config: \"storage.wal.fsync\": want always or interval, got \"{}\"", fsync));
  }
  RETURN_IF_ERROR(wal.Duration("fsync_interval", c.wal_fsync_interval_ms));
  RETURN_IF_ERROR(wal.Bytes("segment_size", c.wal_segment_size));
  RETURN_IF_ERROR(wal.Bytes("checkpoint_min_size", c.wal_checkpoint_min_bytes));
  RETURN_IF_ERROR(wal.Unknown());
  RETURN_IF_ERROR(storage.Duration("block_range", c.block_range_ms));
  RETURN_IF_ERROR(storage.Duration("maintenance_interval", c.maintenance_interval_ms));
  RETURN_IF_ERROR(storage.Int("max_exemplars", c.max_exemplars));
  if (c.max_exemplars > 100'000'000) {
    return Status::InvalidArgument("config: \"storage.max_exemplars\": at most 100000000");
  }
  RETURN_IF_ERROR(storage.Bytes("log_block_size", c.log_block_bytes));
  RETURN_IF_ERROR(storage.Duration("log_block_age", c.log_block_age_ms));
  if (c.log_block_bytes == 0 || c.log_block_age_ms <= 0) {
    return Status::InvalidArgument(
        "config: \"storage.log_block_size\" and \"storage.log_block_age\" must be positive");
  }
  RETURN_IF_ERROR(storage.Bytes("trace_block_size", c.trace_block_bytes));
  RETURN_IF_ERROR(storage.Duration("trace_block_age", c.trace_block_age_ms));
  RETURN_IF_ERROR(storage.Duration("trace_idle_period", c.trace_idle_period_ms));
  if (c.trace_block_bytes == 0 || c.trace_block_age_ms <= 0 || c.trace_idle_period_ms < 0) {
    return Status::InvalidArgument(
        "config: \"storage.trace_block_size\" and \"storage.trace_block_age\" must be positive, "
        "\"storage.trace_idle_period\" not negative");
  }

  RETURN_IF_ERROR(ParseBucket(storage.Get("bucket"), "storage.bucket", c.bucket));
  RETURN_IF_ERROR(storage.Unknown());
  if (c.maintenance_interval_ms < 100) {
    return Status::InvalidArgument("config: \"storage.maintenance_interval\" must be >= 100ms");
  }
  if (c.block_range_ms < 60'000 || (86'400'000 % c.block_range_ms) != 0) {
    return Status::InvalidArgument(
        "config: \"storage.block_range\" must be at least 1m and divide 24h");
  }

  YamlSection gen(top.Get("metrics_generator"), "metrics_generator");
  RETURN_IF_ERROR(gen.Check());
  RETURN_IF_ERROR(gen.Bool("enabled", c.generator.enabled));
  RETURN_IF_ERROR(gen.Duration("collection_interval", c.generator.collection_interval_ms));
  RETURN_IF_ERROR(gen.Duration("stale_duration", c.generator.stale_after_ms));
  RETURN_IF_ERROR(gen.Int("max_active_series", c.generator.max_active_series));
  RETURN_IF_ERROR(
      gen.Duration("metrics_ingestion_time_range_slack", c.generator.ingestion_slack_ms));
  YamlSection graphs(gen.Get("service_graphs"), "metrics_generator.service_graphs");
  RETURN_IF_ERROR(graphs.Check());
  RETURN_IF_ERROR(graphs.Duration("wait", c.generator.edge_wait_ms));
  RETURN_IF_ERROR(graphs.Int("max_items", c.generator.max_edges));
  RETURN_IF_ERROR(graphs.Unknown());
  RETURN_IF_ERROR(gen.Unknown());
  constexpr int64_t kDay = 86'400'000;
  if (c.generator.collection_interval_ms < 1000 || c.generator.collection_interval_ms > kDay ||
      c.generator.stale_after_ms <= 0 || c.generator.stale_after_ms > 30 * kDay ||
      c.generator.edge_wait_ms <= 0 || c.generator.edge_wait_ms > kDay ||
      c.generator.ingestion_slack_ms < 0 || c.generator.ingestion_slack_ms > kDay) {
    return Status::InvalidArgument(
        "config: \"metrics_generator.collection_interval\" must be within 1s..24h, "
        "\"metrics_generator.stale_duration\" within 30d, "
        "\"metrics_generator.service_graphs.wait\" and "
        "\"metrics_generator.metrics_ingestion_time_range_slack\" within 24h");
  }

  YamlSection comp(top.Get("compactor"), "compactor");
  RETURN_IF_ERROR(comp.Check());
  RETURN_IF_ERROR(comp.Bool("enabled", c.compactor_enabled));
  RETURN_IF_ERROR(comp.Duration("interval", c.compactor_interval_ms));
  RETURN_IF_ERROR(comp.Str("listen", c.compactor_listen));
  std::vector<std::string> ranges;
  RETURN_IF_ERROR(comp.StrList("ranges", ranges));
  if (ranges.empty()) {
    c.compactor.ranges[0] = c.block_range_ms;
  } else {
    c.compactor.ranges.clear();
    for (const auto& r : ranges) {
      auto ms = ParseDurationMillis(r);
      if (!ms.ok() || *ms <= 0) {
        return Status::InvalidArgument(
            fmt::format("config: \"compactor.ranges\": \"{}\" is not a duration", r));
      }
      c.compactor.ranges.push_back(*ms);
    }
  }
  RETURN_IF_ERROR(comp.Duration("downsample_5m_after", c.compactor.downsample_5m_after_ms));
  RETURN_IF_ERROR(comp.Duration("downsample_1h_after", c.compactor.downsample_1h_after_ms));
  RETURN_IF_ERROR(comp.Duration("deletion_delay", c.compactor.deletion_delay_ms));
  RETURN_IF_ERROR(
      ParseRetention(comp.Get("retention"), "compactor.retention", c.limits.defaults.retention));
  RETURN_IF_ERROR(comp.Unknown());
  if (c.compactor_interval_ms < 1000) {
    return Status::InvalidArgument("config: \"compactor.interval\" must be >= 1s");
  }
  for (size_t i = 0; i < c.compactor.ranges.size(); ++i) {
    if ((i == 0 && c.compactor.ranges[0] != c.block_range_ms) ||
        (i > 0 && c.compactor.ranges[i] % c.compactor.ranges[i - 1] != 0)) {
      return Status::InvalidArgument(
          "config: \"compactor.ranges\" must start at storage.block_range, each a multiple of "
          "the one before");
    }
  }

  YamlSection gw(top.Get("store_gateway"), "store_gateway");
  RETURN_IF_ERROR(gw.Check());
  RETURN_IF_ERROR(gw.Duration("sync_interval", c.store_sync_interval_ms));
  RETURN_IF_ERROR(gw.Bytes("cache_size", c.store_gateway.cache_bytes));
  RETURN_IF_ERROR(gw.Bytes("disk_cache_size", c.store_gateway.disk_cache_bytes));
  RETURN_IF_ERROR(gw.Duration("index_idle_timeout", c.store_gateway.index_idle_ms));
  RETURN_IF_ERROR(gw.Bytes("index_max_size", c.store_gateway.index_max_bytes));
  RETURN_IF_ERROR(gw.Bytes("max_select_chunk_size", c.store_gateway.max_select_chunk_bytes));
  RETURN_IF_ERROR(gw.Unknown());
  if (c.store_sync_interval_ms < 1000) {
    return Status::InvalidArgument("config: \"store_gateway.sync_interval\" must be >= 1s");
  }
  if (c.wal_fsync_interval_ms <= 0) {
    return Status::InvalidArgument("config: \"storage.wal.fsync_interval\" must be positive");
  }
  if (c.wal_segment_size < (1u << 20)) {
    return Status::InvalidArgument("config: \"storage.wal.segment_size\" must be at least 1MiB");
  }

  YamlSection auth(top.Get("auth"), "auth");
  RETURN_IF_ERROR(auth.Check());
  RETURN_IF_ERROR(auth.Bool("require_tenant", c.push.tenants.require));
  RETURN_IF_ERROR(auth.Unknown());

  YamlSection query(top.Get("query"), "query");
  RETURN_IF_ERROR(query.Check());
  limits::QueryLimits& query_limits = c.limits.defaults.query;
  RETURN_IF_ERROR(ParseQueryLimits(query, query_limits));
  RETURN_IF_ERROR(query.Duration("lookback_delta", c.query.engine.lookback_delta_ms));
  RETURN_IF_ERROR(query.Int("max_concurrent", c.query.scheduler.workers));
  RETURN_IF_ERROR(query.Unknown());
  if (c.query.engine.lookback_delta_ms <= 0) {
    return Status::InvalidArgument("config: \"query.lookback_delta\" must be positive");
  }
  c.query.engine.timeout_ms = query_limits.timeout_ms;
  c.query.engine.max_samples = query_limits.max_samples;

  YamlSection fe(top.Get("frontend"), "frontend");
  RETURN_IF_ERROR(fe.Check());
  RETURN_IF_ERROR(fe.Duration("split_interval", c.query.frontend.split_interval_ms));
  RETURN_IF_ERROR(fe.Int("max_parallel_splits", c.query.frontend.max_parallel_splits));
  RETURN_IF_ERROR(
      fe.Int("max_outstanding_per_tenant", c.query.scheduler.max_outstanding_per_tenant));
  RETURN_IF_ERROR(fe.Duration("max_freshness", c.query.frontend.max_freshness_ms));
  RETURN_IF_ERROR(fe.Duration("slow_query_threshold", c.query.frontend.slow_query_ms));
  RETURN_IF_ERROR(
      ParseResultsCache(fe.Get("results_cache"), "frontend.results_cache", c.results_cache));
  RETURN_IF_ERROR(fe.Unknown());
  if (c.query.frontend.split_interval_ms < 0 || c.query.frontend.max_freshness_ms < 0 ||
      c.query.scheduler.max_outstanding_per_tenant == 0) {
    return Status::InvalidArgument(
        "config: frontend.split_interval and max_freshness must not be negative, "
        "max_outstanding_per_tenant must be positive");
  }
  c.query.tenants = c.push.tenants;

  YamlSection log(top.Get("log"), "log");
  RETURN_IF_ERROR(log.Check());
  RETURN_IF_ERROR(log.Str("level", c.log_level));
  RETURN_IF_ERROR(log.Unknown());

  RETURN_IF_ERROR(ParseSignalLimits(top.Get("limits"), "limits", c.limits.defaults));
  YAML::Node overrides = top.Get("overrides");
  if (overrides && !overrides.IsNull()) {
    if (!overrides.IsMap()) {
      return Status::InvalidArgument("config: \"overrides\" must map tenant IDs to limits");
    }
    for (const auto& kv : overrides) {
      auto tenant = kv.first.as<std::string>();
      limits::TenantLimits l = c.limits.defaults;  // a tenant's override starts from the defaults
      YAML::Node node = YAML::Clone(kv.second);
      if (node.IsMap() && node["bucket"]) {
        objstore::BucketConfig b;
        RETURN_IF_ERROR(ParseBucket(node["bucket"], "overrides." + tenant + ".bucket", b));
        c.tenant_buckets[tenant] = std::move(b);
        node.remove("bucket");
      }
      if (node.IsMap() && node["query"]) {
        YamlSection qs(node["query"], "overrides." + tenant + ".query");
        RETURN_IF_ERROR(qs.Check());
        RETURN_IF_ERROR(ParseQueryLimits(qs, l.query));
        RETURN_IF_ERROR(qs.Unknown());
        node.remove("query");
      }
      if (node.IsMap() && node["retention"]) {
        RETURN_IF_ERROR(
            ParseRetention(node["retention"], "overrides." + tenant + ".retention", l.retention));
        node.remove("retention");
      }
      RETURN_IF_ERROR(ParseSignalLimits(node, "overrides." + tenant, l));
      c.limits.tenants[tenant] = std::move(l);
    }
  }
  RETURN_IF_ERROR(top.Unknown());
  return c;
}

namespace {

void Redact(const YAML::Node& node) {
  if (node.IsSequence()) {
    for (auto child : node) Redact(child);
    return;
  }
  if (!node.IsMap()) return;
  for (auto kv : node) {
    auto key = kv.first.as<std::string>();
    if ((key == "secret_access_key" || key == "session_token") && kv.second.IsScalar()) {
      kv.second = "<secret>";
    } else {
      Redact(kv.second);
    }
  }
}

}  // namespace

std::string RedactedSource(const Config& config) {
  if (config.source.empty()) return "";
  auto root = ParseYaml(config.source);  // ParseConfig accepted it already
  if (!root.ok()) return "";
  Redact(*root);
  YAML::Emitter out;
  out << *root;
  return std::string(out.c_str()) + "\n";
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("config file {} cannot be read", path));
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseConfig(ss.str());
  if (!c.ok()) return c.status().Annotate(path);
  return c;
}

}  // namespace strata::server
