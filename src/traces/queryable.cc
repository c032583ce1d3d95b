#include "traces/queryable.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
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

namespace {

// The fingerprints (block/format.h) that more than one of a search's trace parts has: a trace
// whose fingerprint is not among them is stored whole in one place.
class SharedTraces {
 public:
  void Add(std::string_view trace_id) { all_.push_back(block::TraceIdFingerprint(trace_id)); }
  void Add(const block::BlockIndex& index) {
    // Version 1 indexes have no fingerprints: any of their traces may be elsewhere.
    if (index.fingerprints.empty() && !index.pages.empty()) unknown_ = true;
    all_.insert(all_.end(), index.fingerprints.begin(), index.fingerprints.end());
  }
  void Seal() {
    std::sort(all_.begin(), all_.end());
    std::vector<uint32_t> shared;
    for (size_t i = 1; i < all_.size(); ++i) {
      if (all_[i] == all_[i - 1] && (shared.empty() || shared.back() != all_[i])) {
        shared.push_back(all_[i]);
      }
    }
    all_ = std::move(shared);
  }
  bool Has(std::string_view trace_id) const {
    return unknown_ ||
           std::binary_search(all_.begin(), all_.end(), block::TraceIdFingerprint(trace_id));
  }

 private:
  std::vector<uint32_t> all_;
  bool unknown_ = false;
};

// The search's filter, asked only about traces stored whole in one block; the others are
// kept, to be judged once their parts are put together.
class WholeTracesFilter : public block::TraceFilter {
 public:
  WholeTracesFilter(block::TraceFilter& inner, const SharedTraces& shared)
      : inner_(inner), shared_(shared) {}
  Reads reads() const override { return inner_.reads(); }
  void StartPage(size_t dict_entries) override { inner_.StartPage(dict_entries); }
  void StartTrace(std::string_view id) override {
    shared_now_ = shared_.Has(id);
    if (!shared_now_) inner_.StartTrace(id);
  }
  void AddSpan(const block::SpanView* span) override {
    if (!shared_now_) inner_.AddSpan(span);
  }
  bool Keep() override { return shared_now_ || inner_.Keep(); }

 private:
  block::TraceFilter& inner_;
  const SharedTraces& shared_;
  bool shared_now_ = false;
};

}  // namespace

Status StorageQueryable::Search(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                                uint64_t max_bytes,
                                const std::function<bool(const FoundTrace&)>& fn, bool* truncated,
                                block::TraceFilter* filter) const {
  const Storage* storage = storage_.load(std::memory_order_acquire);
  const Gateway* gateway = gateway_.load(std::memory_order_acquire);
  if (storage == nullptr || gateway == nullptr) {
    return Status::Unavailable("trace storage is not open (starting up or shutting down)");
  }
  // The parts of the traces in the head or in several blocks, held until all are read. The
  // head is read first: a cut drops spans from the head only once their block is in the
  // gateway, so a trace being cut is found at least once (parts are merged), and its block,
  // listed after, shares its fingerprint.
  struct Parts {
    std::vector<std::string> data;
    uint64_t bytes = 0;
  };
  std::map<std::string, Parts, std::less<>> held;
  uint64_t total = 0;
  // Whether `size` more bytes may be held; past the budget, the search fails or stops.
  bool full = false;
  auto fits = [&](size_t size) -> Status {
    if (total + size <= max_bytes) {
      total += size;
      return Status::Ok();
    }
    full = true;
    if (truncated != nullptr) return Status::Cancelled("full");
    return Status::LimitExceeded(fmt::format(
        "the search would hold more than {} bytes of stored traces; narrow its time range "
        "(start, end)",
        max_bytes));
  };
  SharedTraces shared;
  if (const Db* db = storage->Find(tenant)) {
    for (const std::string& id : db->head().TraceIdsIn(start_ns, end_ns)) {
      FoundTrace head;
      if (!db->head().Read(id, &head)) continue;  // cut meanwhile: in a block now
      if (Status st = fits(head.traces_data.size()); !st.ok()) {
        if (truncated == nullptr) return st;
        break;
      }
      shared.Add(id);
      Parts& p = held[id];
      p.data.push_back(std::move(head.traces_data));
      p.bytes += head.bytes_read;
    }
  }
  const auto blocks = gateway->BlocksIn(tenant, start_ns, end_ns);
  for (const auto& reader : blocks) {
    ASSIGN_OR_RETURN(auto index, reader->Index());
    shared.Add(*index);
  }
  shared.Seal();
  std::optional<WholeTracesFilter> whole;
  if (filter != nullptr) whole.emplace(*filter, shared);
  bool stopped = false;
  FoundTrace found;  // reused: its buffer grows to the largest trace
  for (size_t b = 0; b < blocks.size() && !full && !stopped; ++b) {
    Status st = blocks[b]->ForEachTrace(
        [&](std::string_view id, std::string_view data) -> Status {
          if (!shared.Has(id)) {
            found.traces_data.assign(data);
            found.bytes_read = data.size();
            if (!fn(found)) {
              stopped = true;
              return Status::Cancelled("stopped");
            }
            return Status::Ok();
          }
          RETURN_IF_ERROR(fits(data.size()));
          Parts& p = held[std::string(id)];
          p.data.emplace_back(data);
          p.bytes += data.size();
          return Status::Ok();
        },
        nullptr, whole ? &*whole : nullptr);
    if (!st.ok() && !stopped && !(full && truncated != nullptr)) return st;
  }
  if (truncated != nullptr) *truncated = full;
  if (stopped) return Status::Ok();
  for (auto& [id, p] : held) {
    found = FoundTrace();
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
