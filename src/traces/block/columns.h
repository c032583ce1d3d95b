#pragma once

// Columnar pages (format version 2; docs/format/trace-block.md, "Columnar pages"): the traces
// of a page as columns of span fields, each compressed on its own. The encoding is exact:
// decoding gives back every trace's bytes. A span, or a whole trace, that the columns cannot
// give back byte for byte (fields out of order, unknown fields, IDs of unusual sizes) is kept
// whole in the raw column.

#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata::traces::block {

// The columns of a page, in the order of its directory.
enum class Column : uint8_t {
  kDict,         // every string, resource and scope of the page, once
  kTraceIds,     // 16 bytes a trace
  kShape,        // per trace: raw or columnar, its resources, scopes and span counts
  kRaw,          // traces and spans kept whole
  kSpanIds,      // 8 bytes a span
  kKinds,        // per span: 0 for a raw span, else its kind + 1
  kParents,      // per span: none, given in kOtherIds, or the index of a span of the trace
  kOtherIds,     // parent IDs outside the trace, link IDs
  kNames,        // per span: the dictionary index of its name
  kTraceStarts,  // per trace: its earliest span start, from the previous trace's
  kStarts,       // per span: its start from the trace's
  kDurations,    // per span: end - start
  kStatus,       // per span: absent, or its code and message
  kFlags,        // per span: trace flags (0: absent) and trace state
  kAttrKeys,     // per span, event and link: the attribute count and keys
  kAttrValues,   // the attribute values: a type and the value
  kEvents,       // per span: its events' times, names and dropped counts
  kLinks,        // per span: its links
  kDropped,      // per span: dropped attribute, event and link counts
  kCount
};

// The column's name in docs/format/trace-block.md ("span_ids").
std::string_view ColumnName(Column c);

// `entries` is a page as version 1 keeps it (trace_id (16 bytes) | str traces_data, in ID
// order); returns its columnar form, each column compressed with `cctx` at `level` (or stored
// when that does not make it smaller).
Result<std::string> EncodeColumnarPage(std::string_view entries, ZSTD_CCtx* cctx, int level);

// Each column's size in a page, raw and as stored (the benchmark's and tests' view).
struct ColumnSize {
  uint64_t raw = 0, stored = 0;
};
Result<std::vector<ColumnSize>> ColumnSizes(std::string_view page);

// The page's entries back, exactly as they were encoded; `raw_length` (the index's) is their
// size, which bounds the work. Damaged input is kCorruption naming the problem.
Result<std::string> DecodeColumnarPage(std::string_view page, uint64_t raw_length);

}  // namespace strata::traces::block
