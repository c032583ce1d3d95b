#include "traces/queryable.h"

#include <vector>

#include "proto/otlp_traces.h"

namespace strata::traces {

Result<std::optional<FoundTrace>> StorageQueryable::TraceById(const std::string& tenant,
                                                              std::string_view trace_id) const {
  const Storage* storage = storage_.load(std::memory_order_acquire);
  const Gateway* gateway = gateway_.load(std::memory_order_acquire);
  if (storage == nullptr || gateway == nullptr) {
    return Status::Unavailable("trace storage is not open (starting up or shutting down)");
  }
  FoundTrace head;
  const Db* db = storage->Find(tenant);
  const bool in_head = db != nullptr && db->head().Read(trace_id, &head);
  std::vector<std::string> parts;
  uint64_t bytes_read = head.bytes_read;
  RETURN_IF_ERROR(gateway->FindTrace(tenant, trace_id, parts, &bytes_read));
  if (parts.empty()) {
    if (!in_head) return std::optional<FoundTrace>();
    return std::optional<FoundTrace>(std::move(head));
  }
  std::vector<std::string_view> all(parts.begin(), parts.end());
  if (in_head) all.push_back(head.traces_data);
  FoundTrace found;
  found.traces_data = proto::MergeTraces(all, &found.spans);
  found.bytes_read = bytes_read;
  return std::optional<FoundTrace>(std::move(found));
}

}  // namespace strata::traces
