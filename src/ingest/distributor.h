#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "base/thread_annotations.h"
#include "http/server.h"
#include "ingest/limits.h"
#include "ingest/rate_limiter.h"
#include "ingest/reasons.h"
#include "tsdb/storage.h"

namespace strata::ingest {

// Distributor receives remote-write requests: it authenticates the tenant, decodes, applies
// rate limits and validation, appends to the tenant's Db, and answers only once the accepted
// samples are durable. Thread-safe. `storage` must outlive it; until SetStorage is called
// (WAL replay still running) pushes are answered 503.
class Distributor {
 public:
  Distributor(const IngestConfig& config, prometheus::Registry& registry);

  void SetStorage(tsdb::Storage* storage) { storage_.store(storage); }
  // Handles POST /api/v1/push and /api/v1/write.
  void HandlePush(http::Request& req, const http::Responder& respond);

 private:
  struct TenantState {
    TokenBucket bucket;
    prometheus::Counter* received;
    prometheus::Counter* accepted;
    prometheus::Counter* duplicates;
    std::array<prometheus::Counter*, static_cast<size_t>(Reason::kCount)> rejected{};
  };
  TenantState& StateFor(const std::string& tenant) EXCLUDES(tenants_mu_);
  // Resolves the tenant of a request, or answers it with 400/401 and returns false.
  bool Tenant(const http::Request& req, const http::Responder& respond, std::string* tenant) const;

  const IngestConfig& config_;  // owned by the caller; outlives the Distributor
  std::atomic<tsdb::Storage*> storage_{nullptr};
  prometheus::Family<prometheus::Counter>& received_family_;
  prometheus::Family<prometheus::Counter>& accepted_family_;
  prometheus::Family<prometheus::Counter>& duplicate_family_;
  prometheus::Family<prometheus::Counter>& rejected_family_;
  prometheus::Family<prometheus::Counter>& requests_family_;

  std::shared_mutex tenants_mu_;
  std::map<std::string, std::unique_ptr<TenantState>> tenants_ GUARDED_BY(tenants_mu_);
};

}  // namespace strata::ingest
