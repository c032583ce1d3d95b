#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strata::ingest {

enum class NameValidation {
  kLegacy,  // [a-zA-Z_:][a-zA-Z0-9_:]* metric names, [a-zA-Z_][a-zA-Z0-9_]* label names
  kUtf8,    // Prometheus 3: any non-empty valid UTF-8
};

// Per-tenant ingestion limits. Defaults suit one node of a small cluster; `overrides` in the
// config replaces them per tenant. 0 disables a numeric limit.
struct Limits {
  double ingestion_rate = 100'000;       // samples/s, sustained
  uint64_t ingestion_burst = 1'000'000;  // samples, bucket size
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
};

// Settings of the ingest path as a whole.
struct IngestConfig {
  bool require_tenant = false;  // true: requests without X-Scope-OrgID get 401
  uint64_t max_decompressed_body_bytes = 64u << 20;
  Limits limits;
  std::map<std::string, Limits> overrides;  // per tenant

  const Limits& LimitsFor(const std::string& tenant) const {
    auto it = overrides.find(tenant);
    return it == overrides.end() ? limits : it->second;
  }
};

}  // namespace strata::ingest
