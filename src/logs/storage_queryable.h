#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "logs/gateway.h"
#include "logs/querier.h"
#include "logs/storage.h"

namespace strata::logs {

// The log Queryable of `strata serve`, the one place where log heads and blocks are put
// together for queries: each tenant's head in the log Storage merged with its blocks in the
// Gateway. Without storage, queries are refused with kUnavailable. Thread-safe.
class StorageQueryable : public Queryable {
 public:
  // Each must outlive this object or be detached (null) first.
  void SetStorage(const Storage* storage) { storage_.store(storage, std::memory_order_release); }
  void SetGateway(const Gateway* gateway) { gateway_.store(gateway, std::memory_order_release); }
  Result<std::unique_ptr<Querier>> TenantQuerier(const std::string& tenant,
                                                 const query::ReadHints& hints) const override;

 private:
  std::atomic<const Storage*> storage_{nullptr};
  std::atomic<const Gateway*> gateway_{nullptr};
};

}  // namespace strata::logs
