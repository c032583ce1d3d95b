#pragma once

// Columnar pages (format version 2; docs/format/trace-block.md, "Columnar pages"): the traces
// of a page as columns of span fields, each compressed on its own. The encoding is exact:
// decoding gives back every trace's bytes. A span, or a whole trace, that the columns cannot
// give back byte for byte (fields out of order, unknown fields, IDs of unusual sizes) is kept
// whole in the raw column.

#include <zstd.h>

#include <cstdint>
#include <span>
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

// An attribute's value as the columns keep it: a string, bool, int or double as such; anything
// else (arrays, maps, bytes, an empty value) as its serialized AnyValue. In kAttrValues: the
// tag, then a dictionary index (strings and other values), the bool, the zig-zag int, or the
// double's 8 bytes.
enum class ValueTag : uint8_t { kNoValue, kString, kBool, kInt, kDouble, kOtherValue, kValueTags };

// A KeyValue; its views borrow the page.
struct ColumnAttr {
  std::string_view key;
  ValueTag tag = ValueTag::kNoValue;
  std::string_view bytes;  // kString: the string; kOtherValue: the serialized AnyValue
  uint64_t bits = 0;       // kBool, kInt (two's complement), kDouble (IEEE 754)
  uint32_t ref = 0;        // decoding kString, kOtherValue: the value's dictionary index
};

// A span kept in columns, as a TraceFilter sees it; its views borrow the page being decoded.
struct SpanView {
  std::string_view name, status_message;
  uint64_t kind = 0;            // OTLP's Span.kind
  uint64_t status_code = 0;     // OTLP's Status.code (0 without a status)
  uint64_t start = 0, end = 0;  // Unix ns
  std::string_view resource;    // its serialized Resource (empty: none)
  std::span<const ColumnAttr> attrs;
  // Dictionary indexes, which stand for their strings within a page: the name's, and the
  // resource's plus 1 (0: none).
  uint32_t name_ref = 0, resource_ref = 0;
};

// Decides, from the columns, which traces of a page are worth decoding: a query's necessary
// conditions, so that a search rebuilds only the traces that can match. Traces kept whole are
// decoded without asking. Used by one decode at a time.
class TraceFilter {
 public:
  // What the filter reads of a span besides its kind, start and resource: a decoder may leave
  // the rest empty. With `two_pass`, the filter keeps few traces (it counts spans itself):
  // a page is then first read in those columns only, and decoded whole only if a trace is
  // kept.
  struct Reads {
    bool names = true, status = true, durations = true, attrs = true;
    bool two_pass = false;
  };

  virtual ~TraceFilter() = default;
  virtual Reads reads() const = 0;
  // A page begins; its dictionary has `dict_entries` entries.
  virtual void StartPage(size_t dict_entries) = 0;
  // A trace begins (its 16-byte ID); its spans follow, then Keep().
  virtual void StartTrace(std::string_view id) = 0;
  // A span of the trace: its columns, or nullptr for a span kept whole (not seen through).
  virtual void AddSpan(const SpanView* span) = 0;
  // Whether the trace is to be decoded.
  virtual bool Keep() = 0;
};

// The page's entries back, exactly as they were encoded; `raw_length` (the index's) is their
// size, which bounds the work. With a `filter`, only the entries of the traces it keeps (and
// of traces kept whole); the columns read are checked to their end (all of them, but for a
// two-pass filter that keeps no trace of the page). Damaged input is kCorruption naming the
// problem.
Result<std::string> DecodeColumnarPage(std::string_view page, uint64_t raw_length,
                                       TraceFilter* filter = nullptr);

}  // namespace strata::traces::block
