#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "query/metrics_queryable.h"
#include "store/gateway.h"
#include "tsdb/storage.h"

namespace strata::query {

// The Queryable of `strata serve`: a tenant's head (tsdb::Storage) merged with its blocks in
// object storage (store::StoreGateway), samples both hold deduplicated. The one place where the
// storage stack is assembled for queries. The parts are attached once open and detached before
// they close; without storage, queries are refused with kUnavailable. Thread-safe.
class StorageQueryable : public MetricsQueryable {
 public:
  // Both must outlive this object or be detached (null) first.
  void SetStorage(const tsdb::Storage* storage) {
    storage_.store(storage, std::memory_order_release);
  }
  void SetStoreGateway(const store::StoreGateway* gateway) {
    gateway_.store(gateway, std::memory_order_release);
  }

  Result<std::unique_ptr<Querier>> TenantQuerier(const std::string& tenant,
                                                 const ReadHints& hints) const override;
  Result<std::map<std::string, tsdb::MetricMetadata>> Metadata(
      const std::string& tenant) const override;
  Result<HeadStatus> Head(const std::string& tenant, size_t limit) const override;
  Result<std::vector<tsdb::SeriesExemplars>> Exemplars(const std::string& tenant,
                                                       std::span<const std::vector<Matcher>> sets,
                                                       int64_t mint, int64_t maxt) const override;

 private:
  Result<const tsdb::Storage*> Ready() const;

  std::atomic<const tsdb::Storage*> storage_{nullptr};
  std::atomic<const store::StoreGateway*> gateway_{nullptr};
};

}  // namespace strata::query
