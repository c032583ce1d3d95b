#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/config.h"
#include "agent/export/exporter.h"
#include "agent/queue/queue.h"
#include "agent/sample/policy.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace strata::agent {

// A peer forwards the spans it does not own to <owner's URL>/tail_sampling/v1/traces, taken by
// the receiver named kPeerReceiver.
inline constexpr const char* kPeerRoute = "/tail_sampling";
inline constexpr const char* kPeerReceiver = "tail_sampling_peer";

// TailSampler decides which traces the agent's OTLP exporters get, the way the OpenTelemetry
// Collector's tail_sampling processor does (its policies and YAML), without its failure modes:
//
// - Spans wait for their trace's decision in a durable queue (<data_dir>/tail_sampling/spans),
//   not in memory alone: a receiver's 2xx means the spans are on disk, and the queue position
//   advances past a record only once every trace in it was decided and, if kept, is durable in
//   the exporters' queues. A crash replays what was not settled.
// - Each decision is made durable too (<data_dir>/tail_sampling/decisions), with the queue
//   position it covered, before the spans it settles are acknowledged. After a restart the
//   decisions are read back: replayed spans a decision covered are not decided twice, and
//   late spans follow their trace's decision (kept or dropped whole) instead of starting a
//   new one.
// - Memory is bounded (num_traces, max_buffered_bytes): at the bound the sampler stops reading
//   its queue until decisions free room; the queue then fills on disk and receivers answer
//   503 (back-pressure), never a silent drop.
// - With peers, each agent owns a share of trace IDs (a consistent-hash ring over the peers'
//   URLs) and forwards other spans to their owner through a durable queue per peer, so every
//   span of a trace meets at one agent without a load-balancing tier.
//
// Thread-safe: Route from any thread; one thread of its own reads the queue and decides.
class TailSampler {
 public:
  // Queues a kept trace's spans for the exporters; `done` once durable there (from any thread).
  using Deliver = std::function<void(const QueueRecord&, std::function<void(const Status&)>)>;

  static Result<std::unique_ptr<TailSampler>> Open(const std::string& data_dir,
                                                   TailSamplingConfig config, Deliver deliver,
                                                   prometheus::Registry& registry);
  ~TailSampler();
  TailSampler(const TailSampler&) = delete;
  TailSampler& operator=(const TailSampler&) = delete;

  // Reads back the decisions and starts deciding (and forwarding to peers).
  Status Start();
  void Stop();

  // A receiver's spans (an OTLP traces record): queued here, or with peers cut by owner and
  // each part queued here or for its owner; `done` once every part is durable. Spans
  // forwarded by a peer (`from_peer`) are this agent's whatever its ring says, so agents with
  // different peer lists never pass spans back and forth.
  void Route(const QueueRecord& rec, bool from_peer, std::function<void(const Status&)> done);
  // False when the local queue would refuse `bytes` now.
  bool HasRoom(uint64_t bytes) const;

  // The peers' forwarding exporters (their queues appear in the agent's metrics).
  const std::vector<std::shared_ptr<Exporter>>& peers() const { return peers_; }

 private:
  struct Buffered;
  struct Record;
  struct Batch;
  struct CachedDecision {
    bool sampled = false;
    QueuePosition covered;    // spans queued up to here were decided with it
    uint64_t generation = 0;  // when remembered (eviction order)
  };

  TailSampler(TailSamplingConfig config, std::unique_ptr<DurableQueue> spans,
              std::unique_ptr<DurableQueue> decisions, Deliver deliver,
              prometheus::Registry& registry);
  // The owner of `trace_id` on the ring: -1 for this agent, else an index into peers_.
  int Owner(std::string_view trace_id) const;
  void Loop();
  // Reads queued records into the buffer (or applies cached decisions to them).
  void Ingest(std::vector<QueuedRecord> records);
  // Decides every trace whose decision_wait (from its first span's receipt) ended by `now_ms`.
  void DecideDue(int64_t now_ms);
  // Starts delivering a batch's kept spans; then its decisions; then settles it.
  void Submit(const std::shared_ptr<Batch>& batch);
  // Reads the decisions queue to its end, remembering what it holds (at start) or only
  // where its records end (this process's own, to acknowledge them once forgotten).
  void ReadDecisions(bool remember);
  void Remember(const std::string& key, CachedDecision d);
  void Settle(const std::vector<uint64_t>& records);
  void AckSettled();
  bool AtCapacity() const;

  const TailSamplingConfig config_;
  PolicySet policies_;
  std::unique_ptr<DurableQueue> spans_;
  std::unique_ptr<DurableQueue> decisions_;
  const Deliver deliver_;
  std::vector<std::shared_ptr<Exporter>> peers_;
  std::vector<std::string> peer_urls_;          // of peers_
  std::vector<std::pair<uint64_t, int>> ring_;  // (point, owner), sorted

  // The loop thread's state.
  std::unordered_map<std::string, std::unique_ptr<Buffered>> buffered_;  // key: trace ID + tenant
  std::deque<std::string> arrival_;  // buffered keys, oldest first (decision order)
  // Records received up to this time were read (the clock once the queue is drained).
  int64_t read_horizon_ms_ = 0;
  uint64_t buffered_bytes_ = 0;
  uint64_t buffered_spans_ = 0;
  std::deque<Record> records_;  // read and not acknowledged, oldest first
  uint64_t first_record_ = 0;   // the sequence number of records_.front()
  std::unordered_map<std::string, CachedDecision> cache_;
  std::deque<std::pair<std::string, uint64_t>> cached_order_[2];  // by sampled: (key, generation)
  uint64_t generation_ = 0;
  // Decision records on disk after the decisions queue's acknowledged position: (end, count).
  std::deque<std::pair<QueuePosition, uint64_t>> decision_records_;
  uint64_t decisions_on_disk_ = 0;
  std::vector<std::shared_ptr<Batch>> retry_;  // batches whose delivery was refused
  int64_t retry_at_ms_ = 0;

  // Completions from queue threads, applied by the loop.
  Mutex mu_;
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::vector<uint64_t>> settled_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Batch>> refused_ GUARDED_BY(mu_);
  std::thread thread_;
  bool closed_ = false;  // Stop ran (Start and Stop are called from one thread)

  prometheus::Family<prometheus::Counter>& policy_decisions_;
  prometheus::Family<prometheus::Counter>& traces_;
  prometheus::Counter& late_sampled_;
  prometheus::Counter& late_dropped_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& forwarded_;
  prometheus::Gauge& traces_buffered_;
  prometheus::Gauge& spans_buffered_;
  prometheus::Gauge& bytes_buffered_;
  prometheus::Counter& capacity_waits_;
};

}  // namespace strata::agent
