#pragma once

// Evaluates TraceQL metrics queries (`{ ... } | rate() by (x)`, `quantile_over_time(duration,
// .9)`, `compare({ status = error })`, ..., arithmetic between them, and their second stages)
// over traces, as Tempo does:
// the spans a query's pipeline yields are counted or measured in the interval their start
// falls in, per group of by() values, then second stages (topk, bottomk, value filters,
// arithmetic with a number) shape the series. compare() counts, for every attribute value
// the spans carry, how many spans of the selection (those its filter matches) and of the
// baseline (the others) have it. A range query and an instant query run the same code over
// their intervals, so an instant query over an interval of a range query answers what the
// range query answers there.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "traceql/ast.h"
#include "traceql/engine.h"
#include "traceql/trace.h"

namespace strata::traceql {

// The intervals a metrics query answers: (start + i*step, start + (i+1)*step] for i in
// [0, count), each answered at its end.
struct Intervals {
  int64_t start_ns = 0, step_ns = 1, count = 0;

  // Tempo's range query: `start` down and `end` up to whole steps, and one step more before
  // `start`, so the first sample (at start rounded down) counts the step before it.
  static Intervals Range(int64_t start_ns, int64_t end_ns, int64_t step_ns);
  // Tempo's instant query: one interval, (start, end].
  static Intervals Instant(int64_t start_ns, int64_t end_ns);

  // The interval a span starting at `t_ns` is counted in; -1 outside them all.
  int64_t Of(int64_t t_ns) const;
  int64_t EndOf(int64_t i) const { return start_ns + (i + 1) * step_ns; }
};

// Tempo's step when a range query names none: about 240 samples, rounded down to a whole
// hour, 5m, 1m, 15s, 5s or 1s (to 50 ms below a minute's range; at least 50 ms / 1 s).
int64_t DefaultStep(int64_t start_ns, int64_t end_ns);

// One series of an answer: its labels (by() values in order, `__name__`, `__bucket`, `p`)
// and a value per interval, NaN where it has none.
struct Series {
  std::vector<std::pair<std::string, Static>> labels;
  std::vector<double> values;
};

// Not thread-safe; one per query.
class MetricsEvaluator {
 public:
  // `query` must be a validated metrics query and outlive this object. At most `max_series`
  // series are kept (those first seen; per side of arithmetic between queries); truncated()
  // tells when more were refused.
  MetricsEvaluator(const MetricsExpr& query, Intervals intervals, size_t max_series);
  ~MetricsEvaluator();

  // Counts the spans of `t` the query's pipeline yields.
  void Observe(const Trace& t);
  // Counts one span the pipeline yielded, known by its start and by the values `lookup` gives
  // for the attributes the first stage reads (by() and its argument), as Observe counts it.
  // Not for compare(), which reads every attribute, nor arithmetic between queries.
  void AddSpan(int64_t start_ns, const std::function<Static(const Attribute&)>& lookup);
  // The answer: every series with a value, second stages applied, in Tempo's order (fewer
  // labels first, then label by label).
  std::vector<Series> Result() const;

  bool truncated() const;
  uint64_t spans_observed() const;

 private:
  // What one series holds per interval.
  struct Cell {
    int64_t n = 0;
    double sum = 0, comp = 0;  // a compensated (Neumaier) sum
    double min = 0, max = 0;
  };
  struct Acc {
    std::vector<std::pair<std::string, Static>> labels;
    std::vector<Cell> cells;
  };
  // compare()'s counts on one side (baseline or selection): per attribute, per value (by its
  // text) the value and its count per interval; and per attribute the total.
  struct CompareSide {
    std::map<std::string, std::map<std::string, std::pair<Static, std::vector<double>>>> values;
    std::map<std::string, std::vector<double>> totals;
  };
  void AddCompared(const Trace& t, const Span& s, int64_t at);
  Acc* SeriesFor(std::vector<std::pair<std::string, Static>> labels);
  std::vector<Series> FirstStage() const;
  std::vector<Series> Compared() const;

  const MetricsExpr& query_;
  const Intervals intervals_;
  const size_t max_series_;
  SearchEvaluator pipeline_;
  std::vector<std::string> by_names_;                   // each by() attribute's label name
  std::map<std::string, std::unique_ptr<Acc>> series_;  // by the labels' encoding
  Acc* last_ = nullptr;                                 // the series SeriesFor gave last
  CompareSide baseline_, selection_;
  // Arithmetic between queries: each side's evaluator, given every trace.
  std::unique_ptr<MetricsEvaluator> lhs_, rhs_;
  // compare()'s series: (side, attribute) totals and (side, attribute, value) counts.
  size_t compared_ = 0;
  bool truncated_ = false;
  uint64_t spans_ = 0;
};

// Tempo's ordering of label values: as protobuf's text format writes them (`bool_value:...`,
// `double_value:...`, `int_value:...`, `string_value:"..."`), so by type, then by text.
bool LabelValueLess(const Static& a, const Static& b);

}  // namespace strata::traceql
