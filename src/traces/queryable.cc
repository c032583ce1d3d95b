#include "traces/queryable.h"

#include <fmt/format.h>

#include <map>
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

Status StorageQueryable::Search(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                                uint64_t max_bytes,
                                const std::function<bool(const FoundTrace&)>& fn,
                                bool* truncated) const {
  const Storage* storage = storage_.load(std::memory_order_acquire);
  const Gateway* gateway = gateway_.load(std::memory_order_acquire);
  if (storage == nullptr || gateway == nullptr) {
    return Status::Unavailable("trace storage is not open (starting up or shutting down)");
  }
  // Each trace's parts, from the head and then the blocks; held until all are read, as a trace
  // may be in several. The head is read first: a cut drops spans from the head only once their
  // block is in the gateway, so a trace being cut is found at least once (parts are merged).
  struct Parts {
    std::vector<std::string> data;
    uint64_t bytes = 0;
  };
  std::map<std::string, Parts, std::less<>> traces;
  uint64_t total = 0;
  // Whether `size` more bytes fit; past the budget, the search fails or stops reading.
  bool full = false;
  auto fits = [&](size_t size) -> Status {
    if (total + size <= max_bytes) {
      total += size;
      return Status::Ok();
    }
    full = true;
    if (truncated != nullptr) return Status::Cancelled("full");
    return Status::LimitExceeded(fmt::format(
        "the search would read more than {} bytes of stored traces; narrow its time range "
        "(start, end)",
        max_bytes));
  };
  if (const Db* db = storage->Find(tenant)) {
    for (const std::string& id : db->head().TraceIdsIn(start_ns, end_ns)) {
      FoundTrace head;
      if (!db->head().Read(id, &head)) continue;  // cut meanwhile: in a block now
      if (Status st = fits(head.traces_data.size()); !st.ok()) {
        if (truncated == nullptr) return st;
        break;
      }
      Parts& p = traces[id];
      p.data.push_back(std::move(head.traces_data));
      p.bytes += head.bytes_read;
    }
  }
  if (!full) {
    Status st = gateway->ForEachTrace(
        tenant, start_ns, end_ns,
        [&](std::string_view id, std::string_view data) -> Status {
          RETURN_IF_ERROR(fits(data.size()));
          Parts& p = traces[std::string(id)];
          p.data.emplace_back(data);
          p.bytes += data.size();
          return Status::Ok();
        },
        nullptr);
    if (!st.ok() && !(full && truncated != nullptr)) return st;
  }
  if (truncated != nullptr) *truncated = full;
  for (auto& [id, p] : traces) {
    FoundTrace found;
    found.bytes_read = p.bytes;
    if (p.data.size() == 1) {
      found.traces_data = std::move(p.data[0]);
    } else {
      std::vector<std::string_view> all(p.data.begin(), p.data.end());
      found.traces_data = proto::MergeTraces(all, &found.spans);
    }
    if (!fn(found)) break;
  }
  return Status::Ok();
}

}  // namespace strata::traces
