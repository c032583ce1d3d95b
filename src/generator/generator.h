#pragma once

// The metrics-generator of `strata serve`: Tempo's span metrics and service graphs, computed
// from the spans each tenant stores and written into that tenant's metrics, so Grafana's RED
// panels and service map work over Strata alone.
//
// Span metrics (one series per service, span name, kind and status code):
//   traces_spanmetrics_calls_total, traces_spanmetrics_latency (a histogram in seconds,
//   buckets 0.002 .. 16.384 doubling), traces_spanmetrics_size_total (span bytes).
// Service graphs (one series per client, server and connection type): a client span (CLIENT,
// PRODUCER) and the server span (SERVER, CONSUMER) whose parent it is make an edge;
//   traces_service_graph_request_total, _request_failed_total (either side in error),
//   _request_server_seconds and _request_client_seconds (histograms, 0.1 .. 12.8 doubling).
// An edge waits at most `edge_wait_ms` for its other side; then a root server span gets the
// client `user` (or its peer.service), a client span with a peer attribute the server of that
// name (connection_type "virtual_node"). A client span with database attributes is an edge to
// the database at once ("database"); PRODUCER/CONSUMER edges are "messaging_system".
//
// Series are Tempo's registry's: counters and histograms cumulative since the series was
// created, written every collection interval at the collection time, a new series first as 0
// a second before the minute of its first collection so that rate() sees its first increase
// (histograms' _sum excepted, as in Tempo); a series not updated for `stale_after_ms` is
// dropped. Spans are counted only when they ended within `ingestion_slack_ms` of now. A
// histogram bucket keeps the trace of the last span observed into it as its exemplar
// ({traceID="<hex>"}, written with the bucket's next sample, then let go), as Tempo's do.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "proto/remote_write.h"

namespace strata::generator {

struct Options {
  bool enabled = true;
  int64_t collection_interval_ms = 15'000;
  int64_t stale_after_ms = int64_t{15} * 60'000;
  // Per tenant: series (a histogram's label set counts once) and edges waiting for a side.
  // Past them new series are counted together as {metric_overflow="true"} (as Tempo's) and
  // new edges left out; both are counted.
  size_t max_active_series = 10'000;
  size_t max_edges = 10'000;
  int64_t edge_wait_ms = 10'000;
  // Spans are counted only when they ended within this of the time they are stored
  // (Tempo's metrics_ingestion_time_range_slack).
  int64_t ingestion_slack_ms = 30'000;
};

// What the generator reads of a stored span.
struct SpanFacts {
  std::string trace_id, span_id, parent_id;  // raw bytes; parent_id empty for a root
  std::string service;                       // its resource's service.name; empty: none
  std::string name;
  int kind = 0;    // OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer
  int status = 0;  // OTLP's StatusCode: 0 unset, 1 ok, 2 error
  int64_t start_ns = 0, end_ns = 0;
  uint32_t size = 0;            // bytes of its Span message
  std::string peer;             // the first peer attribute it has (peer.service, db.name, ...)
  bool database = false;        // it has db.namespace, db.name, db.system or db.system.name
  std::string database_server;  // then: the database's name for the service graph
};

// The facts of each span of `resource_spans` (a serialized ResourceSpans, as the trace store
// keeps fragments), appended to `out`. Malformed input -> kCorruption.
Status ExtractFacts(std::string_view resource_spans, std::vector<SpanFacts>& out);

// Thread-safe.
class Generator {
 public:
  // Counts what it takes and leaves out in `registry` (may be null):
  // strata_generator_spans_total{tenant} and strata_generator_discarded_total{tenant,reason}
  // (outside_slack: spans; series_overflow: updates counted under metric_overflow;
  // edges_full: client or server spans with no room to wait for their other side;
  // queue_full: spans that found the queue full).
  Generator(Options opts, prometheus::Registry* registry);
  ~Generator();

  // Queues the stored fragments of `tenant` (serialized ResourceSpans holding `spans` spans),
  // stored at `now_ms`, for Drain, which reads them: cheap enough for the WAL's durability
  // callbacks, nothing decoded on the ingest path. Past kMaxQueuedBytes waiting, they are left
  // out and counted (strata_generator_discarded_total{reason="queue_full"}).
  static constexpr size_t kMaxQueuedBytes = size_t{64} << 20;
  void Enqueue(const std::string& tenant, std::vector<std::string> resource_spans, uint64_t spans,
               int64_t now_ms);
  // Reads and observes what was queued; called by the thread that collects.
  void Drain();
  // Takes `spans` of `tenant`, stored at `now_ms`.
  void Observe(const std::string& tenant, std::span<const SpanFacts> spans, int64_t now_ms);
  // Settles the edges that waited long enough, drops stale series, and returns every tenant's
  // series at `now_ms`.
  std::vector<std::pair<std::string, proto::WriteRequest>> Collect(int64_t now_ms);

 private:
  struct Tenant;
  Tenant& For(const std::string& tenant) REQUIRES(mu_);

  struct Queued {
    std::string tenant;
    std::vector<std::string> resource_spans;
    int64_t now_ms;
  };

  const Options opts_;
  Mutex queue_mu_;
  std::vector<Queued> queue_ GUARDED_BY(queue_mu_);
  size_t queued_bytes_ GUARDED_BY(queue_mu_) = 0;
  prometheus::Family<prometheus::Counter>* spans_ = nullptr;
  prometheus::Family<prometheus::Counter>* discarded_ = nullptr;
  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<Tenant>, std::less<>> tenants_ GUARDED_BY(mu_);
};

}  // namespace strata::generator
