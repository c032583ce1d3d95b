#include "proto/otlp_logs.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <utility>
#include <vector>

#include "proto/otlp.h"
#include "proto/otlp_metrics.h"
#include "proto/otlp_values.h"
#include "proto/wire.h"

namespace strata::proto {

namespace {

// Loki's default_resource_attributes_as_index_labels.
constexpr std::array<std::string_view, 18> kIndexedResourceAttributes = {
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
};

// Loki's default discover_service_name: the labels service_name is taken from when a
// resource has no service.name.
constexpr std::array<std::string_view, 13> kServiceNameSources = {
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
};

std::string Hex(std::string_view b) {
  std::string out;
  out.reserve(b.size() * 2);
  for (unsigned char c : b) out += fmt::format("{:02x}", c);
  return out;
}

bool AllZero(std::string_view b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == 0; });
}

// Appends the KeyValues of `message`'s field `field`, flattened and named as labels.
void NamedAttributes(std::string_view message, uint32_t field, std::vector<OtlpAttribute>& out) {
  WireReader r(message);
  std::string_view kv;
  while (r.NextField()) {
    if (r.field() == field && r.ReadBytes(&kv)) {
      std::vector<OtlpAttribute> flat;
      FlattenAttribute(kv, flat);
      for (auto& a : flat) {
        a.key = PrometheusLabelName(a.key);
        if (!a.key.empty()) out.push_back(std::move(a));
      }
    } else {
      r.Skip();
    }
  }
}

class LogsTranslator {
 public:
  LogsTranslator(OtlpLogs& out, int64_t now_ns) : out_(out), now_ns_(now_ns) {}

  void ResourceLogs(std::string_view rl) {
    std::string_view resource;
    std::vector<std::string_view> scopes;
    WireReader r(rl);
    while (r.NextField()) {
      std::string_view b;
      if (r.field() == 1 && r.ReadBytes(&b)) {
        resource = b;
      } else if (r.field() == 2 && r.ReadBytes(&b)) {
        scopes.push_back(b);
      } else {
        r.Skip();
      }
    }
    // Resource attributes: indexed ones are the stream's labels, the rest metadata.
    std::map<std::string, std::string> labels;
    std::vector<OtlpAttribute> resource_md;
    bool has_service_name = false;
    WireReader rr(resource);
    std::string_view kv;
    while (rr.NextField()) {
      if (rr.field() != 1 || !rr.ReadBytes(&kv)) {
        rr.Skip();
        continue;
      }
      std::vector<OtlpAttribute> raw;
      DecodeAttribute(kv, raw);
      bool indexed = std::find(kIndexedResourceAttributes.begin(), kIndexedResourceAttributes.end(),
                               raw[0].key) != kIndexedResourceAttributes.end();
      if (raw[0].key == "service.name" && !raw[0].value.empty()) has_service_name = true;
      std::vector<OtlpAttribute> flat;
      FlattenAttribute(kv, flat);
      for (auto& a : flat) {
        a.key = PrometheusLabelName(a.key);
        if (a.key.empty()) continue;
        if (indexed) {
          labels[a.key] = std::move(a.value);
        } else {
          resource_md.push_back(std::move(a));
        }
      }
    }
    if (!has_service_name) {
      std::string service = "unknown_service";
      for (std::string_view src : kServiceNameSources) {
        if (auto it = labels.find(std::string(src)); it != labels.end() && !it->second.empty()) {
          service = it->second;
          break;
        }
      }
      labels["service_name"] = service;
    }
    std::erase_if(labels, [](const auto& l) { return l.second.empty(); });
    Labels stream;
    for (auto& [k, v] : labels) stream.push_back({k, v});
    for (std::string_view sl : scopes) ScopeLogs(sl, stream, resource_md);
  }

 private:
  void ScopeLogs(std::string_view sl, const Labels& stream,
                 const std::vector<OtlpAttribute>& resource_md) {
    std::vector<OtlpAttribute> scope_md;
    std::vector<std::string_view> records;
    WireReader r(sl);
    while (r.NextField()) {
      std::string_view b;
      if (r.field() == 1 && r.ReadBytes(&b)) {
        Scope(b, scope_md);
      } else if (r.field() == 2 && r.ReadBytes(&b)) {
        records.push_back(b);
      } else {
        r.Skip();
      }
    }
    for (std::string_view rec : records) Record(rec, stream, resource_md, scope_md);
  }

  static void Scope(std::string_view scope, std::vector<OtlpAttribute>& md) {
    std::string name, version;
    uint64_t dropped = 0;
    WireReader r(scope);
    while (r.NextField()) {
      std::string_view b;
      if (r.field() == 1 && r.ReadBytes(&b)) {
        name = std::string(b);
      } else if (r.field() == 2 && r.ReadBytes(&b)) {
        version = std::string(b);
      } else if (r.field() == 4) {
        r.ReadVarint(&dropped);
      } else {
        r.Skip();
      }
    }
    NamedAttributes(scope, 3, md);
    if (!name.empty()) md.push_back({"scope_name", name});
    if (!version.empty()) md.push_back({"scope_version", version});
    if (dropped != 0) md.push_back({"scope_dropped_attributes_count", std::to_string(dropped)});
  }

  void Record(std::string_view rec, const Labels& stream,
              const std::vector<OtlpAttribute>& resource_md,
              const std::vector<OtlpAttribute>& scope_md) {
    uint64_t time = 0, observed = 0, severity = 0, dropped = 0;
    uint32_t flags = 0;
    std::string_view severity_text, body, trace_id, span_id, event_name;
    WireReader r(rec);
    while (r.NextField()) {
      switch (r.field()) {
        case 1:
          r.ReadFixed64(&time);
          break;
        case 2:
          r.ReadVarint(&severity);
          break;
        case 3:
          r.ReadBytes(&severity_text);
          break;
        case 5:
          r.ReadBytes(&body);
          break;
        case 7:
          r.ReadVarint(&dropped);
          break;
        case 8:
          r.ReadFixed32(&flags);
          break;
        case 9:
          r.ReadBytes(&trace_id);
          break;
        case 10:
          r.ReadBytes(&span_id);
          break;
        case 11:
          r.ReadFixed64(&observed);
          break;
        case 12:
          r.ReadBytes(&event_name);
          break;
        default:
          r.Skip();
      }
    }
    std::vector<OtlpAttribute> md;
    NamedAttributes(rec, 6, md);
    if (!event_name.empty()) std::erase_if(md, [](const auto& a) { return a.key == "event_name"; });
    if (time != 0 && observed != 0) md.push_back({"observed_timestamp", std::to_string(observed)});
    if (severity != 0) md.push_back({"severity_number", std::to_string(severity)});
    if (!severity_text.empty()) md.push_back({"severity_text", std::string(severity_text)});
    if (dropped != 0) md.push_back({"dropped_attributes_count", std::to_string(dropped)});
    if (flags != 0) md.push_back({"flags", std::to_string(flags)});
    if (!trace_id.empty() && !AllZero(trace_id)) md.push_back({"trace_id", Hex(trace_id)});
    if (!span_id.empty() && !AllZero(span_id)) md.push_back({"span_id", Hex(span_id)});
    if (!event_name.empty()) md.push_back({"event_name", std::string(event_name)});
    md.insert(md.end(), resource_md.begin(), resource_md.end());
    md.insert(md.end(), scope_md.begin(), scope_md.end());

    uint64_t ts = time != 0 ? time : observed;
    LokiEntry e;
    e.ts_ns =
        ts != 0 && ts <= static_cast<uint64_t>(INT64_MAX) ? static_cast<int64_t>(ts) : now_ns_;
    e.line = out_.storage.emplace_back(body.empty() ? std::string() : AnyValueString(body));
    e.metadata_begin = static_cast<uint32_t>(out_.push.metadata.size());
    for (auto& a : md) {
      const std::string& k = out_.storage.emplace_back(std::move(a.key));
      const std::string& v = out_.storage.emplace_back(std::move(a.value));
      out_.push.metadata.push_back({k, v});
    }
    e.metadata_count = static_cast<uint32_t>(out_.push.metadata.size()) - e.metadata_begin;
    auto [it, fresh] = stream_of_.try_emplace(stream, out_.push.streams.size());
    if (fresh) out_.push.streams.push_back({stream, {}});
    out_.push.streams[it->second].entries.push_back(e);
    ++out_.records;
  }

  OtlpLogs& out_;
  int64_t now_ns_;
  std::map<Labels, size_t> stream_of_;
};

}  // namespace

Result<std::unique_ptr<OtlpLogs>> TranslateOtlpLogs(std::string_view data, int64_t now_ns) {
  RETURN_IF_ERROR(ScanOtlp(OtlpSignal::kLogs, data).status());
  auto out = std::make_unique<OtlpLogs>();
  LogsTranslator t(*out, now_ns);
  WireReader r(data);
  std::string_view rl;
  while (r.NextField()) {
    if (r.field() == 1 && r.ReadBytes(&rl)) {
      t.ResourceLogs(rl);
    } else {
      r.Skip();
    }
  }
  return out;
}

}  // namespace strata::proto
