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
#include <string_view>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "ingest/distributor.h"
#include "ingest/tenant_state.h"
#include "limits/limits.h"
#include "limits/token_bucket.h"
#include "logs/storage.h"
#include "proto/loki.h"

namespace strata::ingest {

// Why a log entry (or a stream's entries) was refused. The names are the `reason` label of
// strata_ingest_rejected_log_entries_total, Loki's discarded_samples reasons.
enum class LogReason {
  kRateLimited,
  kLineTooLong,
  kStreamLimit,
  kTooOld,
  kTooFarInFuture,
  kInvalidLabels,
  kTooManyLabels,
  kLabelNameTooLong,
  kLabelValueTooLong,
  kTooFarBehind,
  kStructuredMetadataTooLarge,
  kStructuredMetadataTooMany,
  kCount,
};
std::string_view ReasonName(LogReason r);

// LogDistributor takes a tenant's decoded log pushes, whatever protocol carried them (Loki
// push, OTLP logs): it applies the tenant's rate limit (line bytes) and validation
// (limits::LogLimits, with Loki's rules and error texts), appends the valid entries to the
// tenant's log Db, and reports once they are durable. Valid entries of a partly invalid push
// are stored; the outcome says what was refused and why. No HTTP. Thread-safe; until
// SetStorage is called pushes are refused with kUnavailable.
class LogDistributor {
 public:
  // `limits` is owned by the caller and outlives this.
  LogDistributor(const limits::TenantOverrides& limits, prometheus::Registry& registry);

  void SetStorage(logs::Storage* storage) { storage_.store(storage); }

  using Done = std::function<void(PushOutcome)>;
  // Stores `push` (borrowed for the duration of the call) for `tenant`; `done` is called once,
  // from this thread or the WAL's. PushOutcome::samples counts entries.
  void Push(const std::string& tenant, const proto::LokiPush& push, Done done);

 private:
  const limits::TenantOverrides& limits_;
  std::atomic<logs::Storage*> storage_{nullptr};
  TenantStates<LogReason> tenants_;
};

}  // namespace strata::ingest
