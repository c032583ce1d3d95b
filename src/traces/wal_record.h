#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "proto/otlp_traces.h"
#include "wal/format.h"

// The records of the trace store's WAL (docs/format/wal.md). A kFragmentsRecord holds, per
// fragment, the 16-byte trace ID, the earliest span start and latest span end (varint, Unix
// ns), the uvarint span count and the length-prefixed serialized ResourceSpans
// (proto/otlp_traces.h). Decoders borrow from the payload and validate every length.
namespace strata::traces {

inline constexpr wal::RecordType kFragmentsRecord = 1;
inline constexpr wal::RecordType kMaxRecord = 1;

// One trace's spans of one resource, as the head stores and the WAL logs them.
struct Fragment {
  std::string_view trace_id;        // 16 bytes
  std::string_view resource_spans;  // a serialized ResourceSpans
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint32_t spans = 0;
};

// The fragments of a request cut by trace, borrowing from `split`.
std::vector<Fragment> FragmentsOf(const proto::SplitTraces& split);

void EncodeFragment(std::string& out, const Fragment& f);
// Appends every fragment of the payload to `out`; kCorruption on malformed input.
Status DecodeFragments(std::string_view payload, std::vector<Fragment>& out);

}  // namespace strata::traces
