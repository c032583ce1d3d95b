#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "query/querier.h"
#include "tsdb/head/head.h"
#include "tsdb/metadata.h"

namespace strata::query {

// What the status endpoint reports of a tenant's in-memory head.
struct HeadStatus {
  tsdb::HeadStats stats;
  tsdb::PostingsIndex::Cardinality cardinality;
};

// Queryable is everything the query side sees of metrics storage: for a tenant, a Querier
// over all its data (head, object-storage blocks, merged and deduplicated), plus what the head
// alone knows (metadata, cardinality). The HTTP API and the query frontend receive one; they
// never assemble storage themselves. Thread-safe.
class Queryable {
 public:
  virtual ~Queryable() = default;
  // A querier over the tenant's data (empty for a tenant without any); kUnavailable while
  // storage is not ready.
  virtual Result<std::unique_ptr<Querier>> TenantQuerier(const std::string& tenant,
                                                         const ReadHints& hints) const = 0;
  // Metric metadata by family name, of series in the head.
  virtual Result<std::map<std::string, tsdb::MetricMetadata>> Metadata(
      const std::string& tenant) const = 0;
  // Head statistics, cardinality lists cut at `limit` entries.
  virtual Result<HeadStatus> Head(const std::string& tenant, size_t limit) const = 0;
};

}  // namespace strata::query
