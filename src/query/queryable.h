#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "query/querier.h"

namespace strata::query {

// Queryable is all the query side sees of a signal's storage: for a tenant and a time
// range, a Querier over all its data (head, object-storage blocks, merged and deduplicated).
// The HTTP API and the query frontend receive one; they never assemble storage themselves.
// Thread-safe.
class Queryable {
 public:
  virtual ~Queryable() = default;
  // A querier over the tenant's data in [hints.mint, hints.maxt] (empty for a tenant without
  // any); kUnavailable while storage is not ready.
  virtual Result<std::unique_ptr<Querier>> TenantQuerier(const std::string& tenant,
                                                         const ReadHints& hints) const = 0;
};

}  // namespace strata::query
