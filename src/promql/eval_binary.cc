// Binary operators between two instant vectors: label matching, set operators, grouping.

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "promql/eval.h"

namespace strata::promql::internal {

namespace {

bool Listed(const std::vector<std::string>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

// The labels a series is matched on: on(...) keeps the listed ones; ignoring(...) drops them
// and the metric name.
Labels MatchLabels(const Labels& ls, const VectorMatching& m) {
  Labels out;
  for (const auto& l : ls) {
    bool listed = Listed(m.labels, l.name);
    if (m.on ? listed : (!listed && l.name != kMetricNameLabel)) out.push_back(l);
  }
  return out;
}

std::string Signature(const Labels& ls, const VectorMatching& m) {
  std::string sig;
  for (const auto& l : MatchLabels(ls, m)) {
    sig += l.name;
    sig.push_back('\xff');
    sig += l.value;
    sig.push_back('\xff');
  }
  return sig;
}

std::string LabelsKey(const Labels& ls, bool drop_name) {
  std::string key(1, drop_name ? '1' : '0');
  for (const auto& l : ls) {
    key += l.name;
    key.push_back('\xff');
    key += l.value;
    key.push_back('\xff');
  }
  return key;
}

Labels ResultLabels(const Labels& many, const Labels& one, const VectorMatching& m) {
  Labels out;
  if (m.card == Cardinality::kOneToOne) {
    for (const auto& l : many) {
      if (m.on == Listed(m.labels, l.name)) out.push_back(l);
    }
    return out;
  }
  out = many;
  for (const auto& name : m.include) {
    std::erase_if(out, [&](const Label& l) { return l.name == name; });
    for (const auto& l : one) {
      if (l.name == name && !l.value.empty()) out.push_back(l);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

StepVector SetOperation(const BinaryExpr& b, StepVector lhs, StepVector rhs, const Grid& g) {
  const VectorMatching& m = *b.matching;
  // Per signature, at which steps the other side has a series.
  auto presence = [&](const StepVector& side) {
    std::unordered_map<std::string, std::vector<uint8_t>> out;
    for (const auto& s : side) {
      auto& p = out[Signature(s.labels, m)];
      if (p.empty()) p.assign(g.n, 0);
      for (size_t i = 0; i < g.n; ++i) p[i] |= s.Has(i) ? 1 : 0;
    }
    return out;
  };
  if (b.op == BinOp::kAnd || b.op == BinOp::kUnless) {
    auto rp = presence(rhs);
    bool is_and = b.op == BinOp::kAnd;
    for (auto& s : lhs) {
      auto it = rp.find(Signature(s.labels, m));
      for (size_t i = 0; i < g.n; ++i) {
        bool matched = it != rp.end() && it->second[i] != 0;
        if (matched != is_and) s.Clear(i);
      }
    }
    DropEmpty(lhs);
    return lhs;
  }
  auto lp = presence(lhs);
  for (auto& s : rhs) {
    auto it = lp.find(Signature(s.labels, m));
    if (it == lp.end()) continue;
    for (size_t i = 0; i < g.n; ++i) {
      if (it->second[i] != 0) s.Clear(i);
    }
  }
  DropEmpty(rhs);
  for (auto& s : rhs) lhs.push_back(std::move(s));
  return lhs;
}

HistogramPtr Scaled(const HistogramPtr& h, double factor, bool divide) {
  auto out = std::make_shared<histogram::FloatHistogram>(*h);
  if (divide) {
    out->Div(factor);
  } else {
    out->Mul(factor);
  }
  out->Compact();
  return out;
}

}  // namespace

void BinopProblems::Report(Evaluator& ev, const BinaryExpr& b) const {
  std::string_view op = BinOpName(b.op);
  auto type = [](bool histogram) { return histogram ? "histogram" : "float"; };
  for (const Problem& p : problems_) {
    if (p.kind == Kind::kTypes) {
      ev.annotations().Info(
          fmt::format("incompatible sample types encountered for binary operator \"{}\": {} {} {}",
                      op, type(p.lhs_histogram), op, type(p.rhs_histogram)),
          b.pos);
    } else if (p.kind == Kind::kLayout) {
      ev.annotations().Warn(
          fmt::format("incompatible bucket layout encountered for binary operator {}", op), b.pos);
    }
  }
}

BinopOutcome HistogramBinop(BinOp op, double lf, const HistogramPtr& lh, double rf,
                            const HistogramPtr& rh, size_t i, double* f, HistogramPtr* h,
                            BinopProblems& problems) {
  *f = 0;
  *h = nullptr;
  if (lh == nullptr || rh == nullptr) {
    if (op == BinOp::kMul) {
      *h = lh != nullptr ? Scaled(lh, rf, false) : Scaled(rh, lf, false);
      return BinopOutcome::kKept;
    }
    if (op == BinOp::kDiv && lh != nullptr) {
      *h = Scaled(lh, rf, true);
      return BinopOutcome::kKept;
    }
    problems.IncompatibleTypes(i, lh != nullptr, rh != nullptr);
    return BinopOutcome::kError;
  }
  switch (op) {
    case BinOp::kAdd:
    case BinOp::kSub: {
      auto out = std::make_shared<histogram::FloatHistogram>(*lh);
      if ((op == BinOp::kAdd ? out->Add(*rh) : out->Sub(*rh)) != histogram::CombineError::kNone) {
        problems.IncompatibleLayout(i);
        return BinopOutcome::kError;
      }
      out->Compact();
      *h = std::move(out);
      return BinopOutcome::kKept;
    }
    case BinOp::kEql:
    case BinOp::kNeq:
      *h = lh;
      return lh->Equals(*rh) == (op == BinOp::kEql) ? BinopOutcome::kKept : BinopOutcome::kFiltered;
    default:
      problems.IncompatibleTypes(i, true, true);
      return BinopOutcome::kError;
  }
}

void MergeSameLabels(StepVector& v) {
  std::unordered_map<std::string, size_t> seen;
  StepVector out;
  out.reserve(v.size());
  for (auto& s : v) {
    auto [it, inserted] = seen.emplace(LabelsKey(s.labels, s.drop_name), out.size());
    if (inserted) {
      out.push_back(std::move(s));
      continue;
    }
    StepSeries& dst = out[it->second];
    for (size_t i = 0; i < s.v.size(); ++i) {
      if (!s.Has(i)) continue;
      if (dst.Has(i)) Fail("vector cannot contain metrics with the same labelset");
      if (s.H(i) != nullptr) {
        dst.SetH(i, s.h[i]);
      } else {
        dst.v[i] = s.v[i];
      }
    }
  }
  v = std::move(out);
}

StepVector VectorBinary(Evaluator& ev, const BinaryExpr& b, StepVector lhs, StepVector rhs,
                        const Grid& g) {
  const VectorMatching& m = *b.matching;
  if (IsSetOperator(b.op)) {
    StepVector out = SetOperation(b, std::move(lhs), std::move(rhs), g);
    MergeSameLabels(out);
    return out;
  }
  bool swap = m.card == Cardinality::kOneToMany;
  StepVector& many = swap ? rhs : lhs;
  StepVector& one = swap ? lhs : rhs;
  if (many.empty() || one.empty()) return {};

  std::vector<uint8_t> many_present(g.n, 0);
  for (const auto& s : many) {
    for (size_t i = 0; i < g.n; ++i) many_present[i] |= s.Has(i) ? 1 : 0;
  }
  // Series of the "one" side by signature; two of them at one step is many-to-many.
  std::unordered_map<std::string, std::vector<size_t>> one_by_sig;
  for (size_t k = 0; k < one.size(); ++k) one_by_sig[Signature(one[k].labels, m)].push_back(k);
  for (const auto& [sig, idx] : one_by_sig) {
    if (idx.size() < 2) continue;
    for (size_t i = 0; i < g.n; ++i) {
      if (many_present[i] == 0) continue;
      const StepSeries* first = nullptr;
      for (size_t k : idx) {
        if (!one[k].Has(i)) continue;
        if (first == nullptr) {
          first = &one[k];
          continue;
        }
        Fail(fmt::format(
            "found duplicate series for the match group {} on the {} hand-side of the "
            "operation: [{}, {}];many-to-many matching not allowed: matching labels must be "
            "unique on one side",
            FormatLabels(MatchLabels(one[k].labels, m)), swap ? "left" : "right",
            FormatLabels(one[k].labels), FormatLabels(first->labels)));
      }
    }
  }

  bool cmp = IsComparison(b.op);
  bool drops_name = !cmp || b.return_bool;
  StepVector out;
  std::unordered_map<std::string, size_t> out_index;
  // One-to-one: a signature may match only once per step.
  std::unordered_map<std::string, std::vector<uint8_t>> matched;
  BinopProblems problems(g.n);
  for (auto& ml : many) {
    ev.CheckInterrupt();
    std::string sig = Signature(ml.labels, m);
    auto it = one_by_sig.find(sig);
    if (it == one_by_sig.end()) continue;
    for (size_t k : it->second) {
      const StepSeries& ro = one[k];
      Labels labels = ResultLabels(ml.labels, ro.labels, m);
      bool drop = drops_name || ml.drop_name;
      auto [oit, inserted] = out_index.emplace(LabelsKey(labels, drop), out.size());
      if (inserted) {
        StepSeries s;
        s.labels = std::move(labels);
        s.v.assign(g.n, Absent());
        s.drop_name = drop;
        out.push_back(std::move(s));
      }
      StepSeries& dst = out[oit->second];
      std::vector<uint8_t>* seen = nullptr;
      if (m.card == Cardinality::kOneToOne) {
        auto& vec = matched[sig];
        if (vec.empty()) vec.assign(g.n, 0);
        seen = &vec;
      }
      for (size_t i = 0; i < g.n; ++i) {
        if (!ml.Has(i) || !ro.Has(i)) continue;
        const StepSeries& l = swap ? ro : ml;
        const StepSeries& r_side = swap ? ml : ro;
        bool keep = false;
        double r = 0;
        HistogramPtr rh;
        if (l.H(i) != nullptr || r_side.H(i) != nullptr) {
          const HistogramPtr none;
          auto outcome =
              HistogramBinop(b.op, l.v[i], l.H(i) != nullptr ? l.h[i] : none, r_side.v[i],
                             r_side.H(i) != nullptr ? r_side.h[i] : none, i, &r, &rh, problems);
          if (outcome == BinopOutcome::kError) continue;
          keep = outcome == BinopOutcome::kKept;
        } else {
          r = ApplyOp(b.op, l.v[i], r_side.v[i], &keep, ev.options().nan_on_division_by_zero);
        }
        if (b.return_bool) {
          r = keep ? 1.0 : 0.0;
          rh = nullptr;
          keep = true;
        }
        if (!keep) continue;
        if (seen != nullptr) {
          if ((*seen)[i] != 0) {
            Fail(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)");
          }
          (*seen)[i] = 1;
        } else if (dst.Has(i)) {
          Fail("multiple matches for labels: grouping labels must ensure unique matches");
        }
        if (rh != nullptr) {
          dst.SetH(i, std::move(rh));
        } else {
          dst.v[i] = r;
        }
      }
    }
  }
  problems.Report(ev, b);
  DropEmpty(out);
  return out;
}

}  // namespace strata::promql::internal
