// histogram_quantile() and histogram_fraction() over native histograms and classic
// (le-labelled) bucket series.

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
    // Only float samples are classic buckets; a series of native histograms has no le.
    if (std::none_of(in[k].v.begin(), in[k].v.end(), IsPresent)) continue;
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

bool GroupHasValueAt(const BucketGroup& grp, const StepVector& in, size_t i) {
  return std::any_of(grp.members.begin(), grp.members.end(),
                     [&](const auto& m) { return IsPresent(in[m.first].v[i]); });
}

// Evaluates a histogram function over `in`: `native(h, i, name)` for each native histogram,
// `classic(buckets, i, group)` for each group of classic buckets, per step. Where a native
// histogram and classic buckets share a label set at a step, neither gives a value and a
// warning says so (Prometheus's resetHistograms).
template <typename NativeFn, typename ClassicFn>
StepVector PerHistogram(Evaluator& ev, const StepVector& in, const Expr& arg, const Grid& g,
                        NativeFn native, ClassicFn classic) {
  std::vector<BucketGroup> groups = GroupBuckets(ev, in, arg);
  std::unordered_map<std::string, size_t> by_labels;
  for (size_t k = 0; k < groups.size(); ++k) by_labels.emplace(FormatLabels(groups[k].labels), k);
  std::vector<std::vector<bool>> mixed(groups.size());
  StepVector out;
  for (const StepSeries& s : in) {
    if (!s.has_histograms()) continue;
    StepSeries o;
    o.labels = s.labels;
    o.drop_name = true;
    o.v.assign(g.n, Absent());
    auto grp = by_labels.find(FormatLabels(s.labels));
    std::string_view name = GetLabel(ViewOf(s.labels), kMetricNameLabel);
    for (size_t i = 0; i < g.n; ++i) {
      const histogram::FloatHistogram* h = s.H(i);
      if (h == nullptr) continue;
      if (grp != by_labels.end() && GroupHasValueAt(groups[grp->second], in, i)) {
        ev.annotations().Warn(
            fmt::format("vector contains a mix of classic and native histograms for metric name {}",
                        GoQuote(name)),
            arg.pos);
        if (mixed[grp->second].empty()) mixed[grp->second].resize(g.n);
        mixed[grp->second][i] = true;
        continue;
      }
      o.v[i] = native(*h, i, name);
    }
    out.push_back(std::move(o));
  }
  std::vector<Bucket> buckets;
  for (size_t k = 0; k < groups.size(); ++k) {
    const BucketGroup& grp = groups[k];
    StepSeries s;
    s.labels = grp.labels;
    s.drop_name = true;
    s.v.assign(g.n, Absent());
    for (size_t i = 0; i < g.n; ++i) {
      if (!mixed[k].empty() && mixed[k][i]) continue;
      buckets.clear();
      for (const auto& [m, upper] : grp.members) {
        if (IsPresent(in[m].v[i])) buckets.push_back({upper, in[m].v[i]});
      }
      if (!buckets.empty()) s.v[i] = classic(buckets, i, grp);
    }
    out.push_back(std::move(s));
  }
  DropEmpty(out);
  return out;
}

// Prometheus's HistogramQuantile for a native histogram: the bucket holding the rank (from
// the top for q >= 0.5 unless the sum is NaN), interpolated linearly in the zero bucket and
// custom buckets and exponentially in exponential ones.
double NativeQuantile(Evaluator& ev, const Call& c, double q, const histogram::FloatHistogram& h,
                      std::string_view name) {
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  if (h.count == 0 || std::isnan(q)) return CanonicalNaN();
  const bool forward = std::isnan(h.sum) || q < 0.5;
  const std::vector<histogram::Bucket> all = forward ? h.AllBuckets() : h.AllBucketsReverse();
  double rank = forward ? q * h.count : (1 - q) * h.count;
  histogram::Bucket bucket;
  double count = 0;
  size_t next = 0;
  while (next < all.size()) {
    bucket = all[next++];
    if (bucket.count == 0) continue;
    count += bucket.count;
    if (count >= rank) break;
  }
  if (!h.UsesCustomBuckets() && bucket.lower < 0 && bucket.upper > 0) {
    if (h.negative_buckets.empty() && !h.positive_buckets.empty()) {
      bucket.lower = 0;
    } else if (h.positive_buckets.empty() && !h.negative_buckets.empty()) {
      bucket.upper = 0;
    }
  } else if (h.UsesCustomBuckets()) {
    if (bucket.lower == -HUGE_VAL) {
      if (bucket.upper <= 0) return bucket.upper;
      bucket.lower = 0;
    } else if (bucket.upper == HUGE_VAL) {
      return bucket.lower;
    }
  }
  count = std::min(count, h.count);
  if (count < rank) {
    if (std::isnan(h.sum)) {
      ev.annotations().Info(
          fmt::format("input to histogram_quantile has NaN observations, result is NaN for "
                      "metric name {}",
                      GoQuote(name)),
          c.args[0]->pos);
      return CanonicalNaN();
    }
    return bucket.upper;
  }
  if (forward) {
    rank -= count - bucket.count;
  } else {
    rank = count - rank;
  }
  if (std::isnan(h.sum)) {
    for (; next < all.size(); ++next) count += all[next].count;
    if (count < h.count) {
      ev.annotations().Info(
          fmt::format("input to histogram_quantile has NaN observations, result is skewed higher "
                      "for metric name {}",
                      GoQuote(name)),
          c.args[0]->pos);
    }
  }
  double fraction = rank / bucket.count;
  if (h.UsesCustomBuckets() || (bucket.lower <= 0 && bucket.upper >= 0)) {
    return bucket.lower + (bucket.upper - bucket.lower) * fraction;
  }
  double log_lower = std::log2(std::fabs(bucket.lower));
  double log_upper = std::log2(std::fabs(bucket.upper));
  if (bucket.lower > 0) return std::exp2(log_lower + (log_upper - log_lower) * fraction);
  return -std::exp2(log_upper + (log_lower - log_upper) * (1 - fraction));
}

// Prometheus's HistogramFraction for a native histogram.
double NativeFraction(Evaluator& ev, const Call& c, double lower, double upper,
                      const histogram::FloatHistogram& h, std::string_view name) {
  if (h.count == 0 || std::isnan(lower) || std::isnan(upper)) return CanonicalNaN();
  if (lower >= upper) return 0;
  double count = 0, rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  const std::vector<histogram::Bucket> all = h.AllBuckets();
  size_t next = 0;
  while (next < all.size()) {
    histogram::Bucket b = all[next++];
    count += b.count;
    bool zero_bucket = false;
    if (b.lower <= 0 && b.upper >= 0) {
      zero_bucket = true;
      if (h.negative_buckets.empty() && !h.positive_buckets.empty()) {
        b.lower = 0;
      } else if (h.positive_buckets.empty() && !h.negative_buckets.empty()) {
        b.upper = 0;
      }
    }
    auto interpolate = [&](double v) {
      if (h.UsesCustomBuckets() || zero_bucket) {
        return rank + b.count * (v - b.lower) / (b.upper - b.lower);
      }
      double log_lower = std::log2(std::fabs(b.lower));
      double log_upper = std::log2(std::fabs(b.upper));
      double log_v = std::log2(std::fabs(v));
      double fraction = v > 0 ? (log_v - log_lower) / (log_upper - log_lower)
                              : 1 - ((log_v - log_upper) / (log_lower - log_upper));
      return rank + b.count * fraction;
    };
    if (!lower_set && b.lower >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && b.lower >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && b.lower < lower && b.upper > lower) {
      lower_rank = interpolate(lower);
      lower_set = true;
    }
    if (!upper_set && b.lower < upper && b.upper > upper) {
      upper_rank = interpolate(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank += b.count;
  }
  if (std::isnan(h.sum)) {
    for (; next < all.size(); ++next) count += all[next].count;
    if (count < h.count) {
      ev.annotations().Info(
          fmt::format("input to histogram_fraction has NaN observations, which are excluded from "
                      "all fractions for metric name {}",
                      GoQuote(name)),
          c.args[0]->pos);
    }
  } else {
    count = h.count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / h.count;
}

}  // namespace

StepVector HistogramQuantile(Evaluator& ev, const Call& c, const std::vector<double>& phi,
                             const StepVector& in, const Grid& g) {
  if (!in.empty()) {
    for (double q : phi) {
      if (std::isnan(q) || q < 0 || q > 1) {
        ev.annotations().Warn(
            fmt::format("quantile value should be between 0 and 1, got {}", FormatFloatF(q)),
            c.args[0]->pos);
      }
    }
  }
  return PerHistogram(
      ev, in, *c.args[1], g,
      [&](const histogram::FloatHistogram& h, size_t i, std::string_view name) {
        return NativeQuantile(ev, c, phi[i], h, name);
      },
      [&](std::vector<Bucket>& b, size_t i, const BucketGroup& grp) {
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
  return PerHistogram(
      ev, in, *c.args[2], g,
      [&](const histogram::FloatHistogram& h, size_t i, std::string_view name) {
        return NativeFraction(ev, c, lower[i], upper[i], h, name);
      },
      [&](std::vector<Bucket>& b, size_t i, const BucketGroup&) {
        return BucketFraction(lower[i], upper[i], b);
      });
}

}  // namespace strata::promql::internal
