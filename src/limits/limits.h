#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/matcher.h"

namespace strata::limits {

// The per-tenant limits of every component, in one table: `limits` in the config are the
// defaults, `overrides.<tenant>` a tenant's copy of them with some values changed. Components
// look a tenant up with Overrides::For and read their section; a new signal adds its section
// to TenantLimits. 0 disables a numeric limit.

enum class NameValidation {
  kLegacy,  // [a-zA-Z_:][a-zA-Z0-9_:]* metric names, [a-zA-Z_][a-zA-Z0-9_]* label names
  kUtf8,    // Prometheus 3: any non-empty valid UTF-8
};

// Metrics ingestion (limits.* in the config). Defaults suit one node of a small cluster, and
// never throttle a single-tenant install: the rate is unlimited unless set.
struct IngestLimits {
  double ingestion_rate = 0;     // samples/s, sustained; 0 = unlimited
  uint64_t ingestion_burst = 0;  // samples, bucket size; 0 = one second's worth
  uint64_t max_active_series = 1'500'000;
  uint64_t max_series_per_metric = 200'000;
  uint32_t max_label_names_per_series = 30;
  uint32_t max_label_name_length = 1024;
  uint32_t max_label_value_length = 2048;
  int64_t creation_grace_period_ms =
      int64_t{10} * 60 * 1000;  // how far in the future a sample may be
  int64_t out_of_order_window_ms = 0;
  std::vector<std::string> reject_labels;  // series carrying one of these labels are refused
  std::vector<std::string> drop_labels;    // these labels are removed before storage
  NameValidation name_validation = NameValidation::kLegacy;
  bool operator==(const IngestLimits&) const = default;
};

// Log ingestion (limits.logs.* in the config, overrides.<tenant>.logs.*): Loki's limits under
// Loki's names and defaults, except the rate, unlimited by default so that a single-tenant
// install is never throttled.
struct LogLimits {
  double ingestion_rate_mb = 0;        // line bytes/s in MiB, sustained; 0 = unlimited
  double ingestion_burst_size_mb = 0;  // 0 = one second's worth
  uint64_t max_line_size = uint64_t{256} << 10;
  bool max_line_size_truncate = false;  // cut longer lines instead of refusing them
  uint32_t max_label_names_per_series = 15;
  uint32_t max_label_name_length = 1024;
  uint32_t max_label_value_length = 2048;
  uint64_t max_global_streams_per_user = 5000;
  bool reject_old_samples = true;
  int64_t reject_old_samples_max_age_ms = int64_t{7} * 24 * 3600 * 1000;
  int64_t creation_grace_period_ms = int64_t{10} * 60 * 1000;  // how far in the future
  // How much older than its stream's newest entry an entry may be (Loki: max_chunk_age / 2).
  int64_t out_of_order_window_ms = int64_t{3600} * 1000;
  uint64_t max_structured_metadata_size = uint64_t{64} << 10;  // bytes per entry
  uint32_t max_structured_metadata_entries_count = 128;
  bool operator==(const LogLimits&) const = default;
};

// Per-tenant limits of span ingestion (limits.traces, overrides.<tenant>.traces), named as
// Tempo's overrides.
struct TraceLimits {
  double ingestion_rate_limit_bytes = 0;  // request bytes/s, sustained; 0 = unlimited
  double ingestion_burst_size_bytes = 0;  // 0 = one second's worth
  // What one trace may hold in the head (Tempo's default); spans beyond it are refused.
  uint64_t max_bytes_per_trace = 5'000'000;
  bool operator==(const TraceLimits&) const = default;
};

// Queries (query.* in the config, overrides.<tenant>.query.*).
struct QueryLimits {
  int64_t timeout_ms = int64_t{2} * 60 * 1000;
  uint64_t max_samples = 50'000'000;  // samples one (sub-)query may hold at once
  uint64_t max_series = 0;            // series one (sub-)query may select
  int64_t max_query_length_ms = 0;    // end - start of a range query
  // Adaptive resolution: when steps x selected series exceeds max_points, widen the step
  // (and say so in the response). Off unless the tenant or the request asks for it.
  bool adaptive_resolution = false;
  uint64_t max_points = 10'000'000;
  // Log lines one log query may ask for (Loki's max_entries_limit_per_query); callers page
  // past it by moving start or end to the last line they got.
  uint64_t max_entries_limit_per_query = 5000;
  bool operator==(const QueryLimits&) const = default;
};

// How long blocks are kept, by resolution (compactor.retention, overrides.<tenant>.retention);
// 0 keeps them forever.
// A log retention rule for the streams a selector matches (Loki's retention_stream).
struct StreamRetention {
  std::string selector;           // as configured, e.g. {namespace="dev"}
  std::vector<Matcher> matchers;  // parsed from it
  int priority = 0;
  int64_t period_ms = 0;
  bool operator==(const StreamRetention& o) const {
    return selector == o.selector && priority == o.priority && period_ms == o.period_ms;
  }
};

// How long data is kept; 0 keeps it forever.
struct Retention {
  int64_t raw_ms = 0;
  int64_t res_5m_ms = 0;
  int64_t res_1h_ms = 0;
  int64_t logs_ms = 0;    // log entries (Loki's retention_period)
  int64_t traces_ms = 0;  // trace blocks, after their last span ends (Tempo's block_retention)
  std::vector<StreamRetention> log_streams;
  bool operator==(const Retention&) const = default;

  // The retention of a log stream, as Loki picks it: of the rules whose selector matches, the
  // one with the highest priority, the shorter period on a tie; else logs_ms.
  int64_t LogStreamMs(const Labels& labels) const {
    const StreamRetention* best = nullptr;
    for (const auto& r : log_streams) {
      if (!MatchesAll(r.matchers, labels)) continue;
      if (best == nullptr || r.priority > best->priority ||
          (r.priority == best->priority && r.period_ms < best->period_ms)) {
        best = &r;
      }
    }
    return best != nullptr ? best->period_ms : logs_ms;
  }
};

// Rates of what receivers accept; 0 = unlimited, a burst of 0 means one second's worth. Over
// the limit, receivers answer 429 with Retry-After.
struct RateLimits {
  double samples_per_second = 0;  // remote write samples and OTLP data points
  double samples_burst = 0;
  double log_bytes_per_second = 0;  // Loki line bytes and OTLP log record bodies
  double log_bytes_burst = 0;
  double spans_per_second = 0;
  double spans_burst = 0;
  bool operator==(const RateLimits&) const = default;
};

// Everything one tenant of `strata serve` is limited by.
struct TenantLimits {
  IngestLimits ingest;
  LogLimits logs;
  TraceLimits traces;
  QueryLimits query;
  Retention retention;
  bool operator==(const TenantLimits&) const = default;
};

// Defaults and per-tenant copies. Read-only once built; safe to share between threads.
template <typename T>
struct Overrides {
  T defaults;
  std::map<std::string, T> tenants;

  const T& For(const std::string& tenant) const {
    auto it = tenants.find(tenant);
    return it == tenants.end() ? defaults : it->second;
  }
  bool operator==(const Overrides&) const = default;
};

using TenantOverrides = Overrides<TenantLimits>;

}  // namespace strata::limits
