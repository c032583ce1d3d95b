#include "logql/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <utility>

#include "base/labels.h"
#include "base/math.h"
#include "base/units.h"
#include "logql/lexer.h"
#include "logql/pipeline.h"
#include "promql/functions.h"

namespace strata::logql {

namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr std::string_view kLeafPrefix = "logql_range_";
constexpr std::string_view kErrSampleExtraction = "SampleExtractionErr";

// Entries read between checks of the query's deadline and cancellation, and turns given to
// other tenants' queries (QueryControl::yield).
constexpr uint64_t kCheckEvery = 1024;

Status Checkpoint(const promql::QueryControl& ctl, uint64_t* n) {
  if (++*n % kCheckEvery != 0) return Status::Ok();
  if (ctl.yield) ctl.yield();
  return promql::Interrupted(ctl);
}

// --- metric queries: LogQL's range aggregations as PromQL series -------------------------

// Each range aggregation becomes a PromQL function over a matrix selector whose metric name
// identifies it ("logql_range_<i>"); the querier below answers those selections by running
// the aggregation's pipeline over the logs. Entry timestamps become the millisecond at or
// after them, so that PromQL's (t - range, t] windows hold exactly the entries Loki's do.
class Translator {
 public:
  std::vector<const RangeAggregation*> leaves;

  promql::ExprPtr Translate(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral: {
        auto n = std::make_unique<promql::NumberLiteral>();
        n->val = As<LiteralExpr>(e).value;
        return n;
      }
      case ExprKind::kVector: {
        auto n = std::make_unique<promql::NumberLiteral>();
        n->val = As<VectorExpr>(e).value;
        return Call("vector", std::move(n));
      }
      case ExprKind::kLabelReplace: {
        const auto& l = As<LabelReplaceExpr>(e);
        auto c = Call("label_replace", Translate(*l.expr));
        for (const std::string* s : {&l.dst, &l.replacement, &l.src, &l.regex}) {
          auto str = std::make_unique<promql::StringLiteral>();
          str->val = *s;
          c->args.push_back(std::move(str));
        }
        return c;
      }
      case ExprKind::kBinary:
        return TranslateBinary(As<BinaryExpr>(e));
      case ExprKind::kVectorAgg:
        return TranslateVectorAgg(As<VectorAggregation>(e));
      case ExprKind::kRangeAgg:
        return TranslateRangeAgg(As<RangeAggregation>(e));
      case ExprKind::kLog:
        break;
    }
    return nullptr;  // the parser refuses log queries where a metric query must be
  }

 private:
  static std::unique_ptr<promql::Call> Call(std::string_view fn, promql::ExprPtr arg) {
    auto c = std::make_unique<promql::Call>();
    c->func = promql::FindFunction(fn);
    if (c->func == nullptr) c->func = promql::FindLogqlFunction(fn);
    c->args.push_back(std::move(arg));
    return c;
  }

  promql::ExprPtr TranslateBinary(const BinaryExpr& b) {
    auto out = std::make_unique<promql::BinaryExpr>();
    static constexpr promql::BinOp kOps[] = {
        promql::BinOp::kOr,  promql::BinOp::kAnd, promql::BinOp::kUnless, promql::BinOp::kEql,
        promql::BinOp::kNeq, promql::BinOp::kLss, promql::BinOp::kLte,    promql::BinOp::kGtr,
        promql::BinOp::kGte, promql::BinOp::kAdd, promql::BinOp::kSub,    promql::BinOp::kMul,
        promql::BinOp::kDiv, promql::BinOp::kMod, promql::BinOp::kPow};
    out->op = kOps[static_cast<size_t>(b.op)];
    out->return_bool = b.return_bool;
    out->lhs = Translate(*b.lhs);
    out->rhs = Translate(*b.rhs);
    if (b.lhs->kind != ExprKind::kLiteral && b.rhs->kind != ExprKind::kLiteral) {
      promql::VectorMatching vm;
      vm.on = b.on;
      vm.labels = b.matching;
      vm.include = b.include;
      vm.written = b.on || !b.matching.empty();
      vm.card = IsSetOp(b.op)                ? promql::Cardinality::kManyToMany
                : b.card == Card::kManyToOne ? promql::Cardinality::kManyToOne
                : b.card == Card::kOneToMany ? promql::Cardinality::kOneToMany
                                             : promql::Cardinality::kOneToOne;
      out->matching = std::move(vm);
    }
    return out;
  }

  promql::ExprPtr TranslateVectorAgg(const VectorAggregation& v) {
    if (v.op == VectorOp::kSort || v.op == VectorOp::kSortDesc) {
      return Call(v.op == VectorOp::kSort ? "sort" : "sort_desc", Translate(*v.expr));
    }
    auto a = std::make_unique<promql::AggregateExpr>();
    switch (v.op) {
      case VectorOp::kSum:
        a->op = promql::AggOp::kSum;
        break;
      case VectorOp::kAvg:
        a->op = promql::AggOp::kAvg;
        break;
      case VectorOp::kCount:
        a->op = promql::AggOp::kCount;
        break;
      case VectorOp::kMax:
        a->op = promql::AggOp::kMax;
        break;
      case VectorOp::kMin:
        a->op = promql::AggOp::kMin;
        break;
      case VectorOp::kStddev:
        a->op = promql::AggOp::kStddev;
        break;
      case VectorOp::kStdvar:
        a->op = promql::AggOp::kStdvar;
        break;
      case VectorOp::kBottomk:
        a->op = promql::AggOp::kBottomk;
        break;
      // approx_topk's answer is the exact topk: an approximation with no error.
      case VectorOp::kTopk:
      case VectorOp::kApproxTopk:
        a->op = promql::AggOp::kTopk;
        break;
      case VectorOp::kSort:
      case VectorOp::kSortDesc:
        break;
    }
    if (v.op == VectorOp::kTopk || v.op == VectorOp::kBottomk || v.op == VectorOp::kApproxTopk) {
      auto k = std::make_unique<promql::NumberLiteral>();
      k->val = static_cast<double>(v.param);
      a->param = std::move(k);
    }
    a->expr = Translate(*v.expr);
    a->grouping = v.grouping.labels;
    a->without = v.grouping.without;
    a->grouping_written = !v.grouping.Singleton();
    return a;
  }

  promql::ExprPtr TranslateRangeAgg(const RangeAggregation& r) {
    size_t leaf = leaves.size();
    leaves.push_back(&r);
    auto ms = std::make_unique<promql::MatrixSelector>();
    ms->vs = std::make_unique<promql::VectorSelector>();
    ms->vs->name = fmt::format("{}{}", kLeafPrefix, leaf);
    // The metric name selects the leaf; the stream matchers give absent_over_time its labels.
    ms->vs->matchers.push_back(
        *Matcher::Make(Matcher::Type::kEqual, std::string(kMetricNameLabel), ms->vs->name));
    for (const auto& m : r.selector.matchers) ms->vs->matchers.push_back(m);
    ms->range_ms = r.range_ns / kNsPerMs;
    ms->vs->offset_ms = r.offset_ns / kNsPerMs;
    double seconds = static_cast<double>(r.range_ns) / 1e9;
    auto per_second = [&](promql::ExprPtr sum) {
      auto div = std::make_unique<promql::BinaryExpr>();
      div->op = promql::BinOp::kDiv;
      div->lhs = std::move(sum);
      auto n = std::make_unique<promql::NumberLiteral>();
      n->val = seconds;
      div->rhs = std::move(n);
      return div;
    };
    switch (r.op) {
      // Lines are samples of value 1 (or several lines of one window cell merged, with their
      // count: LeafQuerier::Extract), so counting them is summing them.
      case RangeOp::kCount:
        return Call("sum_over_time", std::move(ms));
      case RangeOp::kAbsent:
        return Call("absent_over_time", std::move(ms));
      // Lines per second, or (unwrapped) the values' sum per second.
      case RangeOp::kRate:
        return per_second(Call("sum_over_time", std::move(ms)));
      case RangeOp::kRateCounter:
        return Call("rate", std::move(ms));
      case RangeOp::kBytes:
      case RangeOp::kSum:
        return Call("sum_over_time", std::move(ms));
      case RangeOp::kBytesRate:
        return per_second(Call("sum_over_time", std::move(ms)));
      case RangeOp::kAvg:
        return Call("avg_over_time", std::move(ms));
      case RangeOp::kMin:
        return Call("min_over_time", std::move(ms));
      case RangeOp::kMax:
        return Call("max_over_time", std::move(ms));
      case RangeOp::kStdvar:
        return Call("stdvar_over_time", std::move(ms));
      case RangeOp::kStddev:
        return Call("stddev_over_time", std::move(ms));
      case RangeOp::kFirst:
        return Call("first_over_time", std::move(ms));
      case RangeOp::kLast:
        return Call("last_over_time", std::move(ms));
      case RangeOp::kQuantile: {
        auto c = std::make_unique<promql::Call>();
        c->func = promql::FindFunction("quantile_over_time");
        auto q = std::make_unique<promql::NumberLiteral>();
        q->val = *r.param;
        c->args.push_back(std::move(q));
        c->args.push_back(std::move(ms));
        return c;
      }
    }
    return nullptr;
  }
};

// Converts an unwrapped label value as `| unwrap conv(label)` says.
bool ConvertUnwrapped(Conv conv, std::string_view v, double* out, std::string* err) {
  switch (conv) {
    case Conv::kNone: {
      std::string_view s = v;
      if (!s.empty() && s[0] == '+') s.remove_prefix(1);
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
        *err = fmt::format("strconv.ParseFloat: parsing {}: invalid syntax", GoQuote(v));
        return false;
      }
      return true;
    }
    case Conv::kDuration:
    case Conv::kDurationSeconds: {
      int64_t ns = 0;
      if (!ParsePromOrGoDuration(v, &ns) || v.find_first_of("dwy") != std::string_view::npos) {
        *err = fmt::format("time: invalid duration {}", GoQuote(v));
        return false;
      }
      *out = static_cast<double>(ns) / 1e9;
      return true;
    }
    case Conv::kBytes: {
      uint64_t b = 0;
      if (!ParseHumanBytes(v, &b)) {
        *err = fmt::format("unhandled size name: {}", v);
        return false;
      }
      *out = static_cast<double>(b);
      return true;
    }
  }
  return false;
}

// A compiled range aggregation: its pipeline, unwrap and grouping.
struct Leaf {
  const RangeAggregation* expr = nullptr;
  Pipeline pipeline;
  std::vector<std::shared_ptr<const Step>> post_filters;
};

// The query::Querier the PromQL evaluator reads a metric query's series from.
class LeafQuerier : public query::EmptyQuerier {
 public:
  LeafQuerier(const logs::Querier& logs, std::vector<Leaf> leaves, uint64_t max_samples,
              const promql::QueryControl& ctl)
      : logs_(logs), leaves_(std::move(leaves)), max_samples_(max_samples), ctl_(ctl) {}

  Result<std::unique_ptr<query::SeriesSet>> Select(
      const query::SelectParams& p, std::span<const Matcher> matchers) const override {
    // The translation puts the leaf's name first; the stream matchers after it are the
    // query's own (for absent_over_time's labels) and never name a leaf.
    const Leaf* leaf = nullptr;
    if (!matchers.empty() && matchers[0].name() == kMetricNameLabel &&
        matchers[0].value().starts_with(kLeafPrefix)) {
      std::string_view digits = std::string_view(matchers[0].value()).substr(kLeafPrefix.size());
      size_t i = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
      if (ec == std::errc() && ptr == digits.data() + digits.size() && i < leaves_.size()) {
        leaf = &leaves_[i];
      }
    }
    if (leaf == nullptr) return query::EmptyQuerier::Select(p, matchers);
    ASSIGN_OR_RETURN(auto series, Extract(*leaf, p));
    return std::unique_ptr<query::SeriesSet>(
        std::make_unique<query::MaterializedSeriesSet>(std::move(series)));
  }

 private:
  // Which of the evaluation windows (t_k - range, t_k], t_k = mint + range - 1 + k * step up
  // to maxt, hold a sample time: entries holding the same windows are one cell. For the
  // aggregations that only add whole numbers (counts, bytes) or look at presence, a cell's
  // entries are one sample carrying their sum, and entries in no window none: a day of logs
  // at a 5m step is 288 samples per series, not one per line.
  struct Cells {
    int64_t t0 = 0, step = 0, range = 0, n = 0;
    bool on = false;
    // [first, last] window holding time s; first > last when none does.
    std::pair<int64_t, int64_t> Of(int64_t s) const {
      int64_t first = s <= t0 ? 0 : (step == 0 ? n : CeilDiv(s - t0, step));
      int64_t last =
          step == 0 ? (s + range - 1 >= t0 ? 0 : -1) : FloorDiv(s + range - 1 - t0, step);
      return {first, std::min(last, n - 1)};
    }
    // The last time of the cell `c` that time s is in (times after it enter or leave a
    // window), so that the entries up to it need no division.
    int64_t End(std::pair<int64_t, int64_t> c) const {
      auto t = [&](int64_t k) { return t0 + k * step; };
      int64_t end = INT64_MAX;
      if (c.first <= c.second) end = t(c.first);                     // leaves window `first`
      int64_t enter = c.first <= c.second ? c.second + 1 : c.first;  // the next window entered
      if (enter < n) end = std::min(end, t(enter) - range);
      return end;
    }
  };
  static Cells CellsOf(const RangeAggregation& r, const query::SelectParams& p) {
    Cells c;
    const bool additive = !r.unwrap && (r.op == RangeOp::kCount || r.op == RangeOp::kRate ||
                                        r.op == RangeOp::kBytes || r.op == RangeOp::kBytesRate ||
                                        r.op == RangeOp::kAbsent);
    if (!additive || p.range_ms <= 0 || p.step_ms < 0) return c;
    c.range = p.range_ms;
    c.step = p.step_ms;
    c.t0 = p.mint + p.range_ms - 1;
    if (c.t0 > p.maxt) return c;
    if (c.step == 0) {
      c.n = 1;
      c.on = c.t0 == p.maxt;
    } else {
      c.n = (p.maxt - c.t0) / c.step + 1;
      c.on = (p.maxt - c.t0) % c.step == 0;
    }
    return c;
  }

  // The samples of the leaf's series with (millisecond) times in [p.mint, p.maxt].
  Result<std::vector<query::SeriesData>> Extract(const Leaf& leaf,
                                                 const query::SelectParams& p) const {
    const int64_t mint = p.mint, maxt = p.maxt;
    const RangeAggregation& r = *leaf.expr;
    const Cells cells = CellsOf(r, p);
    // ceil(ns / 1ms) in [mint, maxt]  <=>  ns in ((mint - 1) ms, maxt ms].
    int64_t lo = SaturatingAdd(SaturatingMul(SaturatingSub(mint, 1), kNsPerMs), 1);
    int64_t hi = SaturatingMul(maxt, kNsPerMs);
    ASSIGN_OR_RETURN(auto set, logs_.Select(r.selector.matchers, lo, hi,
                                            {RequiredSubstrings(r.selector.stages)}));
    // Counting lines (without a stage that reads them) needs no text.
    const bool lines = !leaf.pipeline.empty() || r.unwrap || r.op == RangeOp::kBytes ||
                       r.op == RangeOp::kBytesRate;
    struct Series {
      std::vector<Sample> samples;
      std::pair<int64_t, int64_t> last_cell{1, 0};  // of the newest sample
    };
    std::map<Labels, Series> out;
    uint64_t total = 0;
    LabelsBuilder lbs;
    uint64_t read = 0;
    std::string line;
    // When no stage can change an entry's labels, an entry without structured metadata
    // belongs to its stream's series: found once per stream, not per entry.
    const bool fixed_labels = leaf.pipeline.KeepsLabels() && !r.unwrap;
    for (size_t i = 0; i < set->size(); ++i) {
      const Labels& stream_labels = set->labels(i);
      Series* stream_series = nullptr;
      std::pair<int64_t, int64_t> cell{1, 0};
      int64_t cell_end = INT64_MIN;  // entries come in time order: the cell holds until then
      auto visit = [&](const logs::EntryRef& e) -> Status {
        RETURN_IF_ERROR(Checkpoint(ctl_, &read));
        const int64_t t = CeilDiv(e.ts_ns, kNsPerMs);  // the ms at or after it
        if (cells.on) {
          if (t > cell_end) {
            cell = cells.Of(t);
            cell_end = cells.End(cell);
          }
          if (cell.first > cell.second) return Status::Ok();  // in no window
        }
        Series* series = fixed_labels && e.metadata.empty() ? stream_series : nullptr;
        // The pipeline runs when there is one, and for an entry whose series is not known.
        std::string_view text = e.line;
        if (series == nullptr || !leaf.pipeline.empty()) {
          line.assign(e.line);
          lbs.Reset(stream_labels, e.metadata);
          if (!leaf.pipeline.Process(e.ts_ns, line, lbs)) return Status::Ok();
          text = line;
        }
        double value = 1;
        if (r.op == RangeOp::kBytes || r.op == RangeOp::kBytesRate) {
          value = static_cast<double>(text.size());
        } else if (r.unwrap) {
          auto v = lbs.Get(r.unwrap->label);
          std::string err;
          if (!v || !ConvertUnwrapped(r.unwrap->conv, *v, &value, &err)) {
            if (!v) err = fmt::format("label {} not found", r.unwrap->label);
            lbs.SetError(kErrSampleExtraction, err);
            value = 0;
          }
          lbs.Delete(r.unwrap->label);
          for (const auto& f : leaf.post_filters) {
            if (!f->Process(e.ts_ns, line, lbs)) return Status::Ok();
          }
        }
        if (series == nullptr) {
          Labels ls = lbs.All();
          if (std::none_of(ls.begin(), ls.end(),
                           [](const Label& l) { return l.name == kErrorLabel; })) {
            std::erase_if(ls, [](const Label& l) { return l.name == kErrorDetailsLabel; });
          }
          // A failed entry keeps all its labels, so that the error is reported (as Loki's).
          if (r.grouping && !lbs.HasError()) ls = Group(ls, *r.grouping);
          series = &out[std::move(ls)];
          if (fixed_labels && e.metadata.empty()) stream_series = series;
        }
        if (cells.on && !series->samples.empty() && series->last_cell == cell) {
          series->samples.back().v += value;
          return Status::Ok();
        }
        series->samples.push_back({t, value});
        series->last_cell = cell;
        if (++total > max_samples_) {
          return Status::LimitExceeded(
              "query processing would load too many samples into memory in query execution");
        }
        return Status::Ok();
      };
      RETURN_IF_ERROR(set->Visit(i, lines, visit));
    }
    std::vector<query::SeriesData> series;
    series.reserve(out.size());
    for (auto& [ls, data] : out) {
      auto& samples = data.samples;
      for (const auto& l : ls) {
        if (l.name == kErrorLabel) {
          return Status::InvalidArgument(fmt::format(
              "pipeline error: '{}' for series: '{}'.\n"
              "Use a label filter to intentionally skip this error. (e.g | __error__!=\"{}\").\n"
              "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
              "The label filter can also be specified after unwrap. (e.g | unwrap latency | "
              "__error__=\"\" )\n",
              l.value, FormatLabels(ls), l.value));
        }
      }
      // Streams merged into one series interleave: put the samples in time order.
      std::stable_sort(samples.begin(), samples.end(),
                       [](const Sample& a, const Sample& b) { return a.t < b.t; });
      series.push_back({ls, std::move(samples)});
    }
    return series;
  }

  static Labels Group(const Labels& ls, const Grouping& g) {
    Labels out;
    for (const auto& l : ls) {
      bool listed = std::find(g.labels.begin(), g.labels.end(), l.name) != g.labels.end();
      if (listed != g.without) out.push_back(l);
    }
    return out;
  }

  const logs::Querier& logs_;
  std::vector<Leaf> leaves_;
  uint64_t max_samples_;
  const promql::QueryControl& ctl_;
};

struct Prepared {
  promql::ExprPtr expr;
  std::unique_ptr<LeafQuerier> querier;
};

Result<Prepared> Prepare(const logs::Querier& q, const Expr& e, uint64_t max_samples,
                         const promql::QueryControl& ctl) {
  if (!e.IsMetric()) {
    return Status::InvalidArgument("log queries are evaluated by SelectLogs, not as metrics");
  }
  Translator t;
  Prepared p;
  p.expr = t.Translate(e);
  std::vector<Leaf> leaves;
  for (const RangeAggregation* r : t.leaves) {
    Leaf leaf;
    leaf.expr = r;
    ASSIGN_OR_RETURN(leaf.pipeline, Pipeline::Make(r->selector.stages));
    if (r->unwrap) {
      for (const auto& f : r->unwrap->post_filters) {
        ASSIGN_OR_RETURN(auto step, MakeLabelFilterStep(*f));
        leaf.post_filters.push_back(std::move(step));
      }
    }
    leaves.push_back(std::move(leaf));
  }
  p.querier = std::make_unique<LeafQuerier>(q, std::move(leaves), max_samples, ctl);
  return p;
}

}  // namespace

Engine::Engine(promql::EngineOptions opts)
    : promql_([&] {
        opts.nan_on_division_by_zero = true;
        return opts;
      }()) {}

Result<promql::QueryResult> Engine::Instant(const logs::Querier& q, const Expr& e, int64_t t_ms,
                                            const promql::QueryControl& ctl) const {
  uint64_t max = ctl.max_samples > 0 ? ctl.max_samples : promql_.options().max_samples;
  ASSIGN_OR_RETURN(auto p, Prepare(q, e, max, ctl));
  return promql_.Instant(*p.querier, *p.expr, t_ms, ctl);
}

Result<promql::QueryResult> Engine::Range(const logs::Querier& q, const Expr& e, int64_t start_ms,
                                          int64_t end_ms, int64_t step_ms,
                                          const promql::QueryControl& ctl) const {
  uint64_t max = ctl.max_samples > 0 ? ctl.max_samples : promql_.options().max_samples;
  ASSIGN_OR_RETURN(auto p, Prepare(q, e, max, ctl));
  return promql_.Range(*p.querier, *p.expr, start_ms, end_ms, step_ms, ctl);
}

// --- log queries ---------------------------------------------------------------------------

namespace {

// Reads a log query's entries: the first `limit` of a time range in the query's order (time
// in its direction, then labels, then arrival), holding O(limit) of them however many it
// reads.
class LogReader {
 public:
  struct Candidate {
    int64_t ts;
    size_t stream;  // in Window::streams
    uint64_t seq;   // arrival order, for a stable order among equal times
    LogLine line;
  };
  struct Window {
    std::vector<LogStream> streams;  // the output streams the candidates are in
    std::vector<Candidate> entries;  // in the query's order
  };

  LogReader(const logs::Querier& q, const LogExpr& e, Pipeline& pipeline, bool forward,
            const promql::QueryControl& ctl, LogQueryResult& stats)
      : q_(q),
        e_(e),
        pipeline_(pipeline),
        hints_{RequiredSubstrings(e.selector.stages)},
        forward_(forward),
        ctl_(ctl),
        stats_(stats) {}

  // The first `limit` entries of [start_ns, end_ns]; with `distinct_times`, only the first
  // of the entries of each time. The range is read in windows, the first `first_width` long
  // (0: a 64th of the range).
  Result<Window> First(int64_t start_ns, int64_t end_ns, size_t limit, bool distinct_times,
                       uint64_t first_width) {
    Window w;
    auto before = [&](const Candidate& a, const Candidate& b) {
      if (a.ts != b.ts) return forward_ ? a.ts < b.ts : a.ts > b.ts;
      if (a.stream != b.stream) return w.streams[a.stream].labels < w.streams[b.stream].labels;
      return a.seq < b.seq;
    };
    std::map<Labels, size_t> stream_of;
    // Keeps the first `limit` candidates, and only the output streams they are in.
    auto trim = [&] {
      auto& cand = w.entries;
      if (distinct_times) {
        std::sort(cand.begin(), cand.end(), before);
        cand.erase(std::unique(cand.begin(), cand.end(),
                               [](const Candidate& a, const Candidate& b) { return a.ts == b.ts; }),
                   cand.end());
        if (cand.size() > limit) cand.resize(limit);
      } else if (cand.size() > limit) {
        std::nth_element(cand.begin(), cand.begin() + static_cast<ptrdiff_t>(limit), cand.end(),
                         before);
        cand.resize(limit);
      }
      std::vector<size_t> renumber(w.streams.size(), SIZE_MAX);
      std::vector<LogStream> kept;
      for (auto& c : cand) {
        if (renumber[c.stream] == SIZE_MAX) {
          renumber[c.stream] = kept.size();
          kept.push_back(std::move(w.streams[c.stream]));
        }
        c.stream = renumber[c.stream];
      }
      w.streams = std::move(kept);
      stream_of.clear();
      for (size_t k = 0; k < w.streams.size(); ++k) stream_of.emplace(w.streams[k].labels, k);
    };
    LabelsBuilder lbs;
    uint64_t seq = 0;
    std::string line;
    // The range is read in windows from its end backward (from its start when forward), each
    // twice as long as the one before; once a window leaves the limit filled, the rest of the
    // range holds only entries that would not be returned. A Grafana panel asking for the
    // newest 1,000 lines of a day reads the last minutes of it.
    // In unsigned arithmetic: a range may span most of int64.
    const uint64_t span = static_cast<uint64_t>(end_ns) - static_cast<uint64_t>(start_ns) + 1;
    uint64_t width = std::clamp<uint64_t>(first_width > 0 ? first_width : span / 64, 1, span);
    for (uint64_t done = 0; done < span && w.entries.size() < limit;) {
      const uint64_t len = std::min(width, span - done);
      const auto lo =
          static_cast<int64_t>(forward_ ? static_cast<uint64_t>(start_ns) + done
                                        : static_cast<uint64_t>(end_ns) + 1 - done - len);
      done += len;
      width = width <= (span - done) / 2 ? width * 2 : span - done;
      ASSIGN_OR_RETURN(
          auto set, q_.Select(e_.selector.matchers, lo,
                              static_cast<int64_t>(static_cast<uint64_t>(lo) + len - 1), hints_));
      for (size_t i = 0; i < set->size(); ++i) {
        const Labels& stream_labels = set->labels(i);
        auto visit = [&](const logs::EntryRef& en) -> Status {
          RETURN_IF_ERROR(Checkpoint(ctl_, &stats_.entries_scanned));
          stats_.bytes_scanned += en.line.size();
          line.assign(en.line);
          lbs.Reset(stream_labels, en.metadata);
          if (!pipeline_.Process(en.ts_ns, line, lbs)) return Status::Ok();
          Labels all = lbs.All();
          auto [it, fresh] = stream_of.try_emplace(all, w.streams.size());
          if (fresh) w.streams.push_back({std::move(all), stream_labels, {}});
          w.entries.push_back({en.ts_ns, it->second, seq++,
                               LogLine{en.ts_ns, std::move(line),
                                       lbs.InCategory(LabelsBuilder::Category::kMetadata),
                                       lbs.InCategory(LabelsBuilder::Category::kParsed)}});
          if (w.entries.size() >= 2 * limit + 1024) trim();
          return Status::Ok();
        };
        RETURN_IF_ERROR(set->Visit(i, true, visit));
      }
      if (distinct_times) trim();
    }
    trim();
    std::sort(w.entries.begin(), w.entries.end(), before);
    return w;
  }

 private:
  const logs::Querier& q_;
  const LogExpr& e_;
  Pipeline& pipeline_;
  const logs::SelectHints hints_;
  const bool forward_;
  const promql::QueryControl& ctl_;
  LogQueryResult& stats_;
};

}  // namespace

Result<LogQueryResult> Engine::SelectLogs(const logs::Querier& q, const LogExpr& e,
                                          const LogQueryParams& p,
                                          const promql::QueryControl& ctl) const {
  ASSIGN_OR_RETURN(Pipeline pipeline, Pipeline::Make(e.selector.stages));
  LogQueryResult res;
  if (p.limit == 0 || p.end_ns <= p.start_ns) return res;
  LogReader reader(q, e, pipeline, p.forward, ctl, res);
  std::map<Labels, LogStream> out;
  auto emit = [&](LogReader::Window& w, LogReader::Candidate& c) {
    LogStream& s = w.streams[c.stream];
    auto [it, fresh] = out.try_emplace(s.labels);
    if (fresh) it->second = {s.labels, s.stream, {}};
    it->second.entries.push_back(std::move(c.line));
  };
  // [lo, hi]: what is left to read.
  int64_t lo = p.start_ns, hi = p.end_ns - 1;
  int64_t last = 0;  // the time of the last entry returned
  bool any = false;
  uint64_t width = 0;
  for (size_t left = p.limit; left > 0 && lo <= hi;) {
    // With an interval, an entry is returned when it is at least `interval` after (before,
    // backward) the last one returned, as Loki's. Only the first entry of a time can be, so
    // this reads the first `left` times, returns what it can of them (the rest are within the
    // interval of the last one returned) and goes on from the last one returned plus the
    // interval, reading first a window as long as this round's times took.
    ASSIGN_OR_RETURN(auto w, reader.First(lo, hi, left, p.interval_ns > 0, width));
    const bool all = w.entries.size() < left;  // nothing else in [lo, hi]
    for (auto& c : w.entries) {
      if (any &&
          (p.forward ? SaturatingSub(c.ts, last) : SaturatingSub(last, c.ts)) < p.interval_ns) {
        continue;
      }
      emit(w, c);
      last = c.ts;
      any = true;
      --left;
    }
    if (all || p.interval_ns == 0) break;
    const auto read_to = static_cast<uint64_t>(w.entries.back().ts);
    if (p.forward) {
      width = read_to - static_cast<uint64_t>(lo) + 1;
      lo = SaturatingAdd(last, p.interval_ns);
    } else {
      width = static_cast<uint64_t>(hi) - read_to + 1;
      hi = SaturatingSub(last, p.interval_ns);
    }
  }
  for (auto& [labels, s] : out) res.streams.push_back(std::move(s));
  return res;
}

}  // namespace strata::logql
