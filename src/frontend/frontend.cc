#include "frontend/frontend.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "base/math.h"
#include "base/mutex.h"
#include "base/units.h"

namespace strata::frontend {
namespace {

using promql::As;
using promql::Expr;
using promql::ExprKind;

bool UsesStartOrEnd(const promql::AtModifier& at) {
  return at.kind == promql::AtModifier::Kind::kStart || at.kind == promql::AtModifier::Kind::kEnd;
}

// `@ start()` and `@ end()` refer to the whole query's range: such queries are not split.
bool Splittable(const std::vector<const Expr*>& nodes) {
  for (const Expr* n : nodes) {
    if (n->kind == ExprKind::kVectorSelector && UsesStartOrEnd(As<promql::VectorSelector>(*n).at)) {
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

// The annotations with every entry's position replaced by fn(entry).
template <typename Fn>
promql::Annotations MapPositions(const promql::Annotations& a, Fn fn) {
  promql::Annotations out;
  for (const auto& e : a.warnings()) out.AddWarningEntry({e.message, fn(e.pos)});
  for (const auto& e : a.infos()) out.AddInfoEntry({e.message, fn(e.pos)});
  return out;
}

promql::Annotations ToNodeRefs(const promql::Annotations& a,
                               const std::vector<const Expr*>& nodes) {
  return MapPositions(a, [&](promql::PosRange pos) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i]->pos.start == pos.start && nodes[i]->pos.end == pos.end) {
        return promql::PosRange{static_cast<int>(i), kNodeRef};
      }
    }
    return pos;
  });
}

promql::Annotations FromNodeRefs(const promql::Annotations& a,
                                 const std::vector<const Expr*>& nodes) {
  return MapPositions(a, [&](promql::PosRange pos) {
    if (pos.end == kNodeRef && pos.start >= 0 && static_cast<size_t>(pos.start) < nodes.size()) {
      return nodes[static_cast<size_t>(pos.start)]->pos;
    }
    return pos;
  });
}

// Keeps the points of `e` in [from, to]; series left without points go.
Extent Slice(const Extent& e, int64_t from, int64_t to) {
  Extent out;
  out.from = from;
  out.to = to;
  out.annotations = e.annotations;
  auto slice = [&](const auto& points) {
    auto lo = std::lower_bound(points.begin(), points.end(), from,
                               [](const auto& p, int64_t t) { return p.t < t; });
    auto hi = std::upper_bound(points.begin(), points.end(), to,
                               [](int64_t t, const auto& p) { return t < p.t; });
    return std::decay_t<decltype(points)>(lo, hi);
  };
  for (const auto& s : e.series) {
    promql::ResultSeries cut{s.labels, slice(s.points), slice(s.histograms)};
    if (cut.points.empty() && cut.histograms.empty()) continue;
    out.series.push_back(std::move(cut));
  }
  return out;
}

// Joins extents that follow each other in time (in order) into one over their union.
Extent Join(std::vector<Extent> parts) {
  Extent out;
  out.from = parts.front().from;
  out.to = parts.back().to;
  std::map<Labels, promql::ResultSeries> series;
  for (auto& p : parts) {
    out.annotations.Merge(p.annotations);
    for (auto& s : p.series) {
      auto& joined = series[s.labels];
      joined.points.insert(joined.points.end(), s.points.begin(), s.points.end());
      joined.histograms.insert(joined.histograms.end(), s.histograms.begin(), s.histograms.end());
    }
  }
  out.series.reserve(series.size());
  for (auto& [labels, joined] : series) {
    joined.labels = labels;
    out.series.push_back(std::move(joined));
  }
  return out;
}

// Counts the series a query selects, failing once it passes the tenant's max_series.
class SeriesLimitQuerier : public query::ForwardingQuerier {
 public:
  SeriesLimitQuerier(const query::Querier& inner, uint64_t max_series)
      : ForwardingQuerier(inner), max_series_(max_series) {}

  Result<std::unique_ptr<query::SeriesSet>> Select(
      const query::SelectParams& p, std::span<const Matcher> matchers) const override {
    auto set = ForwardingQuerier::Select(p, matchers);
    if (!set.ok()) return set;
    selected_ += set.value()->size();
    if (selected_ > max_series_) {
      return Status::LimitExceeded(fmt::format(
          "the query selected more than {} series (limit: query.max_series)", max_series_));
    }
    return set;
  }

 private:
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

}  // namespace

Extent TakeExtent(int64_t first, int64_t last, promql::QueryResult r, QueryStats& stats) {
  stats.samples += r.samples_loaded;
  stats.peak_samples = std::max(stats.peak_samples, r.peak_samples);
  stats.samples_per_step = std::move(r.samples_per_step);
  Extent e;
  e.from = first;
  e.to = last;
  e.series = std::move(r.series);
  e.annotations = std::move(r.annotations);
  return e;
}

RangeRunner::RangeRunner(FrontendOptions opts, FairScheduler& scheduler,
                         std::unique_ptr<Cache> cache, prometheus::Registry* registry)
    : opts_(opts), scheduler_(scheduler), cache_(std::move(cache)) {
  if (registry != nullptr) {
    splits_ = &prometheus::BuildCounter()
                   .Name("strata_query_frontend_splits_total")
                   .Help(
                       "Range-query splits by tenant and how the results cache answered them "
                       "(hit, partial, miss; uncacheable splits count as misses).")
                   .Register(*registry);
  }
}

QueryFrontend::QueryFrontend(const limits::TenantOverrides& limits,
                             const query::Queryable& queryable, const promql::Engine& engine,
                             const RangeRunner& runner)
    : limits_(limits), queryable_(queryable), engine_(engine), runner_(runner) {}

promql::QueryControl RangeRunner::ControlFor(const std::string& tenant,
                                             const limits::QueryLimits& l,
                                             promql::QueryControl ctl) const {
  ctl.yield = [this, tenant] { scheduler_.Yield(tenant); };
  if (l.timeout_ms > 0) {
    // One deadline for the whole query, however many sub-queries it becomes.
    ctl.timeout_ms = l.timeout_ms;
    ctl.deadline = std::min(
        ctl.deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(l.timeout_ms));
  }
  if (l.max_samples > 0) ctl.max_samples = l.max_samples;
  return ctl;
}

Result<std::unique_ptr<query::Querier>> QueryFrontend::QuerierFor(const std::string& tenant,
                                                                  const promql::Expr& expr,
                                                                  query::ReadHints hints,
                                                                  int64_t first,
                                                                  int64_t last) const {
  promql::TimeRange r = engine_.DataRange(expr, first, last);
  hints.mint = r.mint;
  hints.maxt = r.maxt;
  return queryable_.TenantQuerier(tenant, hints);
}

Result<promql::QueryResult> QueryFrontend::Instant(const std::string& tenant,
                                                   const promql::Expr& expr, int64_t t_ms,
                                                   const query::ReadHints& hints,
                                                   const promql::QueryControl& ctl) const {
  const limits::QueryLimits& l = limits_.For(tenant).query;
  ASSIGN_OR_RETURN(std::unique_ptr<query::Querier> querier,
                   QuerierFor(tenant, expr, hints, t_ms, t_ms));
  promql::QueryControl limited_ctl = runner_.ControlFor(tenant, l, ctl);
  if (l.max_series == 0) return engine_.Instant(*querier, expr, t_ms, limited_ctl);
  SeriesLimitQuerier limited(*querier, l.max_series);
  return engine_.Instant(limited, expr, t_ms, limited_ctl);
}

std::vector<RangeRunner::Split> RangeRunner::Splits(int64_t start, int64_t end,
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
                                   const promql::QueryControl& ctl, QueryStats& stats) const {
  const limits::QueryLimits& l = limits_.For(q.tenant).query;
  ASSIGN_OR_RETURN(std::unique_ptr<query::Querier> querier,
                   QuerierFor(q.tenant, *q.expr, q.hints, first, last));
  std::optional<SeriesLimitQuerier> limited;
  if (l.max_series > 0) limited.emplace(*querier, l.max_series);
  const query::Querier& use = limited ? static_cast<const query::Querier&>(*limited) : *querier;
  ASSIGN_OR_RETURN(auto r, engine_.Range(use, *q.expr, first, last, q.step_ms, ctl));
  return TakeExtent(first, last, std::move(r), stats);
}

Result<promql::QueryResult> QueryFrontend::Range(const RangeQuery& q_in, QueryStats* stats) const {
  RangeQuery q = q_in;
  const limits::QueryLimits& l = limits_.For(q.tenant).query;
  if (l.max_query_length_ms > 0 && q.end_ms - q.start_ms > l.max_query_length_ms) {
    return Status::InvalidArgument(fmt::format(
        "the query time range exceeds the limit (query length: {}, limit "
        "query.max_query_length: {})",
        FormatDurationMillis(q.end_ms - q.start_ms), FormatDurationMillis(l.max_query_length_ms)));
  }
  std::vector<const Expr*> nodes;
  promql::PreOrder(*q.expr, nodes);
  QueryStats local;
  QueryStats& st = stats != nullptr ? *stats : local;

  // Adaptive resolution: fit steps x series into the tenant's budget by widening the step.
  std::string adapted;
  if (q.adaptive.value_or(l.adaptive_resolution) && l.max_points > 0) {
    ASSIGN_OR_RETURN(std::unique_ptr<query::Querier> querier,
                     QuerierFor(q.tenant, *q.expr, q.hints, q.start_ms, q.end_ms));
    ASSIGN_OR_RETURN(uint64_t series, SelectedSeries(nodes, *querier, q.start_ms, q.end_ms));
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

  RangeJob job;
  job.tenant = q.tenant;
  job.text = q.text;
  job.start_ms = q.start_ms;
  job.end_ms = q.end_ms;
  job.step_ms = q.step_ms;
  job.splittable = Splittable(nodes);
  int64_t res = q.hints.max_resolution_ms;
  job.cache_key = fmt::format(
      "promql\x1f{}\x1f{}", res == query::ReadHints::kAutoResolution ? "auto" : std::to_string(res),
      q.expr->String());
  job.ctl = runner_.ControlFor(q.tenant, l, q.ctl);
  job.eval = [&](int64_t first, int64_t last, const promql::QueryControl& ctl, QueryStats& mine) {
    return Eval(q, first, last, ctl, mine);
  };
  job.to_cache = [&](const promql::Annotations& a) { return ToNodeRefs(a, nodes); };
  job.from_cache = [&](const promql::Annotations& a) { return FromNodeRefs(a, nodes); };
  auto r = runner_.Run(job, st);
  if (r.ok() && !adapted.empty()) st.infos.push_back(std::move(adapted));
  return r;
}

Result<promql::QueryResult> RangeRunner::Run(const RangeJob& q, QueryStats& st) const {
  auto began = std::chrono::steady_clock::now();
  const promql::QueryControl& ctl = q.ctl;
  std::vector<Split> splits = q.splittable ? Splits(q.start_ms, q.end_ms, q.step_ms)
                                           : std::vector<Split>{{q.start_ms, q.end_ms, 0}};
  st.splits = splits.size();
  // The cache key: everything the answer depends on but the time range.
  std::string prefix;
  if (q.splittable && cache_ != nullptr && !q.cache_key.empty()) {
    int64_t phase = ((q.start_ms % q.step_ms) + q.step_ms) % q.step_ms;
    prefix = fmt::format("v2\x1f{}\x1f{}\x1f{}\x1f{}\x1f", q.tenant, q.step_ms, phase, q.cache_key);
  }
  int64_t fresh_limit = NowMillis() - std::max(opts_.max_freshness_ms, q.settle_ms);
  const int64_t step = q.step_ms;

  // 1. What the cache has for each split, and the step ranges still to compute.
  struct Plan {
    std::string key;  // empty: not cacheable
    std::optional<Extent> cached;
    std::vector<std::pair<int64_t, int64_t>> missing;  // in time order
  };
  std::vector<Plan> plans(splits.size());
  for (size_t i = 0; i < splits.size(); ++i) {
    const Split& sp = splits[i];
    Plan& p = plans[i];
    // Only settled data is cached: nothing after fresh_limit.
    if (!prefix.empty() && sp.first <= fresh_limit) p.key = prefix + std::to_string(sp.bucket);
    if (!p.key.empty()) {
      if (auto bytes = cache_->Get(p.key)) {
        auto e = DecodeExtent(*bytes);
        // Used when it overlaps or touches the split; else the split replaces it.
        if (e.ok() && e->from <= sp.last + step && e->to >= sp.first - step) {
          p.cached = std::move(e).value();
          if (q.from_cache) p.cached->annotations = q.from_cache(p.cached->annotations);
        } else if (!e.ok()) {
          spdlog::warn("msg=\"results cache entry unreadable\" err=\"{}\"", e.status().message());
        }
      }
    }
    if (!p.cached) {
      p.missing.emplace_back(sp.first, sp.last);
    } else if (p.cached->from <= sp.first && p.cached->to >= sp.last) {
      ++st.cached_splits;
    } else {
      ++st.partial_splits;
      if (sp.first < p.cached->from) p.missing.emplace_back(sp.first, p.cached->from - step);
      if (sp.last > p.cached->to) p.missing.emplace_back(p.cached->to + step, sp.last);
    }
  }

  if (splits_ != nullptr) {
    size_t misses = splits.size() - st.cached_splits - st.partial_splits;
    splits_->Add({{"tenant", q.tenant}, {"result", "hit"}})
        .Increment(static_cast<double>(st.cached_splits));
    splits_->Add({{"tenant", q.tenant}, {"result", "partial"}})
        .Increment(static_cast<double>(st.partial_splits));
    splits_->Add({{"tenant", q.tenant}, {"result", "miss"}}).Increment(static_cast<double>(misses));
  }

  // 2. Adjacent missing ranges are computed together, in about `parallel` pieces: a piece
  // per split would decode the data before each split boundary (the lookback and range
  // windows) twice.
  size_t parallel =
      opts_.max_parallel_splits != 0 ? opts_.max_parallel_splits : scheduler_.workers();
  int64_t total_steps = 0;
  for (const Plan& p : plans) {
    for (auto [a, b] : p.missing) total_steps += (b - a) / step + 1;
  }
  const int64_t target = std::max<int64_t>(
      1, (total_steps + static_cast<int64_t>(parallel) - 1) / static_cast<int64_t>(parallel));
  std::vector<std::pair<int64_t, int64_t>> pieces;
  for (const Plan& p : plans) {
    for (auto [a, b] : p.missing) {
      if (!pieces.empty() && pieces.back().second + step == a &&
          (pieces.back().second - pieces.back().first) / step + 1 < target) {
        pieces.back().second = b;
      } else {
        pieces.emplace_back(a, b);
      }
    }
  }
  st.subqueries = pieces.size();

  // 3. The pieces run in parallel in the tenant's turns. Unset: not run, because an earlier
  // piece failed or the client went away.
  std::vector<std::optional<Result<Extent>>> computed(pieces.size());
  std::atomic<bool> failed{false};
  Mutex stats_mu;
  std::vector<std::pair<int64_t, uint64_t>> read;  // samples read per evaluated step
  std::vector<std::function<void()>> tasks;
  tasks.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    tasks.emplace_back([&, i] {
      if (failed.load() || (ctl.cancelled != nullptr && ctl.cancelled->load())) return;
      QueryStats mine;
      computed[i] = q.eval(pieces[i].first, pieces[i].second, ctl, mine);
      if (!computed[i]->ok()) failed = true;
      MutexLock lk(stats_mu);
      st.samples += mine.samples;
      st.peak_samples = std::max(st.peak_samples, mine.peak_samples);
      read.insert(read.end(), mine.samples_per_step.begin(), mine.samples_per_step.end());
    });
  }
  scheduler_.RunGroup(q.tenant, std::move(tasks), parallel);
  for (auto& r : computed) {
    if (r && !r->ok()) return r->status();  // the first failure in time order
  }
  for (auto& r : computed) {
    if (!r) return Status::Cancelled("query cancelled");
  }

  // 4. Each split from its cached extent and the pieces; extents grown by new steps are
  // cached again. A piece's annotations go with every split it covers.
  auto piece_part = [&](int64_t a, int64_t b) {
    auto it = std::upper_bound(pieces.begin(), pieces.end(), a,
                               [](int64_t t, const auto& pc) { return t < pc.first; });
    return Slice(computed[static_cast<size_t>(it - pieces.begin() - 1)]->value(), a, b);
  };
  std::vector<Extent> parts;
  parts.reserve(splits.size());
  for (size_t i = 0; i < splits.size(); ++i) {
    const Split& sp = splits[i];
    Plan& p = plans[i];
    if (p.missing.empty()) {
      parts.push_back(Slice(*p.cached, sp.first, sp.last));
      continue;
    }
    std::vector<Extent> in_order;
    in_order.reserve(p.missing.size() + 1);
    for (auto [a, b] : p.missing) in_order.push_back(piece_part(a, b));
    if (p.cached) in_order.push_back(std::move(*p.cached));
    std::sort(in_order.begin(), in_order.end(),
              [](const Extent& x, const Extent& y) { return x.from < y.from; });
    Extent joined = in_order.size() == 1 ? std::move(in_order[0]) : Join(std::move(in_order));
    if (!p.key.empty()) {
      int64_t settled =
          std::min(joined.to, joined.from + (fresh_limit - joined.from) / step * step);
      Extent keep = settled == joined.to ? joined : Slice(joined, joined.from, settled);
      if (q.to_cache) keep.annotations = q.to_cache(keep.annotations);
      if (auto bytes = EncodeExtent(keep)) cache_->Set(p.key, *bytes);
    }
    parts.push_back(Slice(joined, sp.first, sp.last));
  }
  Extent all = parts.size() == 1 ? std::move(parts[0]) : Join(std::move(parts));
  promql::QueryResult res;
  res.type = promql::ValueType::kMatrix;
  res.series = std::move(all.series);
  res.annotations = std::move(all.annotations);
  res.samples_loaded = st.samples;
  res.peak_samples = st.peak_samples;
  // Per step of the whole range; steps answered from the cache read nothing.
  std::sort(read.begin(), read.end());
  auto next = read.begin();
  for (int64_t t = q.start_ms; t <= q.end_ms; t += step) {
    while (next != read.end() && next->first < t) ++next;
    res.samples_per_step.push_back({t, next != read.end() && next->first == t ? next->second : 0});
  }
  st.series = res.series.size();
  st.exec = std::chrono::steady_clock::now() - began;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(st.exec).count();
  if (opts_.slow_query_ms > 0 && ms >= opts_.slow_query_ms) {
    spdlog::warn(
        "msg=\"slow query\" tenant={} query=\"{}\" start={} end={} step_ms={} duration_ms={} "
        "samples={} series={} splits={} cached_splits={} partial_splits={} subqueries={}",
        q.tenant, q.text, q.start_ms, q.end_ms, q.step_ms, ms, st.samples, st.series, st.splits,
        st.cached_splits, st.partial_splits, st.subqueries);
  }
  return res;
}

}  // namespace strata::frontend
