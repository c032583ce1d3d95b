// Aggregation operators: series are grouped once, then each group is reduced step by step.

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "base/units.h"
#include "promql/eval.h"

namespace strata::promql::internal {

namespace {

struct Group {
  Labels labels;
  std::vector<size_t> members;  // indexes into the input, in input order
  bool drop_name = false;
};

// Assigns series to groups by their grouping labels; groups are numbered in the order their
// first member comes.
class Grouper {
 public:
  explicit Grouper(const AggregateExpr& a) : a_(a) {}

  // The number of s's group; a new group gets the next number.
  size_t Add(const StepSeries& s) {
    Labels gl;
    key_.clear();
    for (const auto& l : s.labels) {
      bool listed = std::find(a_.grouping.begin(), a_.grouping.end(), l.name) != a_.grouping.end();
      if (!(a_.without ? (!listed && l.name != kMetricNameLabel) : listed)) continue;
      key_ += l.name;
      key_.push_back('\xff');
      key_ += l.value;
      key_.push_back('\xff');
      gl.push_back(l);
    }
    auto [it, inserted] = index_.emplace(key_, groups_.size());
    if (inserted) groups_.push_back({std::move(gl), {}, false});
    groups_[it->second].drop_name |= s.drop_name;
    return it->second;
  }

  // The groups, each dropping its metric name only if it has one.
  std::vector<Group> Finish() {
    for (auto& grp : groups_) {
      bool has_name = std::any_of(grp.labels.begin(), grp.labels.end(),
                                  [](const Label& l) { return l.name == kMetricNameLabel; });
      grp.drop_name = grp.drop_name && has_name;
    }
    return std::move(groups_);
  }

 private:
  const AggregateExpr& a_;
  std::string key_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<Group> groups_;
};

std::vector<Group> GroupSeries(const AggregateExpr& a, const StepVector& in) {
  Grouper grouper(a);
  std::vector<size_t> of(in.size());
  for (size_t k = 0; k < in.size(); ++k) of[k] = grouper.Add(in[k]);
  std::vector<Group> groups = grouper.Finish();
  for (size_t k = 0; k < in.size(); ++k) groups[of[k]].members.push_back(k);
  return groups;
}

// Prometheus's info for an aggregation of floats that meets a native histogram.
void IgnoredHistogram(Evaluator& ev, const AggregateExpr& a) {
  ev.annotations().Info(fmt::format("ignored histogram in {} aggregation", AggOpName(a.op)),
                        a.expr->pos);
}

// Reduces each group's present float values at each step; histograms are ignored.
template <typename Fn>
StepVector Reduce(Evaluator& ev, const AggregateExpr& a, const std::vector<Group>& groups,
                  const StepVector& in, const Grid& g, Fn fn) {
  StepVector out;
  out.reserve(groups.size());
  std::vector<double> vals;
  for (const auto& grp : groups) {
    StepSeries s;
    s.labels = grp.labels;
    s.drop_name = grp.drop_name;
    s.v.assign(g.n, Absent());
    for (size_t i = 0; i < g.n; ++i) {
      vals.clear();
      for (size_t k : grp.members) {
        if (IsPresent(in[k].v[i])) {
          vals.push_back(in[k].v[i]);
        } else if (in[k].H(i) != nullptr) {
          IgnoredHistogram(ev, a);
        }
      }
      if (!vals.empty()) s.v[i] = fn(vals, i);
    }
    out.push_back(std::move(s));
  }
  DropEmpty(out);
  return out;
}

// Per-step running state of sum, avg, count, min, max and group, fed member by member (each
// series' values are contiguous, so this walks memory in order). The arithmetic per step is
// the same, in the same member order, as Prometheus's.
struct StepAccumulator {
  enum class Kind { kSum, kAvg, kCount, kMin, kMax, kGroup };
  Kind kind;
  std::vector<double> value, comp, mean, count;
  std::vector<uint8_t> incremental;
  // sum and avg of native histograms, per step: the running value, how many, and whether
  // floats came too or the histograms' layouts could not be combined (no result then).
  std::vector<std::shared_ptr<histogram::FloatHistogram>> hist;
  std::vector<double> hist_count;
  std::vector<uint8_t> hist_state;
  static constexpr uint8_t kHasFloat = 1, kHasHistogram = 2, kIncompatible = 4;

  StepAccumulator(Kind k, size_t n) : kind(k), value(n, Absent()), count(n, 0) {
    if (k == Kind::kSum || k == Kind::kAvg) comp.assign(n, 0);
    if (k == Kind::kAvg) {
      mean.assign(n, 0);
      incremental.assign(n, 0);
    }
  }

  bool sums() const { return kind == Kind::kSum || kind == Kind::kAvg; }

  void Add(Evaluator& ev, const AggregateExpr& a, const StepSeries& s) {
    if (s.has_histograms()) AddHistograms(ev, a, s);
    const std::vector<double>& v = s.v;
    for (size_t i = 0; i < v.size(); ++i) {
      double f = v[i];
      if (IsAbsent(f)) continue;
      if (!hist_state.empty()) {
        if ((hist_state[i] & kIncompatible) != 0) continue;
        hist_state[i] |= kHasFloat;
      }
      double n = ++count[i];
      if (n == 1) {
        value[i] = kind == Kind::kGroup ? 1.0 : f;
        continue;
      }
      switch (kind) {
        case Kind::kSum:
          value[i] = KahanInc(f, value[i], &comp[i]);
          break;
        case Kind::kAvg:
          AddMean(i, f, n);
          break;
        case Kind::kMin:
          if (value[i] > f || std::isnan(value[i])) value[i] = f;
          break;
        case Kind::kMax:
          if (value[i] < f || std::isnan(value[i])) value[i] = f;
          break;
        case Kind::kCount:
        case Kind::kGroup:
          break;
      }
    }
  }

  void AddHistograms(Evaluator& ev, const AggregateExpr& a, const StepSeries& s) {
    size_t n = s.v.size();
    for (size_t i = 0; i < n; ++i) {
      const histogram::FloatHistogram* h = s.H(i);
      if (h == nullptr) continue;
      if (!sums()) {
        if (kind == Kind::kMin || kind == Kind::kMax) {
          IgnoredHistogram(ev, a);
        } else if (++count[i] == 1) {  // count and group see histograms
          value[i] = kind == Kind::kGroup ? 1.0 : 0.0;
        }
        continue;
      }
      if (hist_state.empty()) {
        hist_state.assign(n, 0);
        hist.resize(n);
        hist_count.assign(n, 0);
        for (size_t j = 0; j < n; ++j) {
          if (count[j] > 0) hist_state[j] |= kHasFloat;
        }
      }
      if ((hist_state[i] & kIncompatible) != 0) continue;
      hist_state[i] |= kHasHistogram;
      double c = ++hist_count[i];
      if (hist[i] == nullptr) {
        hist[i] = std::make_shared<histogram::FloatHistogram>(*h);
        continue;
      }
      histogram::CombineError e = histogram::CombineError::kNone;
      if (kind == Kind::kSum) {
        e = hist[i]->Add(*h);
      } else {
        // Prometheus's incremental mean: mean += h/n - mean/n.
        histogram::FloatHistogram add = *h;
        add.Div(c);
        histogram::FloatHistogram part = *hist[i];
        part.Div(c);
        e = add.Sub(part);
        if (e == histogram::CombineError::kNone) e = hist[i]->Add(add);
      }
      if (e != histogram::CombineError::kNone) {
        std::string_view name = GetLabel(ViewOf(s.labels), kMetricNameLabel);
        ev.annotations().Warn(
            fmt::format("{} for metric name {}",
                        e == histogram::CombineError::kMixedSchemas
                            ? "vector contains a mix of histograms with exponential and custom "
                              "buckets schemas"
                            : "vector contains histograms with incompatible custom buckets",
                        GoQuote(name)),
            a.expr->pos);
        hist_state[i] |= kIncompatible;
      }
    }
  }

  // The histogram results of sum and avg, each step's float result made absent where there
  // is none: where floats and histograms met (with a warning), or layouts clashed.
  std::vector<HistogramPtr> FinishHistograms(Evaluator& ev, const AggregateExpr& a) {
    std::vector<HistogramPtr> out;
    if (hist_state.empty()) return out;
    out.resize(hist_state.size());
    for (size_t i = 0; i < hist_state.size(); ++i) {
      uint8_t st = hist_state[i];
      if ((st & kHasHistogram) == 0) continue;
      value[i] = Absent();
      if ((st & kHasFloat) != 0) {
        ev.annotations().Warn("encountered a mix of histograms and floats for aggregation",
                              a.expr->pos);
        continue;
      }
      if ((st & kIncompatible) != 0) continue;
      hist[i]->Compact();
      out[i] = std::move(hist[i]);
    }
    return out;
  }

  // Mean with Kahan compensation, switching to an incremental mean if the sum would overflow.
  void AddMean(size_t i, double f, double n) {
    if (incremental[i] == 0) {
      double nc = comp[i];
      double ns = KahanInc(f, value[i], &nc);
      if (!std::isinf(ns)) {
        value[i] = ns;
        comp[i] = nc;
        return;
      }
      incremental[i] = 1;
      mean[i] = value[i] / (n - 1);
      comp[i] /= (n - 1);
    }
    double q = (n - 1) / n;
    comp[i] = q * comp[i];
    mean[i] = KahanInc(f / n, q * mean[i], &comp[i]);
  }

  std::vector<double> Finish() {
    for (size_t i = 0; i < value.size(); ++i) {
      if (count[i] == 0 || IsAbsent(value[i])) continue;
      switch (kind) {
        case Kind::kSum:
          value[i] += comp[i];
          break;
        case Kind::kAvg:
          value[i] =
              incremental[i] != 0 ? mean[i] + comp[i] : value[i] / count[i] + comp[i] / count[i];
          break;
        case Kind::kCount:
          value[i] = count[i];
          break;
        default:
          break;
      }
    }
    return std::move(value);
  }
};

// sum, avg, count, group, min and max, fed a batch of series at a time in input order: only
// each group's running state is kept, not its members. Each group holds its output's values
// (Evaluator::Hold), so an aggregation that keeps most series apart still meets the limit.
class Accumulation {
 public:
  Accumulation(Evaluator& ev, const AggregateExpr& a, StepAccumulator::Kind kind, const Grid& g)
      : ev_(ev), a_(a), grouper_(a), kind_(kind), n_(g.n) {}

  void Add(const StepVector& batch) {
    for (const auto& s : batch) {
      size_t k = grouper_.Add(s);
      if (k == accs_.size()) {
        ev_.Hold(static_cast<int64_t>(n_));
        accs_.emplace_back(kind_, n_);
      }
      accs_[k].Add(ev_, a_, s);
    }
  }

  StepVector Finish() {
    std::vector<Group> groups = grouper_.Finish();
    StepVector out;
    out.reserve(groups.size());
    for (size_t k = 0; k < groups.size(); ++k) {
      std::vector<HistogramPtr> h = accs_[k].FinishHistograms(ev_, a_);
      out.push_back(
          {std::move(groups[k].labels), accs_[k].Finish(), std::move(h), groups[k].drop_name});
    }
    DropEmpty(out);
    return out;
  }

 private:
  Evaluator& ev_;
  const AggregateExpr& a_;
  Grouper grouper_;
  StepAccumulator::Kind kind_;
  size_t n_;
  std::vector<StepAccumulator> accs_;
};

std::optional<StepAccumulator::Kind> AccumulatorKind(AggOp op) {
  switch (op) {
    case AggOp::kSum:
      return StepAccumulator::Kind::kSum;
    case AggOp::kAvg:
      return StepAccumulator::Kind::kAvg;
    case AggOp::kCount:
      return StepAccumulator::Kind::kCount;
    case AggOp::kGroup:
      return StepAccumulator::Kind::kGroup;
    case AggOp::kMax:
      return StepAccumulator::Kind::kMax;
    case AggOp::kMin:
      return StepAccumulator::Kind::kMin;
    default:
      return std::nullopt;
  }
}

double Variance(const std::vector<double>& vals) {
  double count = 0;
  double mean = 0;
  double m2 = 0;
  for (double f : vals) {
    count++;
    double delta = f - mean;
    mean += delta / count;
    m2 += delta * (f - mean);
  }
  return m2 / count;
}

int64_t ToK(double f) {
  if (!(f >= -9.223372036854775e18 && f <= 9.223372036854775e18)) {
    Fail(fmt::format("Scalar value {} overflows int64", FormatFloatF(f)));
  }
  return static_cast<int64_t>(f);
}

// topk, bottomk, limitk and limit_ratio select input series; the output keeps their labels.
StepVector Select(Evaluator& ev, const AggregateExpr& a, const std::vector<Group>& groups,
                  StepVector& in, const std::vector<double>& param, const Grid& g) {
  std::vector<std::vector<uint8_t>> chosen(in.size());
  std::vector<size_t> order;  // instant queries: output order (sorted within each group)
  std::vector<double> ratio(g.n);
  if (a.op == AggOp::kLimitRatio) {
    for (size_t i = 0; i < g.n; ++i) {
      double r = param[i];
      if (std::isnan(r)) Fail(fmt::format("Ratio value {} is NaN", FormatFloatF(r)));
      if (r < -1 || r > 1) {
        double capped = r < -1 ? -1 : 1;
        ev.annotations().Warn(fmt::format("ratio value should be between -1 and 1, got {}, "
                                          "capping to {}",
                                          FormatFloatF(r), FormatFloatF(capped)),
                              a.param->pos);
        r = capped;
      }
      ratio[i] = r;
    }
  }
  std::vector<size_t> present;
  for (const auto& grp : groups) {
    for (size_t i = 0; i < g.n; ++i) {
      present.clear();
      bool ranks = a.op == AggOp::kTopk || a.op == AggOp::kBottomk;
      for (size_t k : grp.members) {
        if (IsPresent(in[k].v[i])) {
          present.push_back(k);
        } else if (in[k].H(i) != nullptr) {
          // limitk and limit_ratio pass histograms; topk and bottomk rank floats only.
          if (ranks) {
            IgnoredHistogram(ev, a);
          } else {
            present.push_back(k);
          }
        }
      }
      if (present.empty()) continue;
      if (a.op == AggOp::kLimitRatio) {
        std::erase_if(present, [&](size_t k) {
          double offset = static_cast<double>(PrometheusLabelsHash(in[k].labels)) /
                          static_cast<double>(UINT64_MAX);
          double r = ratio[i];
          return !((r >= 0 && offset < r) || (r < 0 && offset >= 1.0 + r));
        });
      } else {
        int64_t k = ToK(param[i]);
        if (k < 1) continue;
        size_t kk = std::min(static_cast<size_t>(k), present.size());
        if (a.op == AggOp::kTopk || a.op == AggOp::kBottomk) {
          bool top = a.op == AggOp::kTopk;
          // NaN ranks last either way.
          auto better = [&](size_t x, size_t y) {
            double vx = in[x].v[i];
            double vy = in[y].v[i];
            if (std::isnan(vx)) return false;
            if (std::isnan(vy)) return true;
            return top ? vx > vy : vx < vy;
          };
          std::stable_sort(present.begin(), present.end(), better);
        }
        present.resize(kk);
      }
      for (size_t k : present) {
        if (chosen[k].empty()) chosen[k].assign(g.n, 0);
        chosen[k][i] = 1;
        if (g.n == 1) order.push_back(k);
      }
    }
  }
  StepVector out;
  auto emit = [&](size_t k) {
    StepSeries s = std::move(in[k]);
    for (size_t i = 0; i < g.n; ++i) {
      if (chosen[k][i] == 0) s.Clear(i);
    }
    out.push_back(std::move(s));
  };
  if (g.n == 1) {
    for (size_t k : order) emit(k);
  } else {
    for (size_t k = 0; k < in.size(); ++k) {
      if (!chosen[k].empty()) emit(k);
    }
  }
  return out;
}

StepVector CountValues(const std::vector<Group>& groups, const StepVector& in,
                       const std::string& label, const Grid& g) {
  if (label.empty() || !IsValidUtf8(label)) {
    Fail(fmt::format("invalid label name {}", GoQuote(label)));
  }
  StepVector out;
  std::unordered_map<std::string, size_t> index;
  for (const auto& grp : groups) {
    for (size_t i = 0; i < g.n; ++i) {
      for (size_t k : grp.members) {
        if (!in[k].Has(i)) continue;
        Labels ls = grp.labels;
        std::erase_if(ls, [&](const Label& l) { return l.name == label; });
        // A histogram counts under its text, as Prometheus's String() writes it.
        ls.push_back(
            {label, in[k].H(i) != nullptr ? in[k].H(i)->ToString() : FormatFloatF(in[k].v[i])});
        std::sort(ls.begin(), ls.end());
        std::string key = FormatLabels(ls);
        auto [it, inserted] = index.emplace(key, out.size());
        if (inserted) {
          StepSeries s;
          s.labels = std::move(ls);
          s.v.assign(g.n, Absent());
          out.push_back(std::move(s));
        }
        double& c = out[it->second].v[i];
        c = IsAbsent(c) ? 1 : c + 1;
      }
    }
  }
  return out;
}

}  // namespace

StepVector EvalAggregate(Evaluator& ev, const AggregateExpr& a, const Grid& g) {
  std::vector<double> param;
  std::string label;
  if (a.param) {
    if (a.op == AggOp::kCountValues) {
      label = ev.EvalString(*a.param, g);
    } else {
      param = ev.EvalScalar(*a.param, g);
    }
  }
  std::optional<StepAccumulator::Kind> kind = AccumulatorKind(a.op);
  if (kind) {
    Accumulation acc(ev, a, *kind, g);
    auto add = [&](StepVector& batch) { acc.Add(batch); };
    if (!ev.EvalVectorBatches(*a.expr, g, add)) acc.Add(ev.EvalVector(*a.expr, g));
    return acc.Finish();
  }
  StepVector in = ev.EvalVector(*a.expr, g);
  std::vector<Group> groups = GroupSeries(a, in);
  switch (a.op) {
    case AggOp::kStddev:
      return Reduce(ev, a, groups, in, g,
                    [](const std::vector<double>& v, size_t) { return std::sqrt(Variance(v)); });
    case AggOp::kStdvar:
      return Reduce(ev, a, groups, in, g,
                    [](const std::vector<double>& v, size_t) { return Variance(v); });
    case AggOp::kQuantile: {
      for (double q : param) {
        if (std::isnan(q) || q < 0 || q > 1) {
          ev.annotations().Warn(
              fmt::format("quantile value should be between 0 and 1, got {}", FormatFloatF(q)),
              a.param->pos);
        }
      }
      return Reduce(ev, a, groups, in, g, [&](const std::vector<double>& v, size_t i) {
        std::vector<double> copy = v;
        return Quantile(param[i], copy);
      });
    }
    case AggOp::kTopk:
    case AggOp::kBottomk:
    case AggOp::kLimitk:
    case AggOp::kLimitRatio:
      return Select(ev, a, groups, in, param, g);
    case AggOp::kCountValues:
      return CountValues(groups, in, label, g);
    default:  // accumulated above
      break;
  }
  return {};
}

}  // namespace strata::promql::internal
