#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "query/queryable.h"
#include "tsdb/head/head.h"
#include "tsdb/metadata.h"

namespace strata::query {

// What the status endpoint reports of a tenant's in-memory head.
struct HeadStatus {
  tsdb::HeadStats stats;
  index::PostingsIndex::Cardinality cardinality;
};

// The metrics Queryable, with what only the metrics head knows.
class MetricsQueryable : public Queryable {
 public:
  // Metric metadata by family name, of series in the head.
  virtual Result<std::map<std::string, tsdb::MetricMetadata>> Metadata(
      const std::string& tenant) const = 0;
  // Head statistics, cardinality lists cut at `limit` entries.
  virtual Result<HeadStatus> Head(const std::string& tenant, size_t limit) const = 0;
  // The exemplars with times in [mint, maxt] of the series matching any of `sets` (kept in
  // the head's exemplar store, as Prometheus keeps them), series sorted by labels.
  virtual Result<std::vector<tsdb::SeriesExemplars>> Exemplars(
      const std::string& tenant, std::span<const std::vector<Matcher>> sets, int64_t mint,
      int64_t maxt) const = 0;
};

}  // namespace strata::query
