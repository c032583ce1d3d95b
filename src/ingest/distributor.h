#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "http/server.h"
#include "ingest/limits.h"
#include "ingest/rate_limiter.h"
#include "ingest/reasons.h"
#include "proto/remote_write.h"
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
  // Handles POST /otlp/v1/metrics: OTLP/HTTP metrics (protobuf or JSON, optionally gzip)
  // translated to Prometheus series (proto/otlp_metrics.h), then stored as remote write is.
  // Answers 200 with an ExportMetricsServiceResponse; refused points are its partial success.
  void HandleOtlp(http::Request& req, const http::Responder& respond);

 private:
  struct TenantState {
    TokenBucket bucket;
    prometheus::Counter* received;
    prometheus::Counter* accepted;
    prometheus::Counter* duplicates;
    std::array<prometheus::Counter*, static_cast<size_t>(Reason::kCount)> rejected{};
  };
  // Points refused before ingestion (OTLP points with no Prometheus form).
  struct Refusals {
    uint64_t count = 0;
    std::vector<std::string> messages;
  };
  // Builds the answer from the number of samples refused and the message describing them.
  using ResponseFn = std::function<http::Response(uint64_t refused, const std::string& message)>;
  // Rate-limits, validates and appends a decoded request; answers once it is durable.
  void Ingest(const http::Request& req, const http::Responder& respond, const std::string& tenant,
              const proto::WriteRequestView& wr, const Refusals& refused_before,
              const ResponseFn& make_response);
  // Answers an error and counts it.
  void Reply(const http::Request& req, const http::Responder& respond, http::Status code,
             std::string msg, const std::string& tenant);
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
