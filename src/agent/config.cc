#include "agent/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/encoding.h"
#include "base/file.h"
#include "base/labels.h"
#include "base/tenant.h"
#include "base/yaml_section.h"
#include "http/client.h"

namespace strata::agent {
namespace {

Status ParseBackend(const YAML::Node& node, const std::string& path, BackendConfig& b) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Str("url", b.url));
  RETURN_IF_ERROR(s.Str("probe_url", b.probe_url));
  YAML::Node headers = s.Get("headers");
  if (headers && !headers.IsNull()) {
    if (!headers.IsMap()) {
      return Status::InvalidArgument(fmt::format("config: \"{}.headers\" must be a mapping", path));
    }
    for (const auto& kv : headers) {
      b.headers[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }
  RETURN_IF_ERROR(s.Unknown());
  if (b.url.empty())
    return Status::InvalidArgument(fmt::format("config: \"{}.url\" is required", path));
  auto url = http::ParseUrl(b.url);
  if (!url.ok()) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.url\": {}", path, url.status().message()));
  }
  if (b.probe_url.empty()) {
    b.probe_url = fmt::format("http://{}:{}/-/ready", url->host, url->port);
  } else if (b.probe_url != "none" && !http::ParseUrl(b.probe_url).ok()) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.probe_url\" is not an http URL", path));
  }
  return Status::Ok();
}

Status ParseExporter(const YAML::Node& node, const std::string& path, ExporterConfig& e) {
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Str("name", e.name));
  std::string type = "remote_write";
  RETURN_IF_ERROR(s.Str("type", type));
  if (type == "remote_write") {
    e.type = ExporterType::kRemoteWrite;
  } else if (type == "otlp_http") {
    e.type = ExporterType::kOtlpHttp;
  } else if (type == "loki") {
    e.type = ExporterType::kLoki;
  } else {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.type\": \"{}\" is not remote_write, otlp_http or loki", path, type));
  }
  BackendConfig primary;
  // The primary's keys sit on the exporter itself; failovers list their own.
  YAML::Node primary_node;
  for (const char* key : {"url", "probe_url", "headers"}) {
    if (YAML::Node v = s.Get(key)) primary_node[key] = v;
  }
  RETURN_IF_ERROR(ParseBackend(primary_node, path, primary));
  e.backends = {primary};
  YAML::Node failover = s.Get("failover");
  if (failover && !failover.IsNull()) {
    if (!failover.IsSequence()) {
      return Status::InvalidArgument(fmt::format("config: \"{}.failover\" must be a list", path));
    }
    for (size_t i = 0; i < failover.size(); ++i) {
      BackendConfig b;
      RETURN_IF_ERROR(ParseBackend(failover[i], fmt::format("{}.failover[{}]", path, i), b));
      e.backends.push_back(std::move(b));
    }
  }
  if (YAML::Node signals = s.Get("signals"); signals) {
    std::vector<std::string> names;
    RETURN_IF_ERROR(s.StrList("signals", names));
    if (e.type != ExporterType::kOtlpHttp) {
      return Status::InvalidArgument(
          fmt::format("config: \"{}.signals\" applies to otlp_http exporters only", path));
    }
    e.signals = {false, false, false};
    for (const auto& n : names) {
      bool* on = n == "metrics"  ? &e.signals.metrics
                 : n == "logs"   ? &e.signals.logs
                 : n == "traces" ? &e.signals.traces
                                 : nullptr;
      if (!on) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}.signals\": \"{}\" is not metrics, logs or traces", path, n));
      }
      *on = true;
    }
  }
  RETURN_IF_ERROR(s.Str("tenant", e.tenant));
  RETURN_IF_ERROR(s.Duration("timeout", e.timeout_ms));
  RETURN_IF_ERROR(s.Bytes("max_batch_bytes", e.max_batch_bytes));
  RETURN_IF_ERROR(s.Int("max_batch_items", e.max_batch_items));
  RETURN_IF_ERROR(s.Duration("batch_wait", e.batch_wait_ms));
  RETURN_IF_ERROR(s.Duration("min_backoff", e.min_backoff_ms));
  RETURN_IF_ERROR(s.Duration("max_backoff", e.max_backoff_ms));
  RETURN_IF_ERROR(s.Double("max_send_rate", e.max_send_rate));
  RETURN_IF_ERROR(s.Int("concurrency", e.concurrency));
  if (e.type != ExporterType::kRemoteWrite) e.concurrency = 1;

  YamlSection h(s.Get("health"), path + ".health");
  RETURN_IF_ERROR(h.Check());
  RETURN_IF_ERROR(h.Duration("probe_interval", e.health.probe_interval_ms));
  RETURN_IF_ERROR(h.Duration("probe_timeout", e.health.probe_timeout_ms));
  RETURN_IF_ERROR(h.Int("unhealthy_after", e.health.unhealthy_after));
  RETURN_IF_ERROR(h.Int("healthy_after", e.health.healthy_after));
  RETURN_IF_ERROR(h.Unknown());

  YamlSection q(s.Get("queue"), path + ".queue");
  RETURN_IF_ERROR(q.Check());
  RETURN_IF_ERROR(q.Bytes("max_disk_bytes", e.queue.max_disk_bytes));
  std::string policy = "block";
  RETURN_IF_ERROR(q.Str("full_policy", policy));
  if (policy == "block") {
    e.queue.full_policy = FullPolicy::kBlock;
  } else if (policy == "drop_oldest") {
    e.queue.full_policy = FullPolicy::kDropOldest;
  } else {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.queue.full_policy\": \"{}\" is not block or drop_oldest", path, policy));
  }
  RETURN_IF_ERROR(q.Bytes("segment_size", e.queue.segment_size));
  RETURN_IF_ERROR(q.Unknown());
  RETURN_IF_ERROR(s.Unknown());

  if (e.timeout_ms <= 0 || e.min_backoff_ms <= 0 || e.max_backoff_ms < e.min_backoff_ms ||
      e.max_batch_bytes == 0 || e.max_batch_items == 0 || e.batch_wait_ms < 0 ||
      e.health.probe_interval_ms <= 0 || e.health.probe_timeout_ms <= 0 ||
      e.health.unhealthy_after <= 0 || e.health.healthy_after <= 0 || e.concurrency == 0 ||
      e.concurrency > 64) {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}\": timeout, backoffs, batch sizes, probe interval/timeout and health "
        "thresholds must be positive, batch_wait not negative, max_backoff at least min_backoff, "
        "concurrency 1 to 64",
        path));
  }
  return Status::Ok();
}

Status ParseRateLimits(YamlSection& s, const std::string& path, limits::RateLimits& l) {
  RETURN_IF_ERROR(s.Double("samples_per_second", l.samples_per_second));
  RETURN_IF_ERROR(s.Double("samples_burst", l.samples_burst));
  RETURN_IF_ERROR(s.Double("log_bytes_per_second", l.log_bytes_per_second));
  RETURN_IF_ERROR(s.Double("log_bytes_burst", l.log_bytes_burst));
  RETURN_IF_ERROR(s.Double("spans_per_second", l.spans_per_second));
  RETURN_IF_ERROR(s.Double("spans_burst", l.spans_burst));
  for (auto [rate, burst] : {std::pair{l.samples_per_second, &l.samples_burst},
                             std::pair{l.log_bytes_per_second, &l.log_bytes_burst},
                             std::pair{l.spans_per_second, &l.spans_burst}}) {
    if (rate < 0 || *burst < 0) {
      return Status::InvalidArgument(
          fmt::format("config: \"{}\": rates and bursts must not be negative", path));
    }
    if (*burst == 0) *burst = rate;
  }
  return Status::Ok();
}

Status ParseLimits(const YAML::Node& node, RateLimitTable& limits) {
  YamlSection s(node, "limits");
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(ParseRateLimits(s, "limits", limits.defaults));
  YAML::Node tenants = s.Get("tenants");
  RETURN_IF_ERROR(s.Unknown());
  if (!tenants || tenants.IsNull()) return Status::Ok();
  if (!tenants.IsMap()) {
    return Status::InvalidArgument("config: \"limits.tenants\" must be a mapping");
  }
  for (const auto& kv : tenants) {
    auto tenant = kv.first.as<std::string>();
    if (Status st = ValidateTenantId(tenant); !st.ok()) {
      return Status::InvalidArgument(
          fmt::format("config: \"limits.tenants.{}\": {}", tenant, st.message()));
    }
    YamlSection t(kv.second, "limits.tenants." + tenant);
    RETURN_IF_ERROR(t.Check());
    limits::RateLimits l = limits.defaults;
    // Unset bursts follow the tenant's own rates.
    l.samples_burst = l.log_bytes_burst = l.spans_burst = 0;
    RETURN_IF_ERROR(ParseRateLimits(t, "limits.tenants." + tenant, l));
    RETURN_IF_ERROR(t.Unknown());
    limits.tenants[tenant] = l;
  }
  return Status::Ok();
}

Status ParseFaro(const YAML::Node& node, FaroConfig& f) {
  const std::string path = "receivers.faro";
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Bool("enabled", f.enabled));
  RETURN_IF_ERROR(s.Str("tenant", f.tenant));
  RETURN_IF_ERROR(s.Str("api_key", f.api_key));
  YAML::Node keys = s.Get("app_keys");
  if (keys && !keys.IsNull()) {
    if (!keys.IsMap()) {
      return Status::InvalidArgument("config: \"receivers.faro.app_keys\" must be a mapping");
    }
    for (const auto& kv : keys) {
      auto key = kv.first.as<std::string>();
      auto tenant = kv.second.IsNull() ? std::string() : kv.second.as<std::string>();
      if (key.empty() || key.find('/') != std::string::npos) {
        return Status::InvalidArgument(
            "config: \"receivers.faro.app_keys\": a key must be non-empty, without '/'");
      }
      f.app_keys[key] = tenant;
    }
  }
  RETURN_IF_ERROR(s.StrList("cors_allowed_origins", f.cors_allowed_origins));
  for (auto& o : f.cors_allowed_origins) o = AsciiLower(o);  // origins match without case
  if (s.Get("trace_context_headers")) {
    f.trace_context_headers.clear();
    RETURN_IF_ERROR(s.StrList("trace_context_headers", f.trace_context_headers));
    for (auto& h : f.trace_context_headers) h = AsciiLower(h);
  }
  RETURN_IF_ERROR(s.Bytes("max_payload_size", f.max_payload_size));
  YamlSection r(s.Get("rate_limiting"), path + ".rate_limiting");
  RETURN_IF_ERROR(r.Check());
  RETURN_IF_ERROR(r.Bool("enabled", f.rate_limiting));
  std::string strategy = "per_app";
  RETURN_IF_ERROR(r.Str("strategy", strategy));
  RETURN_IF_ERROR(r.Double("rate", f.rate));
  RETURN_IF_ERROR(r.Double("burst_size", f.burst_size));
  RETURN_IF_ERROR(r.Unknown());
  if (strategy != "per_app" && strategy != "global") {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.rate_limiting.strategy\": \"{}\" is not per_app or global", path, strategy));
  }
  f.per_app = strategy == "per_app";
  if (f.rate <= 0 || f.burst_size < 1) {
    return Status::InvalidArgument(fmt::format(
        "config: \"{}.rate_limiting\": rate must be positive and burst_size at least 1", path));
  }
  YAML::Node labels = s.Get("extra_log_labels");
  if (labels && !labels.IsNull()) {
    if (!labels.IsMap()) {
      return Status::InvalidArgument(
          fmt::format("config: \"{}.extra_log_labels\" must be a mapping", path));
    }
    f.extra_log_labels.clear();
    for (const auto& kv : labels) {
      auto name = kv.first.as<std::string>();
      if (!IsValidLegacyLabelName(name)) {
        return Status::InvalidArgument(fmt::format(
            "config: \"{}.extra_log_labels\": \"{}\" is not a valid label name", path, name));
      }
      f.extra_log_labels.emplace_back(
          name, kv.second.IsNull() ? std::string() : kv.second.as<std::string>());
    }
  }
  std::string format = "logfmt";
  RETURN_IF_ERROR(s.Str("log_format", format));
  if (format != "logfmt" && format != "json") {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.log_format\": \"{}\" is not logfmt or json", path, format));
  }
  f.json_lines = format == "json";
  YamlSection sm(s.Get("sourcemaps"), path + ".sourcemaps");
  RETURN_IF_ERROR(sm.Check());
  RETURN_IF_ERROR(sm.Bool("download", f.sourcemaps.download));
  RETURN_IF_ERROR(sm.StrList("download_from_origins", f.sourcemaps.download_from_origins));
  RETURN_IF_ERROR(sm.Duration("download_timeout", f.sourcemaps.download_timeout_ms));
  YAML::Node locations = sm.Get("locations");
  RETURN_IF_ERROR(sm.Unknown());
  if (locations && !locations.IsNull()) {
    if (!locations.IsSequence()) {
      return Status::InvalidArgument(
          fmt::format("config: \"{}.sourcemaps.locations\" must be a list", path));
    }
    for (size_t i = 0; i < locations.size(); ++i) {
      const std::string lp = fmt::format("{}.sourcemaps.locations[{}]", path, i);
      YamlSection l(locations[i], lp);
      RETURN_IF_ERROR(l.Check());
      FaroSourceMaps::Location loc;
      RETURN_IF_ERROR(l.Str("path", loc.path));
      RETURN_IF_ERROR(l.Str("minified_path_prefix", loc.minified_path_prefix));
      RETURN_IF_ERROR(l.Unknown());
      if (loc.path.empty() || loc.minified_path_prefix.empty()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}\": path and minified_path_prefix are required", lp));
      }
      f.sourcemaps.locations.push_back(std::move(loc));
    }
  }
  if (f.sourcemaps.download_timeout_ms <= 0) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.sourcemaps.download_timeout\" must be positive", path));
  }
  RETURN_IF_ERROR(s.Unknown());
  if (f.max_payload_size == 0) {
    return Status::InvalidArgument(
        fmt::format("config: \"{}.max_payload_size\" must be positive", path));
  }
  if (!f.tenant.empty()) {
    if (Status st = ValidateTenantId(f.tenant); !st.ok()) {
      return Status::InvalidArgument(fmt::format("config: \"{}.tenant\": {}", path, st.message()));
    }
  }
  for (const auto& [key, tenant] : f.app_keys) {
    if (!tenant.empty()) {
      if (Status st = ValidateTenantId(tenant); !st.ok()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}.app_keys\": tenant of a key: {}", path, st.message()));
      }
    }
  }
  return Status::Ok();
}

Status ParseReceivers(const YAML::Node& node, AgentConfig& c) {
  YamlSection s(node, "receivers");
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(ParseFaro(s.Get("faro"), c.faro));
  for (auto [key, rc] : {std::pair{"remote_write", &c.remote_write}, std::pair{"otlp", &c.otlp},
                         std::pair{"loki", &c.loki}}) {
    YamlSection r(s.Get(key), std::string("receivers.") + key);
    RETURN_IF_ERROR(r.Check());
    RETURN_IF_ERROR(r.Str("tenant", rc->tenant));
    RETURN_IF_ERROR(r.Unknown());
    if (!rc->tenant.empty()) {
      if (Status st = ValidateTenantId(rc->tenant); !st.ok()) {
        return Status::InvalidArgument(
            fmt::format("config: \"receivers.{}.tenant\": {}", key, st.message()));
      }
    }
  }
  return s.Unknown();
}

Status ParseRelabelRules(const YAML::Node& node, const std::string& path,
                         std::vector<RelabelRule>& out) {
  if (!node || node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) {
    return Status::InvalidArgument(fmt::format("config: \"{}\" must be a list", path));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = fmt::format("{}[{}]", path, i);
    YamlSection r(node[i], p);
    RETURN_IF_ERROR(r.Check());
    RelabelRule rule;
    RETURN_IF_ERROR(r.StrList("source_labels", rule.source_labels));
    RETURN_IF_ERROR(r.Str("separator", rule.separator));
    RETURN_IF_ERROR(r.Str("regex", rule.regex));
    RETURN_IF_ERROR(r.Str("target_label", rule.target_label));
    RETURN_IF_ERROR(r.Str("replacement", rule.replacement));
    RETURN_IF_ERROR(r.Int("modulus", rule.modulus));
    RETURN_IF_ERROR(r.Str("action", rule.action));
    RETURN_IF_ERROR(r.Unknown());
    out.push_back(std::move(rule));
  }
  // Compiling checks actions, regexes and required keys now rather than at the first scrape.
  return Relabeler::Compile(out, path).status();
}

Status ParseScrapeConfigs(const YAML::Node& global_node, const YAML::Node& node,
                          std::vector<ScrapeConfig>& out) {
  ScrapeConfig defaults;
  YamlSection global(global_node, "global");
  RETURN_IF_ERROR(global.Check());
  RETURN_IF_ERROR(global.Duration("scrape_interval", defaults.interval_ms));
  RETURN_IF_ERROR(global.Duration("scrape_timeout", defaults.timeout_ms));
  RETURN_IF_ERROR(global.Unknown());
  if (!node || node.IsNull()) return Status::Ok();
  if (!node.IsSequence())
    return Status::InvalidArgument("config: \"scrape_configs\" must be a list");
  std::set<std::string> jobs;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = fmt::format("scrape_configs[{}]", i);
    YamlSection s(node[i], path);
    RETURN_IF_ERROR(s.Check());
    ScrapeConfig c = defaults;
    RETURN_IF_ERROR(s.Str("job_name", c.job_name));
    RETURN_IF_ERROR(s.Duration("scrape_interval", c.interval_ms));
    c.timeout_ms = std::min(defaults.timeout_ms, c.interval_ms);
    RETURN_IF_ERROR(s.Duration("scrape_timeout", c.timeout_ms));
    RETURN_IF_ERROR(s.Str("metrics_path", c.metrics_path));
    RETURN_IF_ERROR(s.Str("scheme", c.scheme));
    RETURN_IF_ERROR(s.Bool("honor_labels", c.honor_labels));
    RETURN_IF_ERROR(s.Bool("honor_timestamps", c.honor_timestamps));
    RETURN_IF_ERROR(s.Int("sample_limit", c.sample_limit));
    RETURN_IF_ERROR(s.Bytes("body_size_limit", c.body_size_limit_bytes));
    RETURN_IF_ERROR(s.Str("tenant", c.tenant));
    YAML::Node params = s.Get("params");
    if (params && !params.IsNull()) {
      if (!params.IsMap()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}.params\" must be a mapping", path));
      }
      for (const auto& kv : params) {
        auto key = kv.first.as<std::string>();
        YamlSection ps(params, path + ".params");
        RETURN_IF_ERROR(ps.StrList(key, c.params[key]));
      }
    }
    YAML::Node statics = s.Get("static_configs");
    if (statics && !statics.IsNull()) {
      if (!statics.IsSequence()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}.static_configs\" must be a list", path));
      }
      for (size_t k = 0; k < statics.size(); ++k) {
        YamlSection st(statics[k], fmt::format("{}.static_configs[{}]", path, k));
        RETURN_IF_ERROR(st.Check());
        StaticTargets t;
        RETURN_IF_ERROR(st.StrList("targets", t.targets));
        YAML::Node labels = st.Get("labels");
        if (labels && labels.IsMap()) {
          for (const auto& kv : labels)
            t.labels[kv.first.as<std::string>()] = kv.second.as<std::string>();
        }
        RETURN_IF_ERROR(st.Unknown());
        c.static_configs.push_back(std::move(t));
      }
    }
    YAML::Node files = s.Get("file_sd_configs");
    if (files && !files.IsNull()) {
      if (!files.IsSequence()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}.file_sd_configs\" must be a list", path));
      }
      for (size_t k = 0; k < files.size(); ++k) {
        YamlSection fs(files[k], fmt::format("{}.file_sd_configs[{}]", path, k));
        RETURN_IF_ERROR(fs.Check());
        FileSdConfig f;
        RETURN_IF_ERROR(fs.StrList("files", f.files));
        RETURN_IF_ERROR(fs.Duration("refresh_interval", f.refresh_interval_ms));
        RETURN_IF_ERROR(fs.Unknown());
        if (f.files.empty() || f.refresh_interval_ms <= 0) {
          return Status::InvalidArgument(fmt::format(
              "config: \"{}.file_sd_configs[{}]\": files and a positive refresh_interval are "
              "required",
              path, k));
        }
        c.file_sd_configs.push_back(std::move(f));
      }
    }
    RETURN_IF_ERROR(
        ParseRelabelRules(s.Get("relabel_configs"), path + ".relabel_configs", c.relabel_configs));
    RETURN_IF_ERROR(ParseRelabelRules(s.Get("metric_relabel_configs"),
                                      path + ".metric_relabel_configs", c.metric_relabel_configs));
    RETURN_IF_ERROR(s.Unknown());
    if (c.job_name.empty()) {
      return Status::InvalidArgument(fmt::format("config: \"{}.job_name\" is required", path));
    }
    if (!jobs.insert(c.job_name).second) {
      return Status::InvalidArgument(
          fmt::format("config: scrape job_name \"{}\" is used twice", c.job_name));
    }
    if (c.scheme != "http") {
      return Status::InvalidArgument(
          fmt::format("config: \"{}.scheme\": only http is supported by this version", path));
    }
    if (c.interval_ms <= 0 || c.timeout_ms <= 0 || c.timeout_ms > c.interval_ms) {
      return Status::InvalidArgument(fmt::format(
          "config: \"{}\": scrape_timeout must be positive and at most scrape_interval", path));
    }
    if (!c.tenant.empty()) {
      if (Status st = ValidateTenantId(c.tenant); !st.ok()) {
        return Status::InvalidArgument(
            fmt::format("config: \"{}.tenant\": {}", path, st.message()));
      }
    }
    out.push_back(std::move(c));
  }
  return Status::Ok();
}

Status ParseTailSampling(const YAML::Node& node, TailSamplingConfig& t) {
  if (!node || node.IsNull()) return Status::Ok();
  t.enabled = true;
  const std::string path = "tail_sampling";
  YamlSection s(node, path);
  RETURN_IF_ERROR(s.Check());
  RETURN_IF_ERROR(s.Duration("decision_wait", t.decision_wait_ms));
  RETURN_IF_ERROR(s.Int("num_traces", t.num_traces));
  RETURN_IF_ERROR(s.Int("expected_new_traces_per_sec", t.expected_new_traces_per_sec));
  YamlSection cache(s.Get("decision_cache"), path + ".decision_cache");
  RETURN_IF_ERROR(cache.Check());
  RETURN_IF_ERROR(cache.Int("sampled_cache_size", t.sampled_cache_size));
  RETURN_IF_ERROR(cache.Int("non_sampled_cache_size", t.non_sampled_cache_size));
  RETURN_IF_ERROR(cache.Unknown());
  RETURN_IF_ERROR(s.Bool("sample_on_first_match", t.sample_on_first_match));
  RETURN_IF_ERROR(s.Bytes("max_buffered_bytes", t.max_buffered_bytes));
  RETURN_IF_ERROR(ParseTailSamplingPolicies(s.Get("policies"), path + ".policies", t.policies));
  RETURN_IF_ERROR(s.Str("self", t.self));
  RETURN_IF_ERROR(s.StrList("peers", t.peers));
  YamlSection q(s.Get("queue"), path + ".queue");
  RETURN_IF_ERROR(q.Check());
  RETURN_IF_ERROR(q.Bytes("max_disk_bytes", t.queue.max_disk_bytes));
  RETURN_IF_ERROR(q.Bytes("segment_size", t.queue.segment_size));
  RETURN_IF_ERROR(q.Unknown());
  RETURN_IF_ERROR(s.Unknown());
  if (t.policies.empty()) {
    return Status::InvalidArgument(
        "config: \"tail_sampling.policies\": at least one policy is "
        "required");
  }
  if (t.decision_wait_ms <= 0 || t.num_traces == 0 || t.max_buffered_bytes == 0) {
    return Status::InvalidArgument(
        "config: \"tail_sampling\": decision_wait, num_traces and max_buffered_bytes must be "
        "positive");
  }
  std::set<std::string> seen;
  for (auto& url : t.peers) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!http::ParseUrl(url).ok()) {
      return Status::InvalidArgument(fmt::format(
          "config: \"tail_sampling.peers\": \"{}\" is not an http://host:port URL", url));
    }
    if (!seen.insert(url).second) {
      return Status::InvalidArgument(
          fmt::format("config: \"tail_sampling.peers\": \"{}\" is listed twice", url));
    }
  }
  while (!t.self.empty() && t.self.back() == '/') t.self.pop_back();
  if (!t.peers.empty() && !seen.count(t.self)) {
    return Status::InvalidArgument(
        "config: \"tail_sampling.self\" must be this agent's URL as listed in "
        "tail_sampling.peers");
  }
  if (t.peers.empty() && !t.self.empty()) {
    return Status::InvalidArgument(
        "config: \"tail_sampling.self\" is set without tail_sampling.peers");
  }
  return Status::Ok();
}

}  // namespace

Result<AgentConfig> ParseAgentConfig(std::string_view yaml) {
  ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(yaml));
  AgentConfig c;
  YamlSection top(root, "");
  RETURN_IF_ERROR(top.Check());
  YamlSection server(top.Get("server"), "server");
  RETURN_IF_ERROR(server.Check());
  RETURN_IF_ERROR(server.Str("listen", c.listen));
  RETURN_IF_ERROR(server.Str("grpc_listen", c.grpc_listen));
  RETURN_IF_ERROR(server.Bytes("max_request_body", c.max_request_body_bytes));
  RETURN_IF_ERROR(server.Bytes("max_decompressed_body", c.max_decompressed_body_bytes));
  RETURN_IF_ERROR(server.Bytes("memory_budget", c.memory_budget_bytes));
  RETURN_IF_ERROR(server.Unknown());
  RETURN_IF_ERROR(top.Str("data_dir", c.data_dir));
  YamlSection log(top.Get("log"), "log");
  RETURN_IF_ERROR(log.Check());
  RETURN_IF_ERROR(log.Str("level", c.log_level));
  RETURN_IF_ERROR(log.Unknown());

  RETURN_IF_ERROR(ParseReceivers(top.Get("receivers"), c));
  RETURN_IF_ERROR(ParseLimits(top.Get("limits"), c.limits));
  RETURN_IF_ERROR(ParseTailSampling(top.Get("tail_sampling"), c.tail_sampling));
  RETURN_IF_ERROR(
      ParseScrapeConfigs(top.Get("global"), top.Get("scrape_configs"), c.scrape_configs));
  YAML::Node exporters = top.Get("exporters");
  RETURN_IF_ERROR(top.Unknown());
  if (exporters && !exporters.IsNull()) {
    if (!exporters.IsSequence()) {
      return Status::InvalidArgument("config: \"exporters\" must be a list");
    }
    std::set<std::string> names;
    for (size_t i = 0; i < exporters.size(); ++i) {
      ExporterConfig e;
      RETURN_IF_ERROR(ParseExporter(exporters[i], fmt::format("exporters[{}]", i), e));
      if (e.name.empty() ||
          e.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
        return Status::InvalidArgument(fmt::format(
            "config: \"exporters[{}].name\" must be non-empty letters, digits, _ or -", i));
      }
      if (!names.insert(e.name).second) {
        return Status::InvalidArgument(
            fmt::format("config: exporter name \"{}\" is used twice", e.name));
      }
      e.queue.name = e.name;
      c.exporters.push_back(std::move(e));
    }
  } else {
    // Every signal to a local `strata serve`; OTLP metrics travel translated, by remote write.
    // "default" keeps the queue directory of versions that sent metrics alone.
    const std::pair<const char*, const char*> defaults[] = {
        {"default", "type: remote_write\nurl: http://localhost:9009/api/v1/push"},
        {"otlp", "type: otlp_http\nurl: http://localhost:9009/otlp\nsignals: [logs, traces]"},
        {"loki", "type: loki\nurl: http://localhost:9009/loki/api/v1/push"}};
    for (const auto& [name, yaml] : defaults) {
      ExporterConfig e;
      ASSIGN_OR_RETURN(YAML::Node node, ParseYaml(yaml));
      node["name"] = name;
      RETURN_IF_ERROR(ParseExporter(node, fmt::format("exporters.{}", name), e));
      e.queue.name = e.name;
      c.exporters.push_back(std::move(e));
    }
  }
  if (c.tail_sampling.enabled &&
      std::none_of(c.exporters.begin(), c.exporters.end(), [](const ExporterConfig& e) {
        return e.type == ExporterType::kOtlpHttp && e.signals.traces;
      })) {
    return Status::InvalidArgument(
        "config: \"tail_sampling\" needs an otlp_http exporter that sends traces");
  }
  if (c.memory_budget_bytes < c.max_decompressed_body_bytes) {
    return Status::InvalidArgument(
        "config: \"server.memory_budget\" must be at least server.max_decompressed_body");
  }
  return c;
}

Result<AgentConfig> LoadAgentConfigFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto c = ParseAgentConfig(text);
  if (!c.ok()) return c.status().Annotate(path);
  return c;
}

}  // namespace strata::agent
