#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "traceql/engine.h"
#include "traceql/metrics.h"
#include "traceql/prefilter.h"
#include "traceql/trace.h"
#include "traces/block/columns.h"

namespace strata::traces {

// What a search asks of whole traces besides its query (Tempo's start, end, minDuration and
// maxDuration): spans between start_ns and end_ns (inclusive), and a duration (the latest
// end less the earliest start) within [min_duration_ns, max_duration_ns] (0: no maximum).
struct TraceBounds {
  int64_t start_ns = 0;
  int64_t end_ns = std::numeric_limits<int64_t>::max();
  int64_t min_duration_ns = 0, max_duration_ns = 0;
};

// Decides a query's Prefilter (traceql/prefilter.h), and a search's bounds, on trace blocks'
// columns: keeps the traces that may match, each decided from its own spans. Its answers are
// exact for what it reads (the same values and comparisons as traceql's evaluator); a trace
// with a span kept whole is kept. One decode at a time.
//
// For a metrics query whose spans the columns decide alone (CanCount), it can count them
// itself (CountInto): the traces it decides are then counted from their columns and not
// kept, so that only traces with spans kept whole are rebuilt.
class QueryFilter : public block::TraceFilter {
 public:
  // `prefilter` must outlive this object.
  QueryFilter(const traceql::Prefilter& prefilter, std::optional<TraceBounds> bounds);

  // Leaves out, from now on, traces whose earliest span starts before `ns`: a search that
  // answers its newest matches raises it to the oldest start it would still answer.
  void RaiseStartFloor(int64_t ns) { start_floor_ = std::max(start_floor_, ns); }

  // Whether the columns decide which spans metrics query `m` counts and what it reads of them:
  // one filter made of conditions the prefilter decides exactly, a first stage other than
  // compare() reading only what the columns hold (intrinsics of the span, span and resource
  // attributes).
  static bool CanCount(const traceql::MetricsExpr& m, const traceql::Prefilter& prefilter);
  // Counts into `eval` (which must outlive this object) the spans of the traces decided from
  // their columns, which are then not kept. `m` (CanCount) is eval's query.
  void CountInto(const traceql::MetricsExpr& m, traceql::MetricsEvaluator& eval);

  Reads reads() const override { return reads_of_; }
  void StartPage(size_t dict_entries) override;
  void StartTrace(std::string_view id) override;
  void AddSpan(const block::SpanView* span) override;
  bool Keep() override;

 private:
  static constexpr uint32_t kNoRef = UINT32_MAX;
  // A span's value of an attribute as the columns give it.
  struct Found {
    enum class Kind : uint8_t { kNil, kString, kValue, kUnknown };  // kUnknown: malformed
    Kind kind = Kind::kNil;
    std::string_view str;  // kString, with its dictionary index (kNoRef: none)
    uint32_t ref = kNoRef;
    const traceql::Static* value = nullptr;  // kValue: `owned`, or a resource's
    traceql::Static owned;
    bool from_resource = false;
  };
  // A resource's attributes, decoded when first needed.
  struct Resource {
    int8_t state = -1;  // -1: not decoded yet; 0: malformed; 1: decoded
    traceql::Attrs attrs;
  };

  // Adds what reading `a` needs to reads_of_.
  void Reading(const traceql::Attribute& a);
  bool Holds(const traceql::SpanTest& t, const block::SpanView& s);
  bool Passes(const traceql::TraceTest& t) const;
  // The value span `s` has for `a`, as traceql::Lookup finds it.
  void Find(const traceql::Attribute& a, const block::SpanView& s, Found& f);
  // Whether span `s` meets condition `i`.
  bool Meets(size_t i, const block::SpanView& s);
  bool MeetsValue(const traceql::SpanCondition& c, const traceql::Static& v);
  bool MeetsString(const traceql::SpanCondition& c, std::string_view v);
  Resource& ResourceOf(const block::SpanView& s);
  // Keeps what `counted_` needs of span `s` for Keep(); false when its columns cannot tell.
  bool Buffer(const block::SpanView& s);

  const traceql::Prefilter& prefilter_;
  const std::optional<TraceBounds> bounds_;
  int64_t start_floor_ = std::numeric_limits<int64_t>::min();
  traceql::FieldOps ops_;
  block::TraceFilter::Reads reads_of_{false, false, false, false, false};
  // The current trace: which span tests a span met, whether a span is kept whole (or, when
  // counting, cannot be told from its columns), how many spans it has and their earliest
  // start and latest end.
  std::vector<char> met_;
  bool whole_ = false;
  uint64_t spans_ = 0;
  int64_t start_ns_ = 0, end_ns_ = 0;
  // Within a page, a dictionary index stands for its string: per condition, what it gave for
  // a string value (by its index) and for a resource (by its index + 1), -1 until known; the
  // resources by index + 1.
  std::vector<std::vector<int8_t>> by_value_, by_resource_;
  std::vector<Resource> resources_;
  Resource scratch_;  // a resource outside the page's dictionary
  // Counting: the evaluator, the attributes it reads, and the current trace's counted spans
  // (start, then one value per attribute).
  traceql::MetricsEvaluator* eval_ = nullptr;
  std::vector<traceql::Attribute> reads_;
  std::vector<std::pair<int64_t, std::vector<traceql::Static>>> counted_;
  size_t n_counted_ = 0;
};

}  // namespace strata::traces
