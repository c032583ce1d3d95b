#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/export/exporter.h"
#include "agent/queue/queue.h"
#include "base/metric_family.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "http/error_response.h"
#include "http/server.h"
#include "limits/token_bucket.h"

namespace strata::agent {

using ExporterSet = std::vector<std::shared_ptr<Exporter>>;

// What a per-tenant rate limit counts.
enum class Budget : uint8_t { kSamples, kLogBytes, kSpans };

using http::ErrorFormat;

// Intake is what every receiver hands a decoded, validated request to: it holds the memory
// budget for request bodies being processed, resolves and rate-limits the tenant, appends the
// request to the queue of every exporter that takes it, and reports success only once every
// copy is durable (failure when a queue is full or its disk is failing, so the sender keeps
// the data). Thread-safe.
class Intake {
 public:
  Intake(uint64_t memory_budget_bytes,
         std::function<std::shared_ptr<const ExporterSet>()> exporters, RateLimitTable limits,
         prometheus::Registry& registry);

  // A reservation of request memory, released when destroyed.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Intake* owner, uint64_t bytes) : owner_(owner), bytes_(bytes) {}
    Reservation(Reservation&& o) noexcept : owner_(o.owner_), bytes_(o.bytes_) {
      o.owner_ = nullptr;
    }
    Reservation& operator=(Reservation&&) = delete;
    ~Reservation() {
      if (owner_) owner_->used_ -= bytes_;
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    Intake* owner_ = nullptr;
    uint64_t bytes_ = 0;
  };
  // Reserves `bytes` of the memory budget; an empty reservation when it is exhausted.
  Reservation Reserve(uint64_t bytes);

  // Takes `amount` from the tenant's budget; 0 when admitted, else the seconds to wait (and
  // the refusal is counted).
  int64_t Admit(const std::string& tenant, Budget budget, double amount);
  void SetLimits(RateLimitTable limits);

  // Tail sampling: receivers' OTLP spans go to `route` (the sampler, which queues them and
  // calls `done` once durable) instead of the exporters, and `has_room` answers HasRoom for
  // them; the sampler hands the traces it keeps to Deliver. Set before receivers start.
  using SpanRoute = std::function<void(const std::string& receiver, const QueueRecord&,
                                       std::function<void(const Status&)> done)>;
  void SetSpanRoute(SpanRoute route, std::function<bool(uint64_t)> has_room);

  // True when some exporter takes `kind`.
  bool Wants(ItemKind kind) const;
  // True when every queue taking `kind` would accept `bytes` now.
  bool HasRoom(ItemKind kind, uint64_t bytes) const;

  // Queues the request: every exporter gets the first of `variants` whose kind it takes (OTLP
  // metrics, say, and their remote-write translation). `done` is called once, from any thread:
  // OK when every copy is durable; kNotFound when no exporter takes any variant; the first
  // queue's error otherwise.
  void Submit(const std::string& receiver, std::span<const QueueRecord> variants,
              std::function<void(const Status&)> done);
  // Queues the first of `variants` each exporter takes, as Submit does, but neither routes
  // nor counts it as received (the tail sampler's kept traces).
  void Deliver(std::span<const QueueRecord> variants, std::function<void(const Status&)> done);
  // Submits independent parts of one request (a Faro payload's logs and its traces), each
  // with its variants; `done` is called once, when every part is durable or with the first
  // error.
  void SubmitParts(const std::string& receiver, std::span<const std::span<const QueueRecord>> parts,
                   std::function<void(const Status&)> done);

  // HTTP receivers: the tenant (X-Scope-OrgID, else `fallback`, the receiver's configured
  // tenant, possibly empty), or answers 400 and returns false.
  bool Tenant(const std::string& receiver, const http::Request& req, const http::Responder& respond,
              const std::string& fallback, ErrorFormat format, std::string* tenant);
  // Rate limit for HTTP receivers: true when admitted, else answers 429 with Retry-After.
  bool AdmitHttp(const std::string& receiver, const http::Request& req,
                 const http::Responder& respond, ErrorFormat format, const std::string& tenant,
                 Budget budget, double amount);
  // Submits and answers `ok_status` with `ok_body` (of `ok_content_type`) once durable, or the
  // error: 404 (no exporter), 413 (record larger than a queue takes), 400 (a tenant that cannot
  // be queued), 503 + Retry-After (a queue full or failing).
  // `ok_headers` go on the success answer only.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  void SubmitHttp(const std::string& receiver, std::span<const QueueRecord> variants,
                  const http::Request& req, const http::Responder& respond, ErrorFormat format,
                  http::Status ok_status, std::string ok_content_type = {},
                  std::string ok_body = {}, Headers ok_headers = {});
  void SubmitHttp(const std::string& receiver, std::span<const std::span<const QueueRecord>> parts,
                  const http::Request& req, const http::Responder& respond, ErrorFormat format,
                  http::Status ok_status, std::string ok_content_type = {},
                  std::string ok_body = {}, Headers ok_headers = {});
  // Answers an error (its HTTP status from http/status_map.h) and counts it.
  void Reply(const std::string& receiver, const http::Request& req, const http::Responder& respond,
             ErrorFormat format, const Status& error);
  // Counts an answered request (receivers that are not HTTP).
  void CountRequest(const std::string& receiver, const std::string& code);

 private:
  struct TenantBuckets {
    limits::TokenBucket samples, log_bytes, spans;
  };

  const uint64_t budget_;
  std::atomic<uint64_t> used_{0};
  std::function<std::shared_ptr<const ExporterSet>()> exporters_;
  SpanRoute span_route_;
  std::function<bool(uint64_t)> span_room_;
  SeriesByLabels<prometheus::Counter> received_;  // by receiver, tenant
  SeriesByLabels<prometheus::Counter> requests_;  // by receiver, code
  prometheus::Family<prometheus::Counter>& limited_;

  Mutex limits_mu_;
  RateLimitTable limits_ GUARDED_BY(limits_mu_);
  std::map<std::string, std::unique_ptr<TenantBuckets>> buckets_ GUARDED_BY(limits_mu_);
};

}  // namespace strata::agent
