#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/export/exporter.h"
#include "agent/queue/queue.h"
#include "http/server.h"

namespace strata::agent {

using ExporterSet = std::vector<std::shared_ptr<Exporter>>;

// Intake is what every receiver hands a decoded, validated request to: it holds the memory
// budget for request bodies being processed, resolves the tenant, appends the request to the
// queue of every exporter that takes its kind, and answers the sender 2xx only once every copy
// is durable (503 with Retry-After when a queue is full or its disk is failing, so the sender
// keeps the data). Thread-safe.
class Intake {
 public:
  Intake(uint64_t memory_budget_bytes,
         std::function<std::shared_ptr<const ExporterSet>()> exporters,
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

  // The request's tenant (X-Scope-OrgID, empty when absent), or answers 400 and returns false.
  bool Tenant(const std::string& receiver, const http::Request& req, const http::Responder& respond,
              std::string* tenant);
  // Queues `rec` and answers `respond` with `ok_status` once durable everywhere.
  void Enqueue(const std::string& receiver, const QueueRecord& rec, const http::Request& req,
               const http::Responder& respond, http::Status ok_status);
  // Answers an error and counts it.
  void Reply(const std::string& receiver, const http::Request& req, const http::Responder& respond,
             http::Status code, std::string msg);

 private:
  const uint64_t budget_;
  std::atomic<uint64_t> used_{0};
  std::function<std::shared_ptr<const ExporterSet>()> exporters_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& requests_;
};

}  // namespace strata::agent
