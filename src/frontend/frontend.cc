#include "frontend/frontend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "base/units.h"

namespace strata::frontend {
namespace {

using promql::As;
using promql::Expr;
using promql::ExprKind;

// The nodes of an expression in a fixed order: two parses of the same normalized query
// give the same sequence, so a node's index names it across spellings.
void PreOrder(const Expr& e, std::vector<const Expr*>& out) {
  out.push_back(&e);
  switch (e.kind) {
    case ExprKind::kMatrixSelector:
      PreOrder(*As<promql::MatrixSelector>(e).vs, out);
      break;
    case ExprKind::kSubquery:
      PreOrder(*As<promql::SubqueryExpr>(e).expr, out);
      break;
    case ExprKind::kCall:
      for (const auto& a : As<promql::Call>(e).args) PreOrder(*a, out);
      break;
    case ExprKind::kAggregate: {
      const auto& a = As<promql::AggregateExpr>(e);
      if (a.param) PreOrder(*a.param, out);
      PreOrder(*a.expr, out);
      break;
    }
    case ExprKind::kBinary:
      PreOrder(*As<promql::BinaryExpr>(e).lhs, out);
      PreOrder(*As<promql::BinaryExpr>(e).rhs, out);
      break;
    case ExprKind::kUnary:
      PreOrder(*As<promql::UnaryExpr>(e).expr, out);
      break;
    case ExprKind::kParen:
      PreOrder(*As<promql::ParenExpr>(e).expr, out);
      break;
    default:
      break;
  }
}

bool UsesStartOrEnd(const promql::AtModifier& at) {
  return at.kind == promql::AtModifier::Kind::kStart || at.kind == promql::AtModifier::Kind::kEnd;
}

// `@ start()` and `@ end()` refer to the whole query's range: such queries are not split.
bool Splittable(const std::vector<const Expr*>& nodes) {
  for (const Expr* n : nodes) {
    if (n->kind == ExprKind::kVectorSelector &&
        UsesStartOrEnd(As<promql::VectorSelector>(*n).at)) {
      return false;
    }
    if (n->kind == ExprKind::kSubquery && UsesStartOrEnd(As<promql::SubqueryExpr>(*n).at)) {
      return false;
    }
  }
  return true;
}

// Annotations point at the node they concern. Cached extents store the node's index
// (pos.end = -1) so a differently spelled query that normalizes the same gets positions
// in its own text.
constexpr int kNodeRef = -1;

promql::Annotations ToNodeRefs(const promql::Annotations& a, const std::vector<const Expr*>& nodes) {
  auto convert = [&](const promql::Annotations::Entry& e) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i]->pos.start == e.pos.start && nodes[i]->pos.end == e.pos.end) {
        return promql::Annotations::Entry{e.message, {static_cast<int>(i), kNodeRef}};
      }
    }
    return e;
  };
  promql::Annotations out;
  for (const auto& e : a.warnings()) out.AddWarningEntry(convert(e));
  for (const auto& e : a.infos()) out.AddInfoEntry(convert(e));
  return out;
}

promql::Annotations FromNodeRefs(const promql::Annotations& a,
                                 const std::vector<const Expr*>& nodes) {
  auto convert = [&](const promql::Annotations::Entry& e) {
    if (e.pos.end == kNodeRef && e.pos.start >= 0 &&
        static_cast<size_t>(e.pos.start) < nodes.size()) {
      return promql::Annotations::Entry{e.message, nodes[static_cast<size_t>(e.pos.start)]->pos};
    }
    return e;
  };
  promql::Annotations out;
  for (const auto& e : a.warnings()) out.AddWarningEntry(convert(e));
  for (const auto& e : a.infos()) out.AddInfoEntry(convert(e));
  return out;
}

// Keeps the points of `e` in [from, to]; series left without points go.
Extent Slice(const Extent& e, int64_t from, int64_t to) {
  Extent out;
  out.from = from;
  out.to = to;
  out.annotations = e.annotations;
  out.samples = e.samples;
  for (const auto& s : e.series) {
    auto lo = std::lower_bound(s.points.begin(), s.points.end(), from,
                               [](const Sample& p, int64_t t) { return p.t < t; });
    auto hi = std::upper_bound(s.points.begin(), s.points.end(), to,
                               [](int64_t t, const Sample& p) { return t < p.t; });
    if (lo == hi) continue;
    out.series.push_back({s.labels, std::vector<Sample>(lo, hi)});
  }
  return out;
}

// Joins extents that follow each other in time (in order) into one over their union.
Extent Join(std::vector<Extent> parts) {
  Extent out;
  out.from = parts.front().from;
  out.to = parts.back().to;
  std::map<Labels, std::vector<Sample>> series;
  for (auto& p : parts) {
    out.annotations.Merge(p.annotations);
    out.samples += p.samples;
    for (auto& s : p.series) {
      auto& pts = series[std::move(s.labels)];
      pts.insert(pts.end(), s.points.begin(), s.points.end());
    }
  }
  out.series.reserve(series.size());
  for (auto& [labels, points] : series) out.series.push_back({labels, std::move(points)});
  return out;
}

// Counts the series a query selects, failing once it passes the tenant's max_series.
class SeriesLimitQuerier : public query::Querier {
 public:
  SeriesLimitQuerier(const query::Querier& inner, uint64_t max_series)
      : inner_(inner), max_series_(max_series) {}

  Result<std::unique_ptr<query::SeriesSet>> Select(
      const query::SelectParams& p, std::span<const Matcher> matchers) const override {
    auto set = inner_.Select(p, matchers);
    if (set.ok() && (selected_ += set.value()->size()) > max_series_) {
      return Status::ResourceExhausted(
          fmt::format("the query selected more than {} series (limit: query.max_series)",
                      max_series_));
    }
    return set;
  }
  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     std::span<const Matcher> m) const override {
    return inner_.Series(mint, maxt, m);
  }
  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              std::span<const Matcher> m) const override {
    return inner_.LabelNames(mint, maxt, m);
  }
  Result<std::vector<std::string>> LabelValues(std::string_view name, int64_t mint,
                                               int64_t maxt,
                                               std::span<const Matcher> m) const override {
    return inner_.LabelValues(name, mint, maxt, m);
  }

 private:
  const query::Querier& inner_;
  const uint64_t max_series_;
  mutable std::atomic<uint64_t> selected_{0};
};

// Series the query's selectors pick over [start, end] (an upper bound of its width).
Result<uint64_t> SelectedSeries(const std::vector<const Expr*>& nodes, const query::Querier& q,
                                int64_t start, int64_t end) {
  uint64_t n = 0;
  for (const Expr* e : nodes) {
    if (e->kind != ExprKind::kVectorSelector) continue;
    const auto& vs = As<promql::VectorSelector>(*e);
    auto series = q.Series(start - vs.offset_ms, end - vs.offset_ms, vs.matchers);
    if (!series.ok()) return series.status();
    n += series->size();
  }
  return n;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

QueryFrontend::QueryFrontend(FrontendOptions opts, const promql::Engine& engine,
                             FairScheduler& scheduler, std::unique_ptr<Cache> cache)
    : opts_(std::move(opts)), engine_(engine), scheduler_(scheduler), cache_(std::move(cache)) {}

promql::QueryControl QueryFrontend::ControlFor(const QueryLimits& l,
                                               promql::QueryControl ctl) const {
  if (l.timeout_ms > 0) {
    // One deadline for the whole query, however many sub-queries it becomes.
    ctl.timeout_ms = l.timeout_ms;
    ctl.deadline = std::min(ctl.deadline, std::chrono::steady_clock::now() +
                                              std::chrono::milliseconds(l.timeout_ms));
  }
  if (l.max_samples > 0) ctl.max_samples = l.max_samples;
  return ctl;
}

Result<promql::QueryResult> QueryFrontend::Instant(const std::string& tenant,
                                                   const promql::Expr& expr, int64_t t_ms,
                                                   const query::Querier& querier,
                                                   promql::QueryControl ctl) const {
  const QueryLimits& l = opts_.LimitsFor(tenant);
  if (l.max_series == 0) return engine_.Instant(querier, expr, t_ms, ControlFor(l, ctl));
  SeriesLimitQuerier limited(querier, l.max_series);
  return engine_.Instant(limited, expr, t_ms, ControlFor(l, ctl));
}

std::vector<QueryFrontend::Split> QueryFrontend::Splits(int64_t start, int64_t end,
                                                        int64_t step) const {
  std::vector<Split> out;
  int64_t interval = opts_.split_interval_ms;
  if (interval <= 0) return {{start, end, 0}};
  for (int64_t first = start; first <= end;) {
    int64_t bucket = FloorDiv(first, interval) * interval;
    int64_t limit = std::min(end, bucket + interval - 1);
    int64_t last = first + (limit - first) / step * step;
    out.push_back({first, last, bucket});
    if (last > end - step) break;
    first = last + step;
  }
  return out;
}

Result<Extent> QueryFrontend::Eval(const RangeQuery& q, int64_t first, int64_t last,
                                   const query::Querier& querier,
                                   const promql::QueryControl& ctl, QueryStats& stats) const {
  const QueryLimits& l = opts_.LimitsFor(q.tenant);
  std::optional<SeriesLimitQuerier> limited;
  if (l.max_series > 0) limited.emplace(querier, l.max_series);
  const query::Querier& use = limited ? static_cast<const query::Querier&>(*limited) : querier;
  auto r = engine_.Range(use, *q.expr, first, last, q.step_ms, ctl);
  if (!r.ok()) return r.status();
  stats.peak_samples = std::max(stats.peak_samples, r->peak_samples);
  Extent e;
  e.from = first;
  e.to = last;
  e.series = std::move(r->series);
  e.annotations = std::move(r->annotations);
  e.samples = r->samples_loaded;
  return e;
}

Result<Extent> QueryFrontend::RunSplit(const RangeQuery& q, const std::string& key, const Split& s,
                                       const query::Querier& querier,
                                       const promql::QueryControl& ctl, int64_t fresh_limit,
                                       QueryStats& stats) const {
  // Only settled data is cached: nothing after fresh_limit.
  bool cacheable = cache_ != nullptr && !key.empty() && s.first <= fresh_limit;
  std::optional<Extent> cached;
  std::vector<const Expr*> nodes;
  if (cacheable) {
    PreOrder(*q.expr, nodes);
    if (auto bytes = cache_->Get(key)) {
      auto e = DecodeExtent(*bytes);
      // Used when it overlaps or touches the split; else the split replaces it.
      if (e.ok() && e->from <= s.last + q.step_ms && e->to >= s.first - q.step_ms) {
        cached = std::move(e).value();
        cached->annotations = FromNodeRefs(cached->annotations, nodes);
      } else if (!e.ok()) {
        spdlog::warn("msg=\"results cache entry unreadable\" err=\"{}\"", e.status().message());
      }
    }
  }
  if (cached && cached->from <= s.first && cached->to >= s.last) {
    ++stats.cached_splits;
    return Slice(*cached, s.first, s.last);
  }
  std::vector<Extent> parts;
  if (cached) {
    ++stats.partial_splits;
    if (s.first < cached->from) {
      ASSIGN_OR_RETURN(Extent before,
                       Eval(q, s.first, cached->from - q.step_ms, querier, ctl, stats));
      parts.push_back(std::move(before));
    }
    parts.push_back(std::move(*cached));
    if (s.last > parts.back().to) {
      ASSIGN_OR_RETURN(Extent after,
                       Eval(q, parts.back().to + q.step_ms, s.last, querier, ctl, stats));
      parts.push_back(std::move(after));
    }
  } else {
    ASSIGN_OR_RETURN(Extent all, Eval(q, s.first, s.last, querier, ctl, stats));
    parts.push_back(std::move(all));
  }
  Extent joined = parts.size() == 1 ? std::move(parts[0]) : Join(std::move(parts));
  if (cacheable) {
    int64_t settled = std::min(joined.to, joined.from + (fresh_limit - joined.from) / q.step_ms *
                                                            q.step_ms);
    Extent keep = settled == joined.to ? joined : Slice(joined, joined.from, settled);
    keep.annotations = ToNodeRefs(keep.annotations, nodes);
    cache_->Set(key, EncodeExtent(keep));
  }
  return Slice(joined, s.first, s.last);
}

Result<promql::QueryResult> QueryFrontend::Range(const RangeQuery& q_in,
                                                 const query::Querier& querier,
                                                 QueryStats* stats) const {
  auto began = std::chrono::steady_clock::now();
  RangeQuery q = q_in;
  const QueryLimits& l = opts_.LimitsFor(q.tenant);
  if (l.max_query_length_ms > 0 && q.end_ms - q.start_ms > l.max_query_length_ms) {
    return Status::InvalidArgument(
        fmt::format("the query time range exceeds the limit (query length: {}, limit "
                    "query.max_query_length: {})",
                    FormatDurationMillis(q.end_ms - q.start_ms),
                    FormatDurationMillis(l.max_query_length_ms)));
  }
  std::vector<const Expr*> nodes;
  PreOrder(*q.expr, nodes);
  QueryStats local;
  QueryStats& st = stats != nullptr ? *stats : local;

  // Adaptive resolution: fit steps x series into the tenant's budget by widening the step.
  std::string adapted;
  if (q.adaptive.value_or(l.adaptive_resolution) && l.max_points > 0) {
    ASSIGN_OR_RETURN(uint64_t series, SelectedSeries(nodes, querier, q.start_ms, q.end_ms));
    auto steps = static_cast<uint64_t>((q.end_ms - q.start_ms) / q.step_ms + 1);
    uint64_t points = steps * std::max<uint64_t>(series, 1);
    if (points > l.max_points) {
      uint64_t factor = (points + l.max_points - 1) / l.max_points;
      int64_t wider = q.step_ms * static_cast<int64_t>(factor);
      adapted = fmt::format(
          "Strata: step widened from {} to {}: {} steps x {} series exceed the tenant's budget "
          "of {} points (query.max_points); ask with adaptive=false for full resolution",
          FormatDurationMillis(q.step_ms), FormatDurationMillis(wider), steps, series,
          l.max_points);
      q.step_ms = wider;
    }
  }
  st.step_ms = q.step_ms;

  promql::QueryControl ctl = ControlFor(l, q.ctl);
  bool split = Splittable(nodes);
  std::vector<Split> splits =
      split ? Splits(q.start_ms, q.end_ms, q.step_ms)
            : std::vector<Split>{{q.start_ms, q.end_ms, 0}};
  st.splits = splits.size();
  // The cache key: everything the answer depends on but the time range.
  std::string prefix;
  if (split && cache_ != nullptr) {
    int64_t phase = ((q.start_ms % q.step_ms) + q.step_ms) % q.step_ms;
    prefix = fmt::format("v1\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f", q.tenant, q.resolution,
                         q.step_ms, phase, q.expr->String());
  }
  int64_t fresh_limit = NowMillis() - opts_.max_freshness_ms;

  // Unset: not run, because an earlier split failed or the client went away.
  std::vector<std::optional<Result<Extent>>> results(splits.size());
  std::atomic<bool> failed{false};
  std::mutex stats_mu;
  std::vector<std::function<void()>> tasks;
  tasks.reserve(splits.size());
  for (size_t i = 0; i < splits.size(); ++i) {
    tasks.emplace_back([&, i] {
      if (failed.load() || (ctl.cancelled != nullptr && ctl.cancelled->load())) return;
      QueryStats mine;
      std::string key =
          prefix.empty() ? std::string() : prefix + std::to_string(splits[i].bucket);
      results[i] = RunSplit(q, key, splits[i], querier, ctl, fresh_limit, mine);
      if (!results[i]->ok()) failed = true;
      std::lock_guard lk(stats_mu);
      st.cached_splits += mine.cached_splits;
      st.partial_splits += mine.partial_splits;
      st.peak_samples = std::max(st.peak_samples, mine.peak_samples);
    });
  }
  size_t parallel =
      opts_.max_parallel_splits != 0 ? opts_.max_parallel_splits : scheduler_.workers();
  scheduler_.RunGroup(q.tenant, std::move(tasks), parallel);

  std::vector<Extent> parts;
  parts.reserve(results.size());
  for (auto& r : results) {
    if (r && !r->ok()) return r->status();  // the first failure in time order
  }
  for (auto& r : results) {
    if (!r) return Status::Cancelled("query cancelled");
    parts.push_back(std::move(*r).value());
  }
  Extent all = parts.size() == 1 ? std::move(parts[0]) : Join(std::move(parts));
  promql::QueryResult res;
  res.type = promql::ValueType::kMatrix;
  res.series = std::move(all.series);
  res.annotations = std::move(all.annotations);
  res.samples_loaded = all.samples;
  res.peak_samples = st.peak_samples;
  if (!adapted.empty()) st.infos.push_back(std::move(adapted));
  st.samples = res.samples_loaded;
  st.series = res.series.size();
  st.exec = std::chrono::steady_clock::now() - began;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(st.exec).count();
  if (opts_.slow_query_ms > 0 && ms >= opts_.slow_query_ms) {
    spdlog::warn(
        "msg=\"slow query\" tenant={} query=\"{}\" start={} end={} step_ms={} duration_ms={} "
        "samples={} series={} splits={} cached_splits={} partial_splits={}",
        q.tenant, q.text, q.start_ms, q.end_ms, q.step_ms, ms, st.samples, st.series, st.splits,
        st.cached_splits, st.partial_splits);
  }
  return res;
}

}  // namespace strata::frontend
