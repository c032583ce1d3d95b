#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "query/querier.h"

namespace strata::query {

// A Queryable is all the query side sees of a signal's storage: for a tenant and a time
// range, a querier over all its data (head, object-storage blocks, merged and deduplicated).
// The HTTP APIs and the query frontend receive one; they never assemble storage themselves.
// `QuerierT` is the signal's querier: query::Querier for metrics, logs::Querier for logs.
// Thread-safe.
template <typename QuerierT>
class BasicQueryable {
 public:
  virtual ~BasicQueryable() = default;
  // A querier over the tenant's data in [hints.mint, hints.maxt] (empty for a tenant without
  // any); kUnavailable while storage is not ready.
  virtual Result<std::unique_ptr<QuerierT>> TenantQuerier(const std::string& tenant,
                                                          const ReadHints& hints) const = 0;
};

// Metrics' Queryable.
using Queryable = BasicQueryable<Querier>;

}  // namespace strata::query
