#include "generator/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "base/encoding.h"
#include "base/units.h"
#include "proto/wire.h"
#include "traceql/trace.h"

namespace strata::generator {

namespace {

constexpr int kKindServer = 2, kKindClient = 3, kKindProducer = 4, kKindConsumer = 5;
constexpr int kStatusError = 2;

// Tempo's buckets: 0.002 s doubling 14 times for span latency, 0.1 s doubling 8 times for
// service graph requests.
std::vector<double> Doubling(double first, int count) {
  std::vector<double> out(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) out[static_cast<size_t>(i)] = first * std::pow(2.0, i);
  return out;
}
const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = Doubling(0.002, 14);
  return kBuckets;
}
const std::vector<double>& GraphBuckets() {
  static const std::vector<double> kBuckets = Doubling(0.1, 8);
  return kBuckets;
}

constexpr std::array<std::string_view, 6> kKindNames = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
constexpr std::array<std::string_view, 3> kStatusNames = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                                          "STATUS_CODE_ERROR"};

// An attribute's value as Tempo turns one into a label value.
std::string Stringify(const traceql::Static& v) {
  switch (v.type) {
    case traceql::StaticType::kString:
      return v.s;
    case traceql::StaticType::kInt:
      return std::to_string(v.i);
    case traceql::StaticType::kFloat:
      return FormatFloatF(v.f);
    default:
      return v.String();
  }
}

// The first of `keys` found in `lists` (each searched in turn), as a label value.
std::optional<std::string> FindValue(std::initializer_list<std::string_view> keys,
                                     std::initializer_list<const traceql::Attrs*> lists) {
  for (std::string_view key : keys) {
    for (const traceql::Attrs* attrs : lists) {
      for (const auto& [k, v] : *attrs) {
        if (k == key) return Stringify(v);
      }
    }
  }
  return std::nullopt;
}

// The exemplar label naming a trace, and the trace ID as its value: lowercase hex without
// leading zeros (Tempo's trace_id_label_name default and TraceIDToHexString).
constexpr std::string_view kTraceIdLabel = "traceID";
std::string TraceIdHex(std::string_view id) {
  const std::string hex = HexEncode(id);
  const size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? std::string() : hex.substr(first);
}

// Prometheus's text for a bucket bound: shortest digits, never an exponent.
std::string BucketLabel(double bound) { return FormatFloatF(bound); }

// OTLP's numbers for TraceQL's kinds and statuses.
int OtlpKind(traceql::SpanKind k) {
  switch (k) {
    case traceql::SpanKind::kUnspecified:
      return 0;
    case traceql::SpanKind::kInternal:
      return 1;
    case traceql::SpanKind::kServer:
      return kKindServer;
    case traceql::SpanKind::kClient:
      return kKindClient;
    case traceql::SpanKind::kProducer:
      return kKindProducer;
    case traceql::SpanKind::kConsumer:
      return kKindConsumer;
  }
  return 0;
}
int OtlpStatus(traceql::SpanStatus s) {
  switch (s) {
    case traceql::SpanStatus::kUnset:
      return 0;
    case traceql::SpanStatus::kOk:
      return 1;
    case traceql::SpanStatus::kError:
      return kStatusError;
  }
  return 0;
}

double Seconds(int64_t start_ns, int64_t end_ns) {
  return end_ns > start_ns ? static_cast<double>(end_ns - start_ns) / 1e9 : 0;
}

// A series' labels without __name__: name-sorted pairs with values (empty ones left out,
// long ones cut at Tempo's 2,048 bytes).
constexpr size_t kMaxLabelValueBytes = 2048;
Labels Dimensions(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  Labels out;
  for (const auto& [k, v] : pairs) {
    if (v.empty()) continue;
    // Cut at a character's start, so that a long UTF-8 value stays UTF-8.
    size_t n = std::min(v.size(), kMaxLabelValueBytes);
    while (n < v.size() && n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
    out.push_back({std::string(k), std::string(v.substr(0, n))});
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Whether every value is UTF-8 (Tempo leaves a span out otherwise).
bool ValidUtf8(const Labels& ls) {
  return std::all_of(ls.begin(), ls.end(), [](const Label& l) { return IsValidUtf8(l.value); });
}

Labels WithLabel(Labels ls, std::string_view name, std::string_view value) {
  Label l{std::string(name), std::string(value)};
  ls.insert(std::upper_bound(ls.begin(), ls.end(), l), std::move(l));
  return ls;
}

}  // namespace

Status ExtractFacts(std::string_view resource_spans, std::vector<SpanFacts>& out) {
  std::string traces_data;
  proto::PutBytesField(traces_data, 1, resource_spans);
  ASSIGN_OR_RETURN(traceql::Trace t, traceql::DecodeTrace(traces_data));
  for (const traceql::Span& s : t.spans) {
    const traceql::Attrs& resource = t.resources[s.resource];
    SpanFacts f;
    f.trace_id = t.id;
    f.span_id = s.span_id;
    f.parent_id = s.parent_id;
    f.service = FindValue({"service.name"}, {&resource}).value_or("");
    f.name = s.name;
    f.kind = OtlpKind(s.kind);
    f.status = OtlpStatus(s.status);
    f.start_ns = s.start_ns;
    f.end_ns = s.end_ns;
    f.size = s.size;
    f.peer = FindValue({"peer.service", "db.name", "db.system", "db.system.name"}, {&s.attrs})
                 .value_or("");
    // A database request names its server by peer.service, server.address,
    // network.peer.address(:port), else the database's name.
    auto db_name = FindValue({"db.namespace", "db.name", "db.system", "db.system.name"},
                             {&resource, &s.attrs});
    f.database = db_name.has_value();
    if (f.database) {
      if (auto v = FindValue({"peer.service"}, {&resource, &s.attrs})) {
        f.database_server = *v;
      } else if (auto addr = FindValue({"server.address"}, {&resource, &s.attrs})) {
        f.database_server = *addr;
      } else if (auto host = FindValue({"network.peer.address"}, {&resource, &s.attrs})) {
        auto port = FindValue({"network.peer.port"}, {&resource, &s.attrs});
        f.database_server = port ? *host + ":" + *port : *host;
      } else {
        f.database_server = *db_name;
      }
    }
    out.push_back(std::move(f));
  }
  return Status::Ok();
}

struct Generator::Tenant {
  struct Counter {
    double value = 0;
    int64_t updated_ms = 0;
    bool written = false;
  };
  struct Histogram {
    std::vector<double> buckets;  // cumulative counts per bound
    double count = 0, sum = 0;
    int64_t updated_ms = 0;
    bool written = false;
    // Per bucket (+Inf last): the trace of the last value observed into it since the last
    // collection (hex, empty: none) and the value, written as the bucket's exemplar.
    std::vector<std::pair<std::string, double>> exemplars;
  };
  // One side of a service-graph edge, keyed by trace ID and the client's span ID.
  struct Edge {
    std::string trace_id;  // raw bytes
    std::string client, server, connection_type, peer;
    double client_seconds = 0, server_seconds = 0;
    bool failed = false, root = false;
    int64_t expires_ms = 0;
  };

  // metric family -> labels (without __name__) -> series
  std::map<std::string, std::map<Labels, Counter>, std::less<>> counters;
  std::map<std::string, std::pair<const std::vector<double>*, std::map<Labels, Histogram>>,
           std::less<>>
      histograms;
  size_t active = 0;
  // This tenant's counters of the Generator's families (null without a registry).
  prometheus::Counter* spans = nullptr;
  prometheus::Counter* outside_slack = nullptr;
  prometheus::Counter* series_overflow = nullptr;
  prometheus::Counter* edges_full = nullptr;
  std::unordered_map<std::string, Edge> edges;

  // The series of `ls` in `series`, created if new; past the limit new series are counted
  // together as {metric_overflow="true"}, as Tempo's.
  template <typename Map>
  typename Map::mapped_type& SeriesOf(Map& series, const Labels& ls, size_t max) {
    if (auto it = series.find(ls); it != series.end()) return it->second;
    if (active < max) {
      ++active;
      return series[ls];
    }
    if (series_overflow) series_overflow->Increment();
    static const Labels kOverflow = {{"metric_overflow", "true"}};
    if (!series.contains(kOverflow)) ++active;
    return series[kOverflow];
  }
  void Add(std::string_view family, const Labels& ls, double v, int64_t now_ms, size_t max) {
    Counter& c = SeriesOf(counters[std::string(family)], ls, max);
    c.value += v;
    c.updated_ms = now_ms;
  }
  // Observes `v` of the span's trace `trace_id` (raw bytes): the bucket it falls in keeps
  // it as its exemplar, as Tempo's registry does.
  void Observe(std::string_view family, const std::vector<double>& bounds, const Labels& ls,
               double v, std::string_view trace_id, int64_t now_ms, size_t max) {
    auto& [b, series] = histograms[std::string(family)];
    b = &bounds;
    Histogram& h = SeriesOf(series, ls, max);
    h.buckets.resize(bounds.size());
    h.exemplars.resize(bounds.size() + 1);
    const size_t bucket = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
    for (size_t i = bucket; i < bounds.size(); ++i) h.buckets[i] += 1;
    if (!trace_id.empty()) h.exemplars[bucket] = {TraceIdHex(trace_id), v};
    h.count += 1;
    h.sum += v;
    h.updated_ms = now_ms;
  }

  // An edge with both sides: its requests and latencies.
  void Complete(const Edge& e, int64_t now_ms, size_t max) {
    const Labels ls = Dimensions(
        {{"client", e.client}, {"server", e.server}, {"connection_type", e.connection_type}});
    if (!ValidUtf8(ls)) return;
    Add("traces_service_graph_request_total", ls, 1, now_ms, max);
    if (e.failed) Add("traces_service_graph_request_failed_total", ls, 1, now_ms, max);
    Observe("traces_service_graph_request_server_seconds", GraphBuckets(), ls, e.server_seconds,
            e.trace_id, now_ms, max);
    Observe("traces_service_graph_request_client_seconds", GraphBuckets(), ls, e.client_seconds,
            e.trace_id, now_ms, max);
  }

  // An edge whose other side never came: a root server span was called by `user` (or its
  // peer), a client span with a peer attribute called that peer; others are let go.
  void Expire(Edge& e, int64_t now_ms, size_t max) {
    e.connection_type = "virtual_node";
    if (e.client.empty()) {
      if (!e.root) return;
      e.client = e.peer.empty() ? "user" : e.peer;
    } else if (e.server.empty() && !e.peer.empty()) {
      e.server = e.peer;
    } else {
      return;
    }
    Complete(e, now_ms, max);
  }
};

Generator::Generator(Options opts, prometheus::Registry* registry) : opts_(opts) {
  if (registry == nullptr) return;
  spans_ = &prometheus::BuildCounter()
                .Name("strata_generator_spans_total")
                .Help("Spans the metrics-generator took, by tenant.")
                .Register(*registry);
  discarded_ = &prometheus::BuildCounter()
                    .Name("strata_generator_discarded_total")
                    .Help(
                        "What the metrics-generator left out, by tenant and reason: "
                        "outside_slack (spans that did not end about now), series_overflow "
                        "(updates counted under metric_overflow past max_active_series), "
                        "edges_full (spans with no room to wait for their other side).")
                    .Register(*registry);
}
Generator::~Generator() = default;

Generator::Tenant& Generator::For(const std::string& tenant) {
  auto& t = tenants_[tenant];
  if (!t) {
    t = std::make_unique<Tenant>();
    if (spans_ != nullptr) {
      t->spans = &spans_->Add({{"tenant", tenant}});
      t->outside_slack = &discarded_->Add({{"tenant", tenant}, {"reason", "outside_slack"}});
      t->series_overflow = &discarded_->Add({{"tenant", tenant}, {"reason", "series_overflow"}});
      t->edges_full = &discarded_->Add({{"tenant", tenant}, {"reason", "edges_full"}});
    }
  }
  return *t;
}

void Generator::Enqueue(const std::string& tenant, std::vector<std::string> resource_spans,
                        uint64_t spans, int64_t now_ms) {
  size_t bytes = 0;
  for (const std::string& r : resource_spans) bytes += r.size();
  {
    MutexLock lk(queue_mu_);
    if (queued_bytes_ + bytes <= kMaxQueuedBytes) {
      queued_bytes_ += bytes;
      queue_.push_back({tenant, std::move(resource_spans), now_ms});
      return;
    }
  }
  if (discarded_ != nullptr) {
    discarded_->Add({{"tenant", tenant}, {"reason", "queue_full"}})
        .Increment(static_cast<double>(spans));
  }
}

void Generator::Drain() {
  std::vector<Queued> queued;
  {
    MutexLock lk(queue_mu_);
    queued.swap(queue_);
    queued_bytes_ = 0;
  }
  std::vector<SpanFacts> facts;
  for (const Queued& q : queued) {
    facts.clear();
    for (const std::string& r : q.resource_spans) {
      // Checked when they were received: a failure here leaves the fragment out.
      (void)ExtractFacts(r, facts);
    }
    Observe(q.tenant, facts, q.now_ms);
  }
}

void Generator::Observe(const std::string& tenant, std::span<const SpanFacts> spans,
                        int64_t now_ms) {
  MutexLock lk(mu_);
  Tenant& t = For(tenant);
  const size_t max = opts_.max_active_series;
  const int64_t slack_ns = opts_.ingestion_slack_ms * 1'000'000;
  const int64_t now_ns = now_ms * 1'000'000;
  for (const SpanFacts& s : spans) {
    // Only spans that ended about now: a replay of old spans makes no metrics at this time.
    if (s.end_ns < now_ns - slack_ns || s.end_ns > now_ns + slack_ns) {
      if (t.outside_slack) t.outside_slack->Increment();
      continue;
    }
    if (t.spans) t.spans->Increment();
    const std::string_view kind =
        s.kind >= 0 && s.kind < static_cast<int>(kKindNames.size()) ? kKindNames[s.kind] : "";
    const std::string_view status =
        s.status >= 0 && s.status < static_cast<int>(kStatusNames.size()) ? kStatusNames[s.status]
                                                                          : "";
    const Labels ls = Dimensions({{"service", s.service},
                                  {"span_name", s.name},
                                  {"span_kind", kind},
                                  {"status_code", status}});
    if (!ValidUtf8(ls)) continue;
    t.Add("traces_spanmetrics_calls_total", ls, 1, now_ms, max);
    t.Observe("traces_spanmetrics_latency", LatencyBuckets(), ls, Seconds(s.start_ns, s.end_ns),
              s.trace_id, now_ms, max);
    t.Add("traces_spanmetrics_size_total", ls, s.size, now_ms, max);

    // Service graphs: spans of services only, client and server sides.
    const bool client = s.kind == kKindClient || s.kind == kKindProducer;
    const bool server = s.kind == kKindServer || s.kind == kKindConsumer;
    if (s.service.empty() || (!client && !server)) continue;
    std::string key = s.trace_id + (client ? s.span_id : s.parent_id);
    auto it = t.edges.find(key);
    if (it == t.edges.end()) {
      if (t.edges.size() >= opts_.max_edges) {
        if (t.edges_full) t.edges_full->Increment();
        continue;
      }
      it = t.edges.emplace(std::move(key), Tenant::Edge{}).first;
      it->second.expires_ms = now_ms + opts_.edge_wait_ms;
      it->second.trace_id = s.trace_id;
    }
    Tenant::Edge& e = it->second;
    // The span that completes an edge decides its type, as in Tempo.
    e.connection_type =
        s.kind == kKindProducer || s.kind == kKindConsumer ? "messaging_system" : "";
    e.failed = e.failed || s.status == kStatusError;
    if (!s.peer.empty()) e.peer = s.peer;
    if (client) {
      e.client = s.service;
      e.client_seconds = Seconds(s.start_ns, s.end_ns);
      if (s.database) {
        e.connection_type = "database";
        e.server = s.database_server;
        e.server_seconds = e.client_seconds;
      }
    } else {
      e.server = s.service;
      e.server_seconds = Seconds(s.start_ns, s.end_ns);
      e.root = s.parent_id.empty();
    }
    if (!e.client.empty() && !e.server.empty()) {
      t.Complete(e, now_ms, max);
      t.edges.erase(it);
    }
  }
}

std::vector<std::pair<std::string, proto::WriteRequest>> Generator::Collect(int64_t now_ms) {
  MutexLock lk(mu_);
  std::vector<std::pair<std::string, proto::WriteRequest>> out;
  const int64_t stale_before = now_ms - opts_.stale_after_ms;
  // Tempo writes a new series' first 0 a second before the minute the collection is in.
  const int64_t zero_ms = now_ms - now_ms % 60'000 - 1'000;
  for (auto& [name, t] : tenants_) {
    for (auto it = t->edges.begin(); it != t->edges.end();) {
      if (it->second.expires_ms > now_ms) {
        ++it;
        continue;
      }
      t->Expire(it->second, now_ms, opts_.max_active_series);
      it = t->edges.erase(it);
    }
    proto::WriteRequest req;
    auto write = [&](const std::string& family, const Labels& ls, double v, bool first) {
      proto::TimeSeries ts;
      ts.labels = WithLabel(ls, "__name__", family);
      if (first) ts.samples.push_back({zero_ms, 0});
      ts.samples.push_back({now_ms, v});
      req.series.push_back(std::move(ts));
    };
    // A bucket's exemplar goes with its sample, at the collection time, once.
    auto exemplar = [&](std::pair<std::string, double>& ex) {
      if (ex.first.empty()) return;
      req.series.back().exemplars.push_back(
          {{{std::string(kTraceIdLabel), std::move(ex.first)}}, ex.second, now_ms});
      ex.first.clear();
    };
    for (auto& [family, series] : t->counters) {
      for (auto it = series.begin(); it != series.end();) {
        if (it->second.updated_ms < stale_before) {
          it = series.erase(it);
          --t->active;
          continue;
        }
        write(family, it->first, it->second.value, !it->second.written);
        it->second.written = true;
        ++it;
      }
    }
    for (auto& [family, entry] : t->histograms) {
      auto& [bounds, series] = entry;
      for (auto it = series.begin(); it != series.end();) {
        Tenant::Histogram& h = it->second;
        if (h.updated_ms < stale_before) {
          it = series.erase(it);
          --t->active;
          continue;
        }
        const bool first = !h.written;
        for (size_t i = 0; i < bounds->size(); ++i) {
          write(family + "_bucket", WithLabel(it->first, "le", BucketLabel((*bounds)[i])),
                h.buckets[i], first);
          exemplar(h.exemplars[i]);
        }
        write(family + "_bucket", WithLabel(it->first, "le", "+Inf"), h.count, first);
        exemplar(h.exemplars[bounds->size()]);
        write(family + "_sum", it->first, h.sum, false);  // Tempo writes no first 0 for it
        write(family + "_count", it->first, h.count, first);
        h.written = true;
        ++it;
      }
    }
    if (!req.series.empty()) out.emplace_back(name, std::move(req));
  }
  return out;
}

}  // namespace strata::generator
