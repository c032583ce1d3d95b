#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "ingest/reasons.h"
#include "ingest/tenant_state.h"
#include "limits/limits.h"
#include "limits/token_bucket.h"
#include "proto/remote_write.h"
#include "tsdb/storage.h"

namespace strata::ingest {

// Points of a request refused before they reached the distributor (OTLP points with no
// Prometheus form): counted and reported with the distributor's own refusals.
struct Refusals {
  uint64_t count = 0;
  std::vector<std::string> messages;
};

// What became of one push.
struct PushOutcome {
  // Not OK: nothing was stored. kResourceExhausted (rate limited; retry after
  // `retry_after_s`), kUnavailable (not ready, or the WAL could not make the samples durable).
  Status status;
  int64_t retry_after_s = 0;
  uint64_t samples = 0;     // in the request (native histograms too), refused_before included
  uint64_t refused = 0;     // refused by validation and limits; the others are stored and durable
  uint64_t histograms = 0;  // native histogram samples stored (duplicates too)
  uint64_t exemplars = 0;   // stored (exemplars never fail a push)
  std::string message;      // what was refused and why; empty when nothing was
  // Some were refused by a limit the tenant may have raised (Loki answers those with 429).
  bool over_limit = false;
};

// Distributor takes decoded batches of a tenant's samples, whatever protocol carried them:
// it applies the tenant's rate limit and validation, appends to the tenant's Db, and reports
// once the accepted samples are durable. It knows nothing of HTTP (api/push_api.h answers for
// it). Thread-safe. Until SetStorage is called (WAL replay still running) pushes are refused
// with kUnavailable.
class Distributor {
 public:
  // `limits` is owned by the caller and outlives the Distributor.
  Distributor(const limits::TenantOverrides& limits, prometheus::Registry& registry);

  void SetStorage(tsdb::Storage* storage) { storage_.store(storage); }

  using Done = std::function<void(PushOutcome)>;
  // Stores `batch` (borrowed for the duration of the call) for `tenant`. `done` is called
  // exactly once, from this thread or the WAL's, when the stored samples are durable or with
  // the reason nothing was stored.
  void Push(const std::string& tenant, const proto::WriteRequestView& batch,
            const Refusals& refused_before, Done done);

 private:
  const limits::TenantOverrides& limits_;
  std::atomic<tsdb::Storage*> storage_{nullptr};
  TenantStates<Reason> tenants_;
};

}  // namespace strata::ingest
