#pragma once

// Internals of the PromQL evaluator, shared by its source files. Not a public interface.
//
// The evaluator works on whole series x steps: every instant-vector expression evaluates to a
// set of series, each with one value per step of the query's grid, so a binary operator
// matches series once for all steps and an aggregation groups them once. Range functions slide
// a window over each series' samples, decoded once per query.

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/histogram.h"
#include "base/labels.h"
#include "base/mutex.h"
#include "base/sample.h"
#include "base/status.h"
#include "promql/annotations.h"
#include "promql/ast.h"
#include "promql/engine.h"
#include "query/querier.h"

namespace strata::promql::internal {

// Marks "no value at this step". A signalling NaN with a payload no arithmetic produces
// (arithmetic quiets NaNs); loaded NaNs are canonicalized, so the marker cannot come from data.
inline constexpr uint64_t kAbsentBits = 0x7ff00000000dead1ULL;
inline double Absent() { return std::bit_cast<double>(kAbsentBits); }
inline bool IsAbsent(double v) { return std::bit_cast<uint64_t>(v) == kAbsentBits; }
inline bool IsPresent(double v) { return !IsAbsent(v); }
inline double CanonicalNaN() { return std::numeric_limits<double>::quiet_NaN(); }

// The evaluation timestamps: start, start+step, ..., n of them.
struct Grid {
  int64_t start = 0;
  int64_t step = 1;
  size_t n = 1;
  int64_t At(size_t i) const { return start + static_cast<int64_t>(i) * step; }
  int64_t end() const { return At(n - 1); }
};

// One series of an instant-vector result, with one value (or Absent()) per grid step.
// `drop_name`: the metric name is to be removed at the end of the query (Prometheus 3's delayed
// name removal), so that e.g. label_replace can still read it.
// A series may hold native histograms: then `h` has one entry per step, and a step with a
// histogram has it there and Absent() in `v`. Series without any histogram leave `h` empty.
using HistogramPtr = std::shared_ptr<const histogram::FloatHistogram>;
struct StepSeries {
  Labels labels;
  std::vector<double> v;
  std::vector<HistogramPtr> h;
  bool drop_name = false;

  bool has_histograms() const { return !h.empty(); }
  const histogram::FloatHistogram* H(size_t i) const { return h.empty() ? nullptr : h[i].get(); }
  bool Has(size_t i) const { return IsPresent(v[i]) || H(i) != nullptr; }
  // Removes the value at step i.
  void Clear(size_t i) {
    v[i] = Absent();
    if (!h.empty()) h[i] = nullptr;
  }
  // Puts histogram `x` at step i (sizing `h` on first use) and marks the float absent.
  void SetH(size_t i, HistogramPtr x) {
    if (h.empty()) h.resize(v.size());
    h[i] = std::move(x);
    v[i] = Absent();
  }
};
using StepVector = std::vector<StepSeries>;

struct Scalars {
  std::vector<double> v;
};

struct RawSeries {
  Labels labels;
  std::vector<Sample> samples;                         // time order, no stale markers
  std::vector<histogram::HistogramSample> histograms;  // the same
  bool drop_name = false;
};

// A range-vector operand: its series and, per grid step, the end of its window; the window is
// (end - range_ms, end]. Matrix selectors keep the storage's series set and decode one series
// at a time; subqueries hold their evaluated points.
struct RangeArg {
  std::unique_ptr<query::SeriesSet> lazy;
  std::vector<RawSeries> series;  // when lazy is null
  int64_t range_ms = 0;
  std::vector<int64_t> window_end;

  size_t size() const { return lazy ? lazy->size() : series.size(); }
  const Labels& labels(size_t i) const { return lazy ? lazy->labels(i) : series[i].labels; }
  bool drop_name(size_t i) const { return lazy ? false : series[i].drop_name; }
  // Series i's samples without stale markers, NaNs canonical; `buf` holds decoded ones.
  std::span<const Sample> Samples(size_t i, std::vector<Sample>& buf) const;
  // Series i's histogram samples without stale markers.
  std::span<const histogram::HistogramSample> Histograms(
      size_t i, std::vector<histogram::HistogramSample>& buf) const;
};

using Value = std::variant<Scalars, StepVector, std::string, RangeArg>;

// Receives an instant vector as consecutive batches of its series, in the vector's order; the
// batch is the sink's to move from, and is released when the sink returns.
using BatchSink = std::function<void(StepVector& batch)>;
// Produces the output series of input series [begin, end) into `out`, in input order, holding
// (Evaluator::Hold) the grid's length for each series it outputs.
using SeriesFn = std::function<void(size_t begin, size_t end, StepVector& out)>;

// Thrown inside the evaluator only; Engine turns it into a Status.
struct EvalError {
  Status status;
};
[[noreturn]] void Fail(std::string msg);  // an execution error

// Evaluates one query. Single-threaded; lives for one query.
class Evaluator {
 public:
  // `query` is the query's own grid (its start, end and step).
  Evaluator(const query::Querier& q, const EngineOptions& opts, const QueryControl& ctl,
            const Grid& query, Annotations& annos)
      : q_(q), opts_(opts), ctl_(ctl), query_(query), annos_(annos), per_step_(query.n, 0) {}

  Value Eval(const Expr& e, const Grid& g);
  StepVector EvalVector(const Expr& e, const Grid& g);
  std::vector<double> EvalScalar(const Expr& e, const Grid& g);
  std::string EvalString(const Expr& e, const Grid& g);
  RangeArg EvalRange(const Expr& e, const Grid& g, std::string_view func = {});
  // A selector with, per series and step, the timestamp of the chosen sample (timestamp()).
  StepVector EvalSelectorTimestamps(const VectorSelector& vs, const Grid& g);
  // Evaluates an instant-vector expression whose series are computed independently of each
  // other (a selector, or a range function over a range vector) a batch of series at a time
  // into `sink`, so that an aggregation above it holds one batch rather than every series
  // over every step. Returns false, having evaluated nothing, for any other expression.
  bool EvalVectorBatches(const Expr& e, const Grid& g, const BatchSink& sink);
  // Runs fn over input series [0, n): in parallel chunks of `grain`, their outputs joined in
  // input order. Without a sink all outputs are returned; with one they go to it in batches
  // of about a few million values, and nothing is returned.
  StepVector MapSeries(size_t n, size_t grain, const Grid& g, const BatchSink* sink,
                       const SeriesFn& fn);

  // Throws once the deadline passed or the query was cancelled. Thread-safe.
  void CheckInterrupt() const;
  // Accounts samples held in memory; throws when over the limit. Negative releases.
  // Thread-safe.
  void Hold(int64_t samples);
  // Runs fn over chunks of [0, n) in parallel (see ParallelFor); an EvalError thrown in any
  // chunk is rethrown here once all chunks are done.
  void ParallelChunks(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

  Annotations& annotations() { return annos_; }
  const EngineOptions& options() const { return opts_; }
  uint64_t samples_loaded() const { return samples_loaded_.load(); }
  // The most samples held at once (Prometheus's peakSamples).
  uint64_t peak_samples() const { return static_cast<uint64_t>(peak_.load()); }
  void CountLoaded(uint64_t n) { samples_loaded_.fetch_add(n, std::memory_order_relaxed); }
  // Prometheus's queryable-samples statistics: `counts[i]` samples of storage were read for
  // step i of grid `g` (a selected point, or the points in a range window). Samples read on
  // another grid than the query's (inside a subquery) count at the query's last step.
  // Thread-safe; callers add up a chunk of series locally and report once.
  void CountAtSteps(const Grid& g, const std::vector<uint64_t>& counts);
  // Per step of the query's grid.
  std::vector<uint64_t> samples_per_step() const;

 private:
  std::vector<int64_t> EffectiveTimes(const AtModifier& at, int64_t offset_ms, const Grid& g) const;
  // `func`, `range_ms` and `step_ms` are SelectParams hints.
  std::unique_ptr<query::SeriesSet> Load(const VectorSelector& vs, int64_t mint, int64_t maxt,
                                         std::string_view func, int64_t range_ms, int64_t step_ms);
  StepVector EvalSelector(const VectorSelector& vs, const Grid& g, bool timestamps,
                          const BatchSink* sink);
  StepVector EvalUnary(const UnaryExpr& u, const Grid& g);
  Value EvalBinary(const BinaryExpr& b, const Grid& g);

  const query::Querier& q_;
  const EngineOptions& opts_;
  const QueryControl& ctl_;
  const Grid query_;
  Annotations& annos_;
  std::atomic<int64_t> held_{0};
  std::atomic<int64_t> peak_{0};
  std::atomic<uint64_t> samples_loaded_{0};
  mutable Mutex per_step_mu_;
  std::vector<uint64_t> per_step_;  // guarded by per_step_mu_
  mutable std::atomic<uint32_t> interrupt_counter_{0};
};

// Defined in the operator files.
StepVector EvalAggregate(Evaluator& ev, const AggregateExpr& a, const Grid& g);
Value EvalCall(Evaluator& ev, const Call& c, const Grid& g);
// A range function's call evaluated into `sink` in batches (Evaluator::EvalVectorBatches);
// false, having evaluated nothing, when `c` is not one that can be.
bool EvalCallBatches(Evaluator& ev, const Call& c, const Grid& g, const BatchSink& sink);
StepVector VectorBinary(Evaluator& ev, const BinaryExpr& b, StepVector lhs, StepVector rhs,
                        const Grid& g);
StepVector EvalInfo(Evaluator& ev, const Call& c, const Grid& g);
StepVector HistogramQuantile(Evaluator& ev, const Call& c, const std::vector<double>& phi,
                             const StepVector& in, const Grid& g);
StepVector HistogramFraction(Evaluator& ev, const Call& c, const std::vector<double>& lower,
                             const std::vector<double>& upper, const StepVector& in, const Grid& g);

// What went wrong in element operations over native histograms, reported as Prometheus
// reports them: the last problem of each step.
class BinopProblems {
 public:
  // Nothing is allocated until a problem occurs: most operations never meet one.
  explicit BinopProblems(size_t steps) : steps_(steps) {}
  void IncompatibleTypes(size_t i, bool lhs_histogram, bool rhs_histogram) {
    At(i) = {Kind::kTypes, lhs_histogram, rhs_histogram};
  }
  void IncompatibleLayout(size_t i) { At(i) = {Kind::kLayout, true, true}; }
  void Report(Evaluator& ev, const BinaryExpr& b) const;

 private:
  enum class Kind : uint8_t { kNone, kTypes, kLayout };
  struct Problem {
    Kind kind = Kind::kNone;
    bool lhs_histogram = false;
    bool rhs_histogram = false;
  };
  Problem& At(size_t i) {
    if (problems_.empty()) problems_.resize(steps_);
    return problems_[i];
  }
  size_t steps_;
  std::vector<Problem> problems_;
};

// Applies a binary operator at step i where either operand is a native histogram (the other
// is `lf` or `rf`): float * histogram, histogram * or / float, histogram + or - histogram,
// and == or != between histograms work (the value in `*h`); other pairings are errors,
// recorded in `problems`.
enum class BinopOutcome : uint8_t { kKept, kFiltered, kError };
BinopOutcome HistogramBinop(BinOp op, double lf, const HistogramPtr& lh, double rf,
                            const HistogramPtr& rh, size_t i, double* f, HistogramPtr* h,
                            BinopProblems& problems);

// Helpers shared by the operator files.
// Applies a float operator; `keep` is false when a comparison filters the element out.
// `nan_div`: division by zero gives NaN (LogQL) rather than an infinity.
double ApplyOp(BinOp op, double l, double r, bool* keep, bool nan_div = false);
// Kahan-Neumaier compensated addition, as Prometheus's kahanSumInc: returns the new sum and
// updates the compensation *c. Inline: it sits in the innermost loops.
inline double KahanInc(double inc, double sum, double* c) {
  double t = sum + inc;
  if (std::isinf(t)) {
    *c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    *c += (sum - t) + inc;
  } else {
    *c += (inc - t) + sum;
  }
  return t;
}
double Quantile(double q, std::vector<double>& values);  // sorts values
Labels WithoutName(const Labels& ls);
// Removes series without any value.
void DropEmpty(StepVector& v);
// Prometheus's labels.Hash(): XXH64 over name 0xff value 0xff ...
uint64_t PrometheusLabelsHash(const Labels& ls);

}  // namespace strata::promql::internal
