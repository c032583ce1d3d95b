// histogram_quantile() and histogram_fraction() over classic (le-labelled) bucket series.

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "base/units.h"
#include "promql/eval.h"

namespace strata::promql::internal {

namespace {

constexpr std::string_view kBucketLabel = "le";

struct Bucket {
  double upper;
  double count;
};

bool AlmostEqual(double a, double b, double epsilon) {
  if (a == b) return true;
  constexpr double kMinNormal = 2.2250738585072014e-308;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < epsilon * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < epsilon;
}

// Sorts, merges equal bounds; false if there is no +Inf bucket.
bool Prepare(std::vector<Bucket>& b) {
  std::sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) { return x.upper < y.upper; });
  if (b.empty() || !(std::isinf(b.back().upper) && b.back().upper > 0)) return false;
  size_t w = 0;
  for (size_t k = 1; k < b.size(); ++k) {
    if (b[k].upper == b[w].upper) {
      b[w].count += b[k].count;
    } else {
      b[++w] = b[k];
    }
  }
  b.resize(w + 1);
  return true;
}

// Returns whether counts had to be raised to make them monotonic.
bool EnsureMonotonic(std::vector<Bucket>& b) {
  bool forced = false;
  double prev = b[0].count;
  for (size_t k = 1; k < b.size(); ++k) {
    double cur = b[k].count;
    if (cur == prev) continue;
    if (AlmostEqual(prev, cur, 1e-12)) {
      b[k].count = prev;
      continue;
    }
    if (cur < prev) {
      b[k].count = prev;
      forced = true;
      continue;
    }
    prev = cur;
  }
  return forced;
}

double BucketQuantile(double q, std::vector<Bucket>& b, bool* forced) {
  if (std::isnan(q)) return CanonicalNaN();
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  if (!Prepare(b)) return CanonicalNaN();
  *forced = EnsureMonotonic(b);
  if (b.size() < 2) return CanonicalNaN();
  double observations = b.back().count;
  if (observations == 0) return CanonicalNaN();
  double rank = q * observations;
  size_t idx =
      static_cast<size_t>(std::lower_bound(b.begin(), b.end() - 1, rank,
                                           [](const Bucket& x, double r) { return x.count < r; }) -
                          b.begin());
  if (idx == b.size() - 1) return b[b.size() - 2].upper;
  if (idx == 0 && b[0].upper <= 0) return b[0].upper;
  double start = 0;
  double end = b[idx].upper;
  double count = b[idx].count;
  if (idx > 0) {
    start = b[idx - 1].upper;
    count -= b[idx - 1].count;
    rank -= b[idx - 1].count;
  }
  return start + (end - start) * (rank / count);
}

double BucketFraction(double lower, double upper, std::vector<Bucket>& b) {
  if (!Prepare(b)) return CanonicalNaN();
  double count = b.back().count;
  if (count == 0 || std::isnan(lower) || std::isnan(upper)) return CanonicalNaN();
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < b.size(); ++i) {
    // The first bucket starts at 0 when its upper bound is positive, as histogram_quantile
    // assumes; otherwise at -Inf.
    double lb = i > 0 ? b[i - 1].upper : (b[0].upper > 0 ? 0 : -HUGE_VAL);
    double ub = b[i].upper;
    auto interpolate = [&](double v) {
      if (std::isinf(lb) || std::isinf(ub)) return v <= lb ? rank : b[i].count;
      return rank + (b[i].count - rank) * (v - lb) / (ub - lb);
    };
    if (!lower_set && lb >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lb >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lb < lower && ub > lower) {
      lower_rank = interpolate(lower);
      lower_set = true;
    }
    if (!upper_set && lb < upper && ub > upper) {
      upper_rank = interpolate(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = b[i].count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

struct BucketGroup {
  Labels labels;
  std::vector<std::pair<size_t, double>> members;  // input index, upper bound
};

std::vector<BucketGroup> GroupBuckets(Evaluator& ev, const StepVector& in, const Expr& arg) {
  std::vector<BucketGroup> groups;
  std::unordered_map<std::string, size_t> index;
  for (size_t k = 0; k < in.size(); ++k) {
    auto views = ViewOf(in[k].labels);
    std::string le(GetLabel(views, kBucketLabel));
    char* end = nullptr;
    double upper = std::strtod(le.c_str(), &end);
    if (le.empty() || *end != '\0') {
      ev.annotations().Warn(
          fmt::format("bucket label \"le\" is missing or has a malformed value of {} for metric "
                      "name {}",
                      GoQuote(le), GoQuote(GetLabel(views, kMetricNameLabel))),
          arg.pos);
      continue;
    }
    Labels ls;
    for (const auto& l : in[k].labels) {
      if (l.name != kBucketLabel) ls.push_back(l);
    }
    std::string key = FormatLabels(ls);
    auto [it, inserted] = index.emplace(key, groups.size());
    if (inserted) groups.push_back({std::move(ls), {}});
    groups[it->second].members.emplace_back(k, upper);
  }
  return groups;
}

template <typename Fn>
StepVector PerGroup(const std::vector<BucketGroup>& groups, const StepVector& in, const Grid& g,
                    Fn fn) {
  StepVector out;
  std::vector<Bucket> buckets;
  for (const auto& grp : groups) {
    StepSeries s;
    s.labels = grp.labels;
    s.drop_name = true;
    s.v.assign(g.n, Absent());
    for (size_t i = 0; i < g.n; ++i) {
      buckets.clear();
      for (const auto& [k, upper] : grp.members) {
        if (IsPresent(in[k].v[i])) buckets.push_back({upper, in[k].v[i]});
      }
      if (!buckets.empty()) s.v[i] = fn(buckets, i, grp);
    }
    out.push_back(std::move(s));
  }
  DropEmpty(out);
  return out;
}

}  // namespace

StepVector HistogramQuantile(Evaluator& ev, const Call& c, const std::vector<double>& phi,
                             const StepVector& in, const Grid& g) {
  auto groups = GroupBuckets(ev, in, *c.args[1]);
  if (!groups.empty()) {
    for (double q : phi) {
      if (std::isnan(q) || q < 0 || q > 1) {
        ev.annotations().Warn(
            fmt::format("quantile value should be between 0 and 1, got {}", FormatFloatF(q)),
            c.args[0]->pos);
      }
    }
  }
  return PerGroup(groups, in, g, [&](std::vector<Bucket>& b, size_t i, const BucketGroup& grp) {
    bool forced = false;
    double v = BucketQuantile(phi[i], b, &forced);
    if (forced) {
      ev.annotations().Info(
          fmt::format("input to histogram_quantile needed to be fixed for monotonicity (see "
                      "https://prometheus.io/docs/prometheus/latest/querying/functions/"
                      "#histogram_quantile) for metric name {}",
                      GoQuote(GetLabel(ViewOf(grp.labels), kMetricNameLabel))),
          c.args[1]->pos);
    }
    return v;
  });
}

StepVector HistogramFraction(Evaluator& ev, const Call& c, const std::vector<double>& lower,
                             const std::vector<double>& upper, const StepVector& in,
                             const Grid& g) {
  auto groups = GroupBuckets(ev, in, *c.args[2]);
  return PerGroup(groups, in, g, [&](std::vector<Bucket>& b, size_t i, const BucketGroup&) {
    return BucketFraction(lower[i], upper[i], b);
  });
}

}  // namespace strata::promql::internal
