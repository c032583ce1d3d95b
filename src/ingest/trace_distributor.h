#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "ingest/distributor.h"
#include "ingest/tenant_state.h"
#include "limits/limits.h"
#include "proto/otlp_traces.h"
#include "traces/storage.h"
#include "traces/wal_record.h"

namespace strata::ingest {

// Why spans were refused. The names are the `reason` label of
// strata_ingest_rejected_spans_total; the first two are Tempo's discarded_spans reasons.
enum class TraceReason {
  kRateLimited,
  kTraceTooLarge,
  kInvalidId,  // a span without a valid trace or span ID (OTLP requires both)
  kCount,
};
std::string_view ReasonName(TraceReason r);

// TraceDistributor takes a tenant's spans, cut by trace (proto::SplitByTrace), whatever
// carried them: it applies the tenant's rate limit (span bytes) and per-trace limit
// (limits::TraceLimits, Tempo's), appends to the tenant's trace Db and reports once the
// spans are durable. PushOutcome::samples counts spans; refusals other than the rate are the
// partial success. No HTTP. Thread-safe; until SetStorage is called pushes are refused with
// kUnavailable.
class TraceDistributor {
 public:
  // `limits` is owned by the caller and outlives this.
  TraceDistributor(const limits::TenantOverrides& limits, prometheus::Registry& registry);

  void SetStorage(traces::Storage* storage) { storage_.store(storage); }

  // Called with the fragments a push stored for a tenant (those refused, and those identical to
  // ones stored before, left out), before they are durable; what it returns runs once they
  // are, and not when they fail to be: the metrics-generator sees each stored span once. Set
  // before pushes start.
  using OnStored = std::function<std::function<void()>(const std::string& tenant,
                                                       std::span<const traces::Fragment>)>;
  void SetOnStored(OnStored f) { on_stored_ = std::move(f); }

  using Done = std::function<void(PushOutcome)>;
  // Stores `split` (borrowed for the duration of the call) for `tenant`; `done` is called
  // once, from this thread or the WAL's.
  void Push(const std::string& tenant, const proto::SplitTraces& split, Done done);

 private:
  const limits::TenantOverrides& limits_;
  std::atomic<traces::Storage*> storage_{nullptr};
  OnStored on_stored_;
  TenantStates<TraceReason> tenants_;
};

}  // namespace strata::ingest
