// info(v [, data-label-selector]): enriches series with the data labels of matching info
// series (target_info by default), joined on the identifying labels instance and job.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "promql/eval.h"

namespace strata::promql::internal {

namespace {

constexpr std::string_view kIdentifying[] = {"instance", "job"};

bool IsIdentifying(std::string_view name) {
  return std::find(std::begin(kIdentifying), std::end(kIdentifying), name) !=
         std::end(kIdentifying);
}

std::string JoinKey(const Labels& ls) {
  auto views = ViewOf(ls);
  std::string key;
  for (std::string_view n : kIdentifying) {
    key += GetLabel(views, n);
    key.push_back('\xff');
  }
  return key;
}

}  // namespace

StepVector EvalInfo(Evaluator& ev, const Call& c, const Grid& g) {
  StepVector in = ev.EvalVector(*c.args[0], g);
  // The info series to consider: target_info unless the selector names others; its other
  // matchers constrain the data labels (and which of them are added).
  VectorSelector sel;
  std::vector<std::string> wanted;  // data labels named by the selector; empty = all
  bool requires_match = false;      // a data-label matcher rejects series without it
  bool named = false;
  if (c.args.size() > 1) {
    const Expr* arg = c.args[1].get();
    while (arg->kind == ExprKind::kParen) arg = As<ParenExpr>(*arg).expr.get();
    if (arg->kind != ExprKind::kVectorSelector) {
      Fail("info(): the second argument must be a label selector like {k=\"v\"}");
    }
    const auto& vs = As<VectorSelector>(*arg);
    for (const auto& m : vs.matchers) {
      sel.matchers.push_back(m);
      if (m.name() == kMetricNameLabel) {
        named = true;
        continue;
      }
      wanted.push_back(m.name());
      requires_match |= !m.Matches("");
    }
  }
  if (!named) {
    auto m = Matcher::Make(Matcher::Type::kEqual, std::string(kMetricNameLabel), "target_info");
    sel.matchers.push_back(std::move(m).value());
  }
  StepVector info = ev.EvalVector(sel, g);
  std::unordered_map<std::string, std::vector<size_t>> by_key;
  for (size_t k = 0; k < info.size(); ++k) by_key[JoinKey(info[k].labels)].push_back(k);

  StepVector out;
  std::map<Labels, size_t> index;
  for (auto& s : in) {
    ev.CheckInterrupt();
    auto it = by_key.find(JoinKey(s.labels));
    for (size_t i = 0; i < g.n; ++i) {
      if (IsAbsent(s.v[i])) continue;
      Labels ls = s.labels;
      bool matched = false;
      if (it != by_key.end()) {
        for (size_t k : it->second) {
          if (IsAbsent(info[k].v[i])) continue;
          matched = true;
          for (const auto& l : info[k].labels) {
            if (l.name == kMetricNameLabel || IsIdentifying(l.name)) continue;
            if (!wanted.empty() &&
                std::find(wanted.begin(), wanted.end(), l.name) == wanted.end()) {
              continue;
            }
            auto have = std::find_if(ls.begin(), ls.end(),
                                     [&](const Label& x) { return x.name == l.name; });
            if (have == ls.end()) {
              ls.push_back(l);
            } else if (have->value != l.value &&
                       std::none_of(s.labels.begin(), s.labels.end(),
                                    [&](const Label& x) { return x.name == l.name; })) {
              Fail(fmt::format("info(): conflicting values for data label {} from info series {}",
                               GoQuote(l.name), FormatLabels(info[k].labels)));
            }
          }
        }
      }
      if (!matched && requires_match) continue;
      std::sort(ls.begin(), ls.end());
      auto [pos, inserted] = index.emplace(ls, out.size());
      if (inserted) {
        StepSeries o;
        o.labels = std::move(ls);
        o.v.assign(g.n, Absent());
        o.drop_name = s.drop_name;
        out.push_back(std::move(o));
      }
      out[pos->second].v[i] = s.v[i];
    }
  }
  return out;
}

}  // namespace strata::promql::internal
