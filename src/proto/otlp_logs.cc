#include "proto/otlp_logs.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <utility>
#include <vector>

#include "base/encoding.h"
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

// The key of a KeyValue message.
std::string_view KeyOf(std::string_view kv) {
  WireReader r(kv);
  std::string_view key;
  while (r.NextField()) {
    if (r.field() == 1 && r.ReadBytes(&key)) return key;
    r.Skip();
  }
  return {};
}

// Appends the KeyValues of `message`'s field `field`, flattened and named as labels; an
// attribute whose key is `skip` is left out.
void NamedAttributes(std::string_view message, uint32_t field, std::vector<OtlpAttribute>& out,
                     std::string_view skip = {}) {
  WireReader r(message);
  std::string_view kv;
  while (r.NextField()) {
    if (r.field() == field && r.ReadBytes(&kv)) {
      if (!skip.empty() && KeyOf(kv) == skip) continue;
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
  // `budget`: the bytes the translation may hold (lines, metadata and its references).
  LogsTranslator(OtlpLogs& out, int64_t now_ns, size_t budget)
      : out_(out), now_ns_(now_ns), budget_(budget) {}

  const Status& status() const { return status_; }

  void ResourceLogs(std::string_view rl) {
    std::string_view resource;
    std::vector<std::string_view> scopes;
    SplitResourceMessage(rl, &resource, &scopes);
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
    std::vector<LabelView> resource_views = Intern(resource_md);
    for (std::string_view sl : scopes) {
      if (status_.ok()) ScopeLogs(sl, stream, resource_views);
    }
  }

 private:
  // Keeps the attributes' strings once; records point to them.
  std::vector<LabelView> Intern(std::vector<OtlpAttribute>& attrs) {
    std::vector<LabelView> out;
    out.reserve(attrs.size());
    for (auto& a : attrs) {
      if (!Charge(a.key.size() + a.value.size())) break;
      const std::string& k = out_.storage.emplace_back(std::move(a.key));
      const std::string& v = out_.storage.emplace_back(std::move(a.value));
      out.push_back({k, v});
    }
    return out;
  }

  bool Charge(size_t bytes) {
    if (bytes <= budget_) {
      budget_ -= bytes;
      return true;
    }
    if (status_.ok()) {
      status_ = Status::TooLarge(
          "OTLP logs request too large once translated: its records repeat more resource and "
          "scope attributes than the request's size allows");
    }
    budget_ = 0;
    return false;
  }

  void ScopeLogs(std::string_view sl, const Labels& stream,
                 const std::vector<LabelView>& resource_md) {
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
    std::vector<LabelView> scope_views = Intern(scope_md);
    for (std::string_view rec : records) {
      if (!status_.ok()) return;
      Record(rec, stream, resource_md, scope_views);
    }
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

  void Record(std::string_view rec, const Labels& stream, const std::vector<LabelView>& resource_md,
              const std::vector<LabelView>& scope_md) {
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
    // As pdata, Loki's decoder, refuses them: IDs of the wrong length.
    if ((!trace_id.empty() && trace_id.size() != 16) || (!span_id.empty() && span_id.size() != 8)) {
      status_ = Status::InvalidArgument(fmt::format(
          "invalid OTLP log record: trace_id of {} bytes (want 16) or span_id of {} bytes (want 8)",
          trace_id.size(), span_id.size()));
      return;
    }
    std::vector<OtlpAttribute> md;
    // A record with event_name leaves out an attribute of that name, as Loki does.
    NamedAttributes(rec, 6, md, event_name.empty() ? std::string_view() : "event_name");
    if (time != 0 && observed != 0) md.push_back({"observed_timestamp", std::to_string(observed)});
    if (severity != 0) md.push_back({"severity_number", std::to_string(severity)});
    if (!severity_text.empty()) md.push_back({"severity_text", std::string(severity_text)});
    if (dropped != 0) md.push_back({"dropped_attributes_count", std::to_string(dropped)});
    if (flags != 0) md.push_back({"flags", std::to_string(flags)});
    if (!trace_id.empty() && !IsZeroId(trace_id)) md.push_back({"trace_id", HexEncode(trace_id)});
    if (!span_id.empty() && !IsZeroId(span_id)) md.push_back({"span_id", HexEncode(span_id)});
    if (!event_name.empty()) md.push_back({"event_name", std::string(event_name)});

    uint64_t ts = time != 0 ? time : observed;
    LokiEntry e;
    e.ts_ns =
        ts != 0 && ts <= static_cast<uint64_t>(INT64_MAX) ? static_cast<int64_t>(ts) : now_ns_;
    std::string line = body.empty() ? std::string() : AnyValueString(body);
    size_t refs = md.size() + resource_md.size() + scope_md.size();
    if (!Charge(line.size() + sizeof(LokiEntry) + refs * sizeof(LabelView))) return;
    e.line = out_.storage.emplace_back(std::move(line));
    e.metadata_begin = static_cast<uint32_t>(out_.push.metadata.size());
    for (const LabelView& v : Intern(md)) out_.push.metadata.push_back(v);
    out_.push.metadata.insert(out_.push.metadata.end(), resource_md.begin(), resource_md.end());
    out_.push.metadata.insert(out_.push.metadata.end(), scope_md.begin(), scope_md.end());
    e.metadata_count = static_cast<uint32_t>(out_.push.metadata.size()) - e.metadata_begin;
    auto [it, fresh] = stream_of_.try_emplace(stream, out_.push.streams.size());
    if (fresh) out_.push.streams.push_back({stream, {}});
    out_.push.streams[it->second].entries.push_back(e);
    ++out_.records;
  }

  OtlpLogs& out_;
  int64_t now_ns_;
  size_t budget_;
  Status status_;
  std::map<Labels, size_t> stream_of_;
};

}  // namespace

Result<std::unique_ptr<OtlpLogs>> TranslateOtlpLogs(std::string_view data, int64_t now_ns) {
  RETURN_IF_ERROR(ScanOtlp(OtlpSignal::kLogs, data).status());
  auto out = std::make_unique<OtlpLogs>();
  // What the translation may hold: a few times the request, as a Loki push of it would.
  LogsTranslator t(*out, now_ns, 4 * data.size() + (size_t{1} << 20));
  WireReader r(data);
  std::string_view rl;
  while (t.status().ok() && r.NextField()) {
    if (r.field() == 1 && r.ReadBytes(&rl)) {
      t.ResourceLogs(rl);
    } else {
      r.Skip();
    }
  }
  if (!t.status().ok()) return t.status();
  return out;
}

}  // namespace strata::proto
