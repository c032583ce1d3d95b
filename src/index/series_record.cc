#include "index/series_record.h"

#include <fmt/format.h>

#include <limits>

#include "base/coding.h"

namespace strata::index {

void PutLabelList(std::string& out, std::span<const LabelView> labels) {
  PutUvarint(out, labels.size());
  for (const auto& l : labels) {
    PutLengthPrefixed(out, l.name);
    PutLengthPrefixed(out, l.value);
  }
}

bool ReadLabelList(ByteReader& r, std::vector<LabelView>& out) {
  uint64_t n;
  if (!r.ReadUvarint(&n) || n > r.remaining()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    LabelView l;
    if (!r.ReadLengthPrefixed(&l.name) || !r.ReadLengthPrefixed(&l.value)) return false;
    out.push_back(l);
  }
  return true;
}

void EncodeSeries(std::string& out, uint32_t ref, std::span<const LabelView> labels) {
  PutUvarint(out, ref);
  PutLabelList(out, labels);
}

Status DecodeSeries(std::string_view payload, std::vector<RefSeries>& out, std::string_view what) {
  ByteReader r(payload);
  while (!r.empty()) {
    RefSeries s;
    uint64_t ref;
    if (!r.ReadUvarint(&ref) || ref > std::numeric_limits<uint32_t>::max() ||
        !ReadLabelList(r, s.labels)) {
      return Status::Corruption(fmt::format("malformed WAL {} record", what));
    }
    s.ref = static_cast<uint32_t>(ref);
    out.push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace strata::index
