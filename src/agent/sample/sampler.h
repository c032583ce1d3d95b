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
// - Each decision is made durable first (<data_dir>/tail_sampling/decisions), and only then
//   are its kept spans queued for the exporters; late spans are queued under a restated
//   decision the same way. After a restart every decision on disk is read back before any
//   span, and spans of a decided trace (late ones, or replayed ones) follow it: a trace is
//   never decided twice while its decision is kept, so it is kept or dropped whole (kept
//   spans may be delivered twice after a crash, never lost). A decision leaves the disk only
//   once the spans it settled are acknowledged and the caches' sizes are passed.
// - Memory is bounded (num_traces; max_buffered_bytes, counting kept spans not yet queued):
//   at the bound the sampler stops reading its queue until decisions free room; the queue
//   then fills on disk and receivers answer 503 (back-pressure), never a silent drop.
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

  // Reads back the decisions and starts deciding (and forwarding to peers); once only.
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
    uint64_t generation = 0;  // when remembered (eviction order)
  };
  // A batch's records settled, and the memory it held.
  struct Settled {
    std::vector<uint64_t> records;
    uint64_t bytes = 0;
  };
  // A decisions record on disk: where it ends, how many decisions it holds, and the
  // spans-queue position its batch settled up to (it may leave once that is acknowledged).
  struct DecisionRecord {
    QueuePosition end;
    QueuePosition settles;
    uint64_t count = 0;
  };

  TailSampler(TailSamplingConfig config, std::unique_ptr<DurableQueue> spans,
              std::unique_ptr<DurableQueue> decisions, Deliver deliver,
              prometheus::Registry& registry);
  // The owner of `trace_id` on the ring: -1 for this agent, else an index into peers_.
  int Owner(std::string_view trace_id) const;
  void Loop();
  // Reads queued records into the buffer (or applies cached decisions to them).
  void Ingest(std::vector<QueuedRecord> records);
  // Decides every trace whose decision_wait (from its first span's receipt) ended by
  // `due_ms`, in batches; `now_ms` is the policies' clock.
  void DecideDue(int64_t due_ms, int64_t now_ms);
  void DecideBatch(int64_t due_ms, int64_t now_ms);
  // Makes a batch's decisions durable, then its kept spans, then settles it; a refusal puts
  // it back for a retry (final delivery errors drop its spans, counted).
  void Submit(const std::shared_ptr<Batch>& batch);
  void UpdateGauges();
  // Reads the decisions queue to its end, remembering what it holds (at start) or only
  // where its records end (this process's own, to acknowledge them once forgotten).
  Status ReadDecisions(bool load);
  // Caches a decision; `evict` keeps the caches to their sizes.
  void Remember(const std::string& key, bool sampled, bool evict);
  void Settle(const Settled& s);
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
  // Decision records on disk after the decisions queue's acknowledged position.
  std::deque<DecisionRecord> decision_records_;
  uint64_t decisions_on_disk_ = 0;
  std::vector<std::shared_ptr<Batch>> retry_;  // batches whose delivery was refused
  int64_t retry_at_ms_ = 0;
  uint64_t in_flight_bytes_ = 0;  // kept spans of batches not settled
  QueuePosition spans_acked_;     // the spans queue's acknowledged position (this process)
  int64_t policy_clock_ms_ = 0;

  // Completions from queue threads, applied by the loop.
  Mutex mu_;
  std::condition_variable cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<Settled> settled_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Batch>> refused_ GUARDED_BY(mu_);
  size_t in_flight_ GUARDED_BY(mu_) = 0;  // batches submitted and not settled
  std::thread thread_;
  bool started_ = false;  // Start ran (Start and Stop are called from one thread)
  bool closed_ = false;   // Stop ran

  prometheus::Family<prometheus::Counter>& policy_decisions_;
  prometheus::Family<prometheus::Counter>& traces_;
  prometheus::Family<prometheus::Counter>& late_;
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
