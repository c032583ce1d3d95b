#include "query/storage_queryable.h"

#include <vector>

#include "query/head_querier.h"
#include "query/merge_querier.h"

namespace strata::query {

Result<const tsdb::Storage*> StorageQueryable::Ready() const {
  const tsdb::Storage* storage = storage_.load(std::memory_order_acquire);
  if (storage == nullptr) {
    return Status::Unavailable("storage is not ready yet (WAL replay in progress)");
  }
  return storage;
}

Result<std::unique_ptr<Querier>> StorageQueryable::TenantQuerier(const std::string& tenant,
                                                                 const ReadHints& hints) const {
  ASSIGN_OR_RETURN(const tsdb::Storage* storage, Ready());
  std::vector<std::unique_ptr<Querier>> parts;
  if (const store::StoreGateway* gw = gateway_.load(std::memory_order_acquire)) {
    parts.push_back(gw->Querier(tenant, hints));
  }
  if (const tsdb::Db* db = storage->Find(tenant)) {
    parts.push_back(std::make_unique<HeadQuerier>(db->head()));
  }
  if (parts.empty()) return std::unique_ptr<Querier>(std::make_unique<EmptyQuerier>());
  if (parts.size() == 1) return std::move(parts[0]);
  return std::unique_ptr<Querier>(std::make_unique<MergeQuerier>(std::move(parts)));
}

Result<std::map<std::string, tsdb::MetricMetadata>> StorageQueryable::Metadata(
    const std::string& tenant) const {
  ASSIGN_OR_RETURN(const tsdb::Storage* storage, Ready());
  const tsdb::Db* db = storage->Find(tenant);
  if (db == nullptr) return std::map<std::string, tsdb::MetricMetadata>{};
  return db->Metadata();
}

Result<HeadStatus> StorageQueryable::Head(const std::string& tenant, size_t limit) const {
  ASSIGN_OR_RETURN(const tsdb::Storage* storage, Ready());
  HeadStatus out;
  if (const tsdb::Db* db = storage->Find(tenant)) {
    out.stats = db->head().Stats();
    out.cardinality = db->head().Cardinality(limit);
  }
  return out;
}

Result<std::vector<tsdb::SeriesExemplars>> StorageQueryable::Exemplars(
    const std::string& tenant, std::span<const std::vector<Matcher>> sets, int64_t mint,
    int64_t maxt) const {
  ASSIGN_OR_RETURN(const tsdb::Storage* storage, Ready());
  const tsdb::Db* db = storage->Find(tenant);
  if (db == nullptr) return std::vector<tsdb::SeriesExemplars>{};
  return db->head().exemplars().Select(sets, mint, maxt);
}

}  // namespace strata::query
