#include "traces/wal_record.h"

#include <fmt/format.h>

#include "base/coding.h"
#include "proto/otlp_traces.h"

namespace strata::traces {

std::vector<Fragment> FragmentsOf(const proto::SplitTraces& split) {
  std::vector<Fragment> out;
  out.reserve(split.fragments.size());
  for (const auto& f : split.fragments) {
    out.push_back({f.trace_id, f.resource_spans, f.start_ns, f.end_ns, f.spans});
  }
  return out;
}

void EncodeFragment(std::string& out, const Fragment& f) {
  out.append(f.trace_id);
  PutVarint(out, f.start_ns);
  PutVarint(out, f.end_ns);
  PutUvarint(out, f.spans);
  PutUvarint(out, f.resource_spans.size());
  out.append(f.resource_spans);
}

Status DecodeFragments(std::string_view payload, std::vector<Fragment>& out) {
  ByteReader r(payload);
  while (!r.empty()) {
    Fragment f;
    uint64_t spans = 0;
    if (!r.ReadBytes(proto::kTraceIdSize, &f.trace_id) || !r.ReadVarint(&f.start_ns) ||
        !r.ReadVarint(&f.end_ns) || !r.ReadUvarint(&spans) ||
        !r.ReadLengthPrefixed(&f.resource_spans) || spans > UINT32_MAX) {
      return Status::Corruption(fmt::format("malformed trace fragments record at byte {}",
                                            payload.size() - r.remaining()));
    }
    f.spans = static_cast<uint32_t>(spans);
    out.push_back(f);
  }
  return Status::Ok();
}

}  // namespace strata::traces
