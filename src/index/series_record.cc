#include "index/series_record.h"

#include <fmt/format.h>

#include <limits>

#include "base/coding.h"

namespace strata::index {

void EncodeSeries(std::string& out, uint32_t ref, std::span<const LabelView> labels) {
  PutUvarint(out, ref);
  PutUvarint(out, labels.size());
  for (const auto& l : labels) {
    PutLengthPrefixed(out, l.name);
    PutLengthPrefixed(out, l.value);
  }
}

Status DecodeSeries(std::string_view payload, std::vector<RefSeries>& out, std::string_view what) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefSeries s;
    uint64_t ref, n;
    if (!r.ReadUvarint(&ref) || ref > std::numeric_limits<uint32_t>::max() || !r.ReadUvarint(&n) ||
        n > r.remaining()) {
      return Status::Corruption(fmt::format("malformed WAL {} record", what));
    }
    s.ref = static_cast<uint32_t>(ref);
    s.labels.resize(n);
    for (auto& l : s.labels) {
      if (!r.ReadLengthPrefixed(&l.name) || !r.ReadLengthPrefixed(&l.value)) {
        return Status::Corruption(fmt::format("malformed WAL {} record", what));
      }
    }
    out.push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace strata::index
