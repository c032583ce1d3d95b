#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/export/health.h"
#include "agent/queue/queue.h"
#include "base/mutex.h"
#include "base/status.h"
#include "http/client.h"
#include "limits/token_bucket.h"

namespace strata::agent {

struct BackendStats {
  std::string url;
  bool up = true;
  uint64_t sent_items = 0;
  uint64_t sent_requests = 0;
  uint64_t retries = 0;  // failed sends that will be retried (5xx, 429, transport errors)
  uint64_t health_changes = 0;
};

struct ExporterStats {
  std::vector<BackendStats> backends;
  uint64_t rejected_items = 0;  // refused by a backend with a non-retryable 4xx
};

// Exporter delivers one durable queue to its backends, in the exporter type's protocol
// (remote write, OTLP/HTTP protobuf to <url>/v1/<signal>, or Loki push). A reader thread reads
// the queue in order and merges consecutive records of one kind and tenant into a request; a
// sender thread sends the requests in that order to the first healthy backend (the primary,
// else failovers in order) and acknowledges each only after a 2xx. The reader prepares the
// next request while the current one is in flight, but only one is in flight (per lane), so
// per-series order is kept. Retries follow the remote-write spec: 5xx, 429 and transport
// errors are retried with jittered exponential backoff (429's Retry-After honoured) without a
// give-up timer; other 4xx are not retried, and their items are counted and logged as rejected
// (as are the items an OTLP backend reports rejected in a partial success). When no backend is
// up the data waits on disk; a probe thread checks each backend's probe URL so recovery is
// noticed without sends. Thread-safe; owns its queue.
class Exporter {
 public:
  Exporter(ExporterConfig config, std::unique_ptr<DurableQueue> queue);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  void Start();
  // Stops the threads (an in-flight request finishes or times out) and closes the queue;
  // what was not acknowledged is sent after the next start.
  void Stop();

  const ExporterConfig& config() const { return config_; }
  DurableQueue& queue() { return *queue_; }
  bool Accepts(ItemKind kind) const;
  ExporterStats Stats() const;

 private:
  enum class Outcome { kDelivered, kRejected, kStopped, kTooLarge };
  // One series of a remote-write request: its whole field (key, length, TimeSeries), as a
  // range of the merged request.
  struct SeriesRange {
    size_t offset;
    size_t size;
    uint64_t samples;
  };
  // One request: consecutive queued records of one kind and tenant, made ready to send.
  struct Prepared {
    std::vector<QueuedRecord> records;  // a single record's body is moved into `body`
    uint64_t items = 0;
    Status damaged;    // a record could not be read back: the request is dropped
    std::string body;  // the request; with lanes, the merged WriteRequest they cut up
    std::vector<std::vector<SeriesRange>> lanes;  // remote write with concurrency > 1
  };
  struct Lane {
    std::mt19937_64 rng;  // that lane's thread only
  };
  struct Backend {
    Backend(BackendConfig c, http::Url u, const HealthOptions& h)
        : config(std::move(c)), url(std::move(u)), health(h) {}
    BackendConfig config;
    http::Url url;
    std::vector<std::unique_ptr<http::Client>> senders;  // one per lane, used by that lane only
    BackendHealth health;
    std::atomic<uint64_t> sent_items{0}, sent_requests{0}, retries{0};
  };

  void ReadLoop();  // reads the queue and prepares requests, ahead of the sender
  void SendLoop();  // sends prepared requests in queue order and acknowledges them
  void ProbeLoop();
  Prepared Prepare(std::vector<QueuedRecord> records);
  // Remote write with concurrency > 1: cuts p's records into lanes by series label hash.
  void SplitLanes(Prepared& p);
  // Sends `p` until it is delivered or rejected.
  Outcome Transmit(const Prepared& p);
  Outcome TransmitLanes(const Prepared& p, const std::string& tenant);
  // Sends `series` of `merged` as one request on `lane`, halving it while the backend answers
  // 413.
  Outcome SendSeries(size_t lane, std::string_view merged, std::span<const SeriesRange> series,
                     const std::string& tenant);
  // Sends one request body until it is delivered, rejected or too large (413).
  Outcome Send(size_t lane, const std::string& body, uint64_t items, const std::string& tenant,
               ItemKind kind);
  Outcome RejectTooLarge(uint64_t items, const std::string& tenant);
  // The request path for records of `kind` on backend `b`.
  std::string TargetFor(const Backend& b, ItemKind kind) const;
  // The backend to send to: the first one up; if none is and some backend has no probe, that
  // one (its sends are its probes); -1 when all are down and probed.
  int PickBackend() const;
  // Sleeps unless stopping; returns false when stopping.
  bool SleepFor(int64_t ms);
  int64_t NextBackoff(std::mt19937_64& rng, int64_t& backoff_ms);

  const ExporterConfig config_;
  std::unique_ptr<DurableQueue> queue_;
  std::vector<std::unique_ptr<Backend>> backends_;
  limits::TokenBucket send_rate_;
  std::vector<Lane> lanes_;
  std::atomic<uint64_t> rejected_items_{0};

  Mutex mu_;
  std::condition_variable cv_;        // stop_ changed
  std::condition_variable ready_cv_;  // ready_ changed
  bool stop_ = false;                 // guarded by mu_
  std::deque<Prepared> ready_;        // guarded by mu_; prepared, not yet taken by the sender
  std::thread reader_;
  std::thread sender_;
  std::thread prober_;
};

}  // namespace strata::agent
