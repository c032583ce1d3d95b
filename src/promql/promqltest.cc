#include "promql/promqltest.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "base/units.h"
#include "promql/lexer.h"
#include "promql/parser.h"
#include "query/head_querier.h"
#include "tsdb/head/head.h"

namespace strata::promql {

namespace {

constexpr int64_t kOutOfOrderWindow = INT64_MAX / 4;  // loads may add older samples

// Scans a decimal number or Inf/NaN with an optional sign; returns its length or 0.
size_t ScanNumber(std::string_view s, double* out) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  auto ci = [&](std::string_view word) {
    if (s.size() - i < word.size()) return false;
    for (size_t k = 0; k < word.size(); ++k) {
      if (std::tolower(static_cast<unsigned char>(s[i + k])) != word[k]) return false;
    }
    return true;
  };
  size_t start = i;
  if (ci("inf") || ci("nan")) {
    i += 3;
  } else {
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
    }
    if (i == start) return 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      size_t j = i + 1;
      if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
      if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) != 0) {
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) != 0) ++j;
        i = j;
      }
    }
  }
  std::string num(s.substr(0, i));
  *out = std::strtod(num.c_str(), nullptr);
  return i;
}

Result<uint64_t> ParseTimes(std::string_view s) {
  if (s.empty() || s[0] != 'x') return Status::InvalidArgument("expected xN");
  uint64_t n = 0;
  for (char c : s.substr(1)) {
    if (c < '0' || c > '9' || n > 10'000'000) return Status::InvalidArgument("bad repetition");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (s.size() == 1) return Status::InvalidArgument("bad repetition");
  return n;
}

// Parses the inside of a histogram literal {{schema:1 sum:5 count:4 buckets:[1 2 1] ...}} as
// Prometheus's series parser does: one span per side, absolute float counts, no validation.
Result<histogram::FloatHistogram> ParseHistogramDesc(std::string_view text) {
  histogram::FloatHistogram h;
  std::set<std::string> seen;
  std::vector<double> buckets;
  std::vector<double> n_buckets;
  int32_t offset = 0;
  int32_t n_offset = 0;
  size_t i = 0;
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("invalid histogram {{{{{}}}}}: {}", text, why));
  };
  auto number = [&](std::string_view tok) -> Result<double> {
    double v = 0;
    if (tok.empty() || ScanNumber(tok, &v) != tok.size()) return bad(fmt::format("\"{}\"", tok));
    return v;
  };
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) ++i;
    if (i >= text.size()) break;
    size_t colon = text.find(':', i);
    if (colon == std::string_view::npos) return bad("expected key:value");
    std::string key(text.substr(i, colon - i));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!seen.insert(key).second) return bad("duplicate key " + key);
    i = colon + 1;
    std::vector<double> list;
    std::string_view tok;
    if (i < text.size() && text[i] == '[') {
      size_t close = text.find(']', i);
      if (close == std::string_view::npos) return bad("unclosed [");
      std::string_view items = text.substr(i + 1, close - i - 1);
      size_t k = 0;
      while (k < items.size()) {
        while (k < items.size() && std::isspace(static_cast<unsigned char>(items[k])) != 0) ++k;
        size_t e = k;
        while (e < items.size() && std::isspace(static_cast<unsigned char>(items[e])) == 0) ++e;
        if (e > k) {
          ASSIGN_OR_RETURN(double v, number(items.substr(k, e - k)));
          list.push_back(v);
        }
        k = e;
      }
      i = close + 1;
    } else {
      size_t e = i;
      while (e < text.size() && std::isspace(static_cast<unsigned char>(text[e])) == 0) ++e;
      tok = text.substr(i, e - i);
      i = e;
    }
    auto integer = [&]() -> Result<int32_t> {
      ASSIGN_OR_RETURN(double v, number(tok));
      if (v != std::trunc(v) || std::fabs(v) > 1e9) return bad(key + " must be an integer");
      return static_cast<int32_t>(v);
    };
    if (key == "schema") {
      ASSIGN_OR_RETURN(h.schema, integer());
    } else if (key == "sum") {
      ASSIGN_OR_RETURN(h.sum, number(tok));
    } else if (key == "count") {
      ASSIGN_OR_RETURN(h.count, number(tok));
    } else if (key == "z_bucket") {
      ASSIGN_OR_RETURN(h.zero_count, number(tok));
    } else if (key == "z_bucket_w") {
      ASSIGN_OR_RETURN(h.zero_threshold, number(tok));
    } else if (key == "offset") {
      ASSIGN_OR_RETURN(offset, integer());
    } else if (key == "n_offset") {
      ASSIGN_OR_RETURN(n_offset, integer());
    } else if (key == "buckets") {
      buckets = std::move(list);
    } else if (key == "n_buckets") {
      n_buckets = std::move(list);
    } else if (key == "custom_values") {
      h.custom_values = std::move(list);
    } else if (key == "counter_reset_hint") {
      if (tok == "unknown") {
        h.hint = histogram::ResetHint::kUnknown;
      } else if (tok == "reset") {
        h.hint = histogram::ResetHint::kReset;
      } else if (tok == "not_reset") {
        h.hint = histogram::ResetHint::kNotReset;
      } else if (tok == "gauge") {
        h.hint = histogram::ResetHint::kGauge;
      } else {
        return bad(fmt::format("unknown counter_reset_hint {}", tok));
      }
    } else {
      return bad("unknown key " + key);
    }
  }
  if (!buckets.empty()) {
    h.positive_spans = {{offset, static_cast<uint32_t>(buckets.size())}};
    h.positive_buckets = std::move(buckets);
  }
  if (!n_buckets.empty()) {
    h.negative_spans = {{n_offset, static_cast<uint32_t>(n_buckets.size())}};
    h.negative_buckets = std::move(n_buckets);
  }
  return h;
}

// Reads "{{...}}" at text[i]; moves i past it.
Result<histogram::FloatHistogram> ScanHistogram(std::string_view text, size_t& i) {
  size_t end = text.find("}}", i);
  if (end == std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("unclosed histogram \"{}\"", text.substr(i)));
  }
  auto h = ParseHistogramDesc(text.substr(i + 2, end - i - 2));
  i = end + 2;
  return h;
}

// Expands the promqltest value notation: 1 2 _ stale 0+10x5 1-2x3 _x3 5x2 {{...}} {{...}}x3
// {{...}}+{{...}}x3.
Result<std::vector<SeqValue>> ParseValues(std::string_view text) {
  std::vector<SeqValue> out;
  size_t i = 0;
  auto bad = [&](std::string_view item) {
    return Status::InvalidArgument(fmt::format("invalid series value \"{}\"", item));
  };
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) ++i;
    if (i >= text.size()) break;
    if (text.substr(i, 2) == "{{") {
      ASSIGN_OR_RETURN(histogram::FloatHistogram base, ScanHistogram(text, i));
      std::optional<histogram::FloatHistogram> inc;
      bool sub = false;
      if (i < text.size() && (text[i] == '+' || text[i] == '-') && text.substr(i + 1, 2) == "{{") {
        sub = text[i] == '-';
        ++i;
        ASSIGN_OR_RETURN(inc, ScanHistogram(text, i));
      }
      uint64_t n = 0;
      size_t j = i;
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j])) == 0) ++j;
      if (j > i) {
        ASSIGN_OR_RETURN(n, ParseTimes(text.substr(i, j - i)));
      }
      i = j;
      auto cur = std::make_shared<const histogram::FloatHistogram>(std::move(base));
      out.push_back({false, 0, cur});
      for (uint64_t k = 0; k < n; ++k) {
        if (inc) {
          if (cur->schema > inc->schema) {
            return Status::InvalidArgument(
                fmt::format("error combining histograms: cannot merge from schema {} to {}",
                            inc->schema, cur->schema));
          }
          histogram::FloatHistogram next = *cur;
          if ((sub ? next.Sub(*inc) : next.Add(*inc)) != histogram::CombineError::kNone) {
            return Status::InvalidArgument("error combining histograms: incompatible layouts");
          }
          cur = std::make_shared<const histogram::FloatHistogram>(std::move(next));
        }
        out.push_back({false, 0, cur});
      }
      continue;
    }
    size_t j = i;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j])) == 0) ++j;
    std::string_view item = text.substr(i, j - i);
    i = j;
    if (item == "_") {
      out.push_back({true, 0, nullptr});
      continue;
    }
    if (item.substr(0, 2) == "_x") {
      ASSIGN_OR_RETURN(uint64_t n, ParseTimes(item.substr(1)));
      for (uint64_t k = 0; k < n; ++k) out.push_back({true, 0, nullptr});
      continue;
    }
    if (item == "stale") {
      out.push_back({false, StaleNaN(), nullptr});
      continue;
    }
    double first = 0;
    size_t len = ScanNumber(item, &first);
    if (len == 0) return bad(item);
    std::string_view rest = item.substr(len);
    if (rest.empty()) {
      out.push_back({false, first, nullptr});
      continue;
    }
    double inc = 0;
    if (rest[0] == '+' || rest[0] == '-') {
      size_t l2 = ScanNumber(rest, &inc);
      if (l2 == 0) return bad(item);
      rest = rest.substr(l2);
    }
    auto times = ParseTimes(rest);
    if (!times.ok()) return bad(item);
    double v = first;
    for (uint64_t k = 0; k <= times.value(); ++k) {
      out.push_back({false, v, nullptr});
      v += inc;
    }
  }
  return out;
}

bool AlmostEqual(double a, double b) {
  constexpr double kEpsilon = 0.000001;
  constexpr double kMinNormal = 2.2250738585072014e-308;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < kEpsilon * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < kEpsilon;
}

// Prometheus's compareNativeHistogram: both compacted; schema, zero threshold and custom
// bounds exact; counts, sum and buckets within the tolerance; spans equal up to empty ones;
// the reset hint is not compared.
bool AlmostEqual(const histogram::FloatHistogram& want, const histogram::FloatHistogram& got) {
  histogram::FloatHistogram a = want;
  histogram::FloatHistogram b = got;
  a.Compact();
  b.Compact();
  auto all_close = [](const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!AlmostEqual(x[i], y[i])) return false;
    }
    return true;
  };
  return a.schema == b.schema && a.zero_threshold == b.zero_threshold &&
         a.custom_values == b.custom_values && AlmostEqual(a.count, b.count) &&
         AlmostEqual(a.sum, b.sum) && AlmostEqual(a.zero_count, b.zero_count) &&
         a.positive_spans == b.positive_spans && a.negative_spans == b.negative_spans &&
         all_close(a.positive_buckets, b.positive_buckets) &&
         all_close(a.negative_buckets, b.negative_buckets);
}

// One point of a result or an expectation: a float, or a histogram.
struct Point {
  int64_t t;
  double v;
  const histogram::FloatHistogram* h;
};

std::string FormatPoint(const Point& p) {
  return p.h != nullptr ? p.h->ToString() : fmt::format("{}", p.v);
}

// A result series' points, floats and histograms, in time order.
std::vector<Point> PointsOf(const ResultSeries& s) {
  std::vector<Point> out;
  out.reserve(s.points.size() + s.histograms.size());
  for (const auto& p : s.points) out.push_back({p.t, p.v, nullptr});
  for (const auto& p : s.histograms) out.push_back({p.t, 0, p.h.get()});
  std::stable_sort(out.begin(), out.end(),
                   [](const Point& a, const Point& b) { return a.t < b.t; });
  return out;
}

bool SamePoint(const Point& want, const Point& got) {
  if ((want.h == nullptr) != (got.h == nullptr)) return false;
  return want.h != nullptr ? AlmostEqual(*want.h, *got.h) : AlmostEqual(want.v, got.v);
}

// The in-memory storage a script loads into.
class TestStorage {
 public:
  TestStorage() { Clear(); }
  void Clear() { head_ = std::make_unique<tsdb::Head>(); }
  Status Append(const Labels& ls, int64_t t, double v) {
    auto views = ViewOf(ls);
    bool created = false;
    tsdb::MemSeries* s = head_->GetOrCreate(HashLabels(views), views, &created);
    if (s == nullptr) return Status::Corruption("cannot create series");
    head_->Append(*s, t, v, kOutOfOrderWindow);
    return Status::Ok();
  }
  Status AppendHistogram(const Labels& ls, int64_t t,
                         std::shared_ptr<const histogram::FloatHistogram> h) {
    auto views = ViewOf(ls);
    bool created = false;
    tsdb::MemSeries* s = head_->GetOrCreate(HashLabels(views), views, &created);
    if (s == nullptr) return Status::Corruption("cannot create series");
    head_->AppendHistogram(*s, t, std::move(h), kOutOfOrderWindow);
    return Status::Ok();
  }
  const tsdb::Head& head() const { return *head_; }

 private:
  std::unique_ptr<tsdb::Head> head_;
};

// Reads the test storage and notes whether a query read outside the range the engine said it
// would (Engine::DataRange), which a querier made for that range could have missed.
class RecordingQuerier : public query::ForwardingQuerier {
 public:
  // The base keeps a reference to head_q_ and reads through it only after construction.
  RecordingQuerier(const TestStorage& st, TimeRange range)
      : ForwardingQuerier(head_q_), head_q_(st.head()), range_(range) {}

  Result<std::unique_ptr<query::SeriesSet>> Select(const query::SelectParams& p,
                                                   std::span<const Matcher> ms) const override {
    if (p.mint < range_.mint || p.maxt > range_.maxt) {
      MutexLock lk(mu_);
      outside_ = fmt::format("read [{}, {}] outside the data range [{}, {}]", p.mint, p.maxt,
                             range_.mint, range_.maxt);
    }
    return ForwardingQuerier::Select(p, ms);
  }
  // Empty unless a selection read outside the data range.
  std::string outside() const {
    MutexLock lk(mu_);
    return outside_;
  }

 private:
  query::HeadQuerier head_q_;
  const TimeRange range_;
  mutable Mutex mu_;
  mutable std::string outside_ GUARDED_BY(mu_);
};

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
  return std::string(s.substr(b, e - b));
}

std::string FormatPoints(const ResultSeries& s) {
  std::string out = FormatLabels(s.labels) + " =>";
  for (const Point& p : PointsOf(s)) out += fmt::format(" {} @[{}]", FormatPoint(p), p.t);
  return out;
}

class Runner {
 public:
  Runner(std::string_view name, std::ostream& out, const PromqlTestOptions& opts)
      : name_(name), out_(out), engine_(opts.engine) {}

  Result<PromqlTestSummary> Run(std::string_view script) {
    RETURN_IF_ERROR(ForEachScriptCommand(
        script, name_, [&](const std::string& l, const std::vector<std::string>& body, int lineno) {
          if (l == "clear") {
            storage_.Clear();
            return Status::Ok();
          }
          if (l.rfind("load", 0) == 0) return Load(l, body);
          if (l.rfind("eval", 0) == 0) return Eval(l, body, lineno);
          return Status::InvalidArgument("unknown command");
        }));
    return summary_;
  }

 private:
  Status Load(const std::string& line, const std::vector<std::string>& body) {
    std::string_view rest(line);
    bool nhcb = rest.rfind("load_with_nhcb", 0) == 0;
    rest.remove_prefix(nhcb ? 14 : 4);
    ASSIGN_OR_RETURN(int64_t interval, ParseDurationMillis(Trim(rest)));
    // A series defined twice in one load keeps its last definition, as in Prometheus.
    std::map<Labels, std::vector<SeqValue>> defs;
    for (const auto& b : body) {
      ASSIGN_OR_RETURN(auto desc, ParseSeriesLabels(b));
      ASSIGN_OR_RETURN(defs[desc.first], ParseValues(std::string_view(b).substr(desc.second)));
    }
    for (const auto& [labels, values] : defs) {
      for (size_t k = 0; k < values.size(); ++k) {
        const auto& v = values[k];
        if (v.omitted) continue;
        int64_t t = static_cast<int64_t>(k) * interval;
        if (v.h) {
          RETURN_IF_ERROR(storage_.AppendHistogram(labels, t, v.h));
        } else {
          RETURN_IF_ERROR(storage_.Append(labels, t, v.v));
        }
      }
    }
    return nhcb ? LoadNhcb(defs, interval) : Status::Ok();
  }

  // load_with_nhcb: the classic histograms' _bucket, _count and _sum series also become one
  // custom-buckets native histogram per base name and time, as Prometheus's convertnhcb
  // makes them (its errors included).
  Status LoadNhcb(const std::map<Labels, std::vector<SeqValue>>& defs, int64_t interval) {
    struct Temp {
      std::vector<std::pair<double, double>> buckets;  // le, cumulative count; ascending
      double count = 0;
      double sum = 0;
      bool has_count = false;
      std::string err;
    };
    std::map<Labels, std::map<int64_t, Temp>> by_base;
    for (const auto& [labels, values] : defs) {
      std::string_view name = GetLabel(ViewOf(labels), kMetricNameLabel);
      int kind = 0;  // 1 bucket, 2 sum, 3 count
      std::string_view base;
      for (auto [suffix, k] :
           {std::pair<std::string_view, int>{"_bucket", 1}, {"_sum", 2}, {"_count", 3}}) {
        if (name.ends_with(suffix)) {
          kind = k;
          base = name.substr(0, name.size() - suffix.size());
          break;
        }
      }
      if (kind == 0) continue;
      double le = 0;
      if (kind == 1) {
        std::string text(GetLabel(ViewOf(labels), "le"));
        char* end = nullptr;
        le = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || std::isnan(le)) continue;
      }
      Labels base_labels;
      for (const auto& l : labels) {
        if (l.name == "le") continue;
        base_labels.push_back(l.name == kMetricNameLabel ? Label{l.name, std::string(base)} : l);
      }
      auto& temps = by_base[base_labels];
      for (size_t k = 0; k < values.size(); ++k) {
        const SeqValue& v = values[k];
        if (v.omitted || v.h) continue;
        Temp& t = temps[static_cast<int64_t>(k) * interval];
        if (!t.err.empty()) continue;
        if (kind == 2) {
          t.sum = v.v;
        } else if (kind == 3) {
          if (v.v < 0) t.err = fmt::format("count must be non-negative: count={}", v.v);
          t.count = v.v;
          t.has_count = true;
        } else if (v.v < 0) {
          t.err = fmt::format("bucket count must be non-negative: le={}, count={}", le, v.v);
        } else {
          auto it = std::lower_bound(t.buckets.begin(), t.buckets.end(), le,
                                     [](const auto& b, double x) { return b.first < x; });
          if (it != t.buckets.end() && it->first == le) continue;
          if ((it != t.buckets.begin() && v.v < std::prev(it)->second) ||
              (it != t.buckets.end() && v.v > it->second)) {
            t.err = fmt::format("count is not cumulative at le={}", le);
            continue;
          }
          t.buckets.insert(it, {le, v.v});
        }
      }
    }
    for (auto& [labels, temps] : by_base) {
      for (auto& [t, temp] : temps) {
        if (!temp.err.empty()) return Status::InvalidArgument(temp.err);
        if (!temp.has_count && !temp.buckets.empty()) temp.count = temp.buckets.back().second;
        if (temp.buckets.empty() || temp.buckets.back().first != HUGE_VAL) {
          temp.buckets.push_back({HUGE_VAL, temp.count});
        }
        if (temp.count != temp.buckets.back().second) {
          return Status::InvalidArgument(fmt::format("count mismatch: count={} != le=+Inf count={}",
                                                     temp.count, temp.buckets.back().second));
        }
        histogram::FloatHistogram h;
        h.schema = histogram::kCustomBucketsSchema;
        h.count = temp.count;
        h.sum = temp.sum;
        h.positive_spans = {{0, static_cast<uint32_t>(temp.buckets.size())}};
        double prev = 0;
        for (const auto& [le, cumulative] : temp.buckets) {
          h.positive_buckets.push_back(cumulative - prev);
          prev = cumulative;
          if (le != HUGE_VAL) h.custom_values.push_back(le);
        }
        h.Compact();
        RETURN_IF_ERROR(h.Validate());
        RETURN_IF_ERROR(storage_.AppendHistogram(
            labels, t, std::make_shared<const histogram::FloatHistogram>(std::move(h))));
      }
    }
    return Status::Ok();
  }

  void Failed(const EvalCmd& cmd, const std::string& why) {
    ++summary_.failed;
    out_ << fmt::format("{}:{}: FAIL {}\n  {}\n", name_, cmd.line, cmd.query, why);
  }

  Status Eval(const std::string& line, const std::vector<std::string>& body, int lineno) {
    EvalCmd cmd;
    RETURN_IF_ERROR(ParseTestEval(line, body, lineno, cmd));
    auto expr = ParseExpr(cmd.query);
    Result<QueryResult> res = expr.status();
    TimeRange range{};
    if (expr.ok())
      range = engine_.DataRange(*expr.value(), cmd.start, cmd.range ? cmd.end : cmd.start);
    RecordingQuerier q(storage_, range);
    if (expr.ok()) {
      res = cmd.range ? engine_.Range(q, *expr.value(), cmd.start, cmd.end, cmd.step)
                      : engine_.Instant(q, *expr.value(), cmd.start);
    }
    if (std::string outside = q.outside(); !outside.empty()) {
      Failed(cmd, outside);
      return Status::Ok();
    }
    if (cmd.IsFail()) {
      std::string why = CheckTestFailure(cmd, res.status());
      if (why.empty()) {
        ++summary_.passed;
      } else {
        Failed(cmd, why);
      }
      return Status::Ok();
    }
    if (!res.ok()) {
      Failed(cmd, "unexpected error: " + res.status().message());
      return Status::Ok();
    }
    std::string why = CheckAnnotations(cmd, res.value().annotations);
    if (why.empty()) why = CompareTestResult(cmd, res.value());
    if (why.empty()) {
      ++summary_.passed;
    } else {
      Failed(cmd, why);
    }
    return Status::Ok();
  }

  static std::string CheckAnnotations(const EvalCmd& cmd, const Annotations& annos) {
    auto list = [](const std::set<Annotations::Entry>& s) {
      std::vector<std::string> v;
      v.reserve(s.size());
      for (const auto& e : s) v.push_back(e.message);
      return v;
    };
    std::vector<std::string> warns = list(annos.warnings());
    std::vector<std::string> infos = list(annos.infos());
    if (cmd.warn && warns.empty()) return "expected warnings, got none";
    if (cmd.info && infos.empty()) return "expected info annotations, got none";
    for (const char* type : {"warn", "info"}) {
      const auto& actual = std::string_view(type) == "warn" ? warns : infos;
      std::vector<const Expect*> exp;
      for (const auto& e : cmd.expects) {
        if (e.type == type) exp.push_back(&e);
      }
      if (exp.empty()) continue;
      if (actual.empty()) return fmt::format("expected {} annotations but none were found", type);
      for (const Expect* e : exp) {
        if (std::none_of(actual.begin(), actual.end(),
                         [&](const std::string& a) { return e->Matches(a); })) {
          return fmt::format("expected {} annotation \"{}\" not found; got [{}]", type,
                             e->msg.value_or("<regex>"), fmt::join(actual, "; "));
        }
      }
      for (const auto& a : actual) {
        if (std::none_of(exp.begin(), exp.end(), [&](const Expect* e) { return e->Matches(a); })) {
          return fmt::format("unexpected {} annotation \"{}\"", type, a);
        }
      }
    }
    if (cmd.HasExpect("no_warn") && !warns.empty()) {
      return fmt::format("unexpected warnings: [{}]", fmt::join(warns, "; "));
    }
    if (cmd.HasExpect("no_info") && !infos.empty()) {
      return fmt::format("unexpected infos: [{}]", fmt::join(infos, "; "));
    }
    return "";
  }

  std::string name_;
  std::ostream& out_;
  Engine engine_;
  TestStorage storage_;
  PromqlTestSummary summary_;
};

}  // namespace

Status ForEachScriptCommand(
    std::string_view script, std::string_view name,
    const std::function<Status(const std::string&, const std::vector<std::string>&, int)>& fn) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= script.size()) {
    size_t nl = script.find('\n', pos);
    if (nl == std::string_view::npos) nl = script.size();
    std::string l = Trim(script.substr(pos, nl - pos));
    if (!l.empty() && l[0] == '#') l.clear();
    lines.push_back(std::move(l));
    pos = nl + 1;
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty()) continue;
    // clear is one line; load and eval take the lines up to the next blank one.
    size_t end = i + 1;
    if (l != "clear") {
      while (end < lines.size() && !lines[end].empty()) ++end;
    }
    std::vector<std::string> body(lines.begin() + static_cast<long>(i) + 1,
                                  lines.begin() + static_cast<long>(end));
    if (Status st = fn(l, body, static_cast<int>(i + 1)); !st.ok()) {
      return Status::InvalidArgument(fmt::format("{}:{}: {}", name, i + 1, st.message()));
    }
    i = end - 1;
  }
  return Status::Ok();
}

std::string CheckTestFailure(const EvalCmd& cmd, const Status& st) {
  if (st.ok()) return "expected an error, got a result";
  for (const auto& e : cmd.expects) {
    if (e.type == "fail" && !e.Matches(st.message())) {
      return fmt::format("error \"{}\" does not match the expectation", st.message());
    }
  }
  return "";
}

std::string CheckTestOutcome(const EvalCmd& cmd, const Result<QueryResult>& res) {
  if (cmd.IsFail()) return CheckTestFailure(cmd, res.status());
  if (!res.ok()) return "unexpected error: " + res.status().message();
  return CompareTestResult(cmd, *res);
}

void RecordTestEval(PromqlTestSummary& summary, std::ostream& out, std::string_view name, int line,
                    std::string_view query, const std::string& why) {
  if (why.empty()) {
    ++summary.passed;
    return;
  }
  ++summary.failed;
  out << fmt::format("{}:{}: FAIL {}\n  {}\n", name, line, query, why);
}

Status ParseTestEval(const std::string& line, const std::vector<std::string>& body, int lineno,
                     EvalCmd& cmd) {
  cmd.line = lineno;
  std::string_view s(line);
  size_t sp = s.find(' ');
  std::string_view verb = s.substr(0, sp);
  if (verb == "eval_fail") cmd.fail = true;
  if (verb == "eval_warn") cmd.warn = true;
  if (verb == "eval_info") cmd.info = true;
  if (verb == "eval_ordered") cmd.ordered = true;
  std::string rest = Trim(s.substr(sp + 1));
  static const RE2 kInstant(R"(instant\s+at\s+(\S+)\s+(.+))");
  static const RE2 kRange(R"(range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+))");
  std::string a, b, c, q;
  if (RE2::FullMatch(rest, kInstant, &a, &q)) {
    ASSIGN_OR_RETURN(cmd.start, ParseDurationMillis(a));
    cmd.end = cmd.start;
  } else if (RE2::FullMatch(rest, kRange, &a, &b, &c, &q)) {
    cmd.range = true;
    ASSIGN_OR_RETURN(cmd.start, ParseDurationMillis(a));
    ASSIGN_OR_RETURN(cmd.end, ParseDurationMillis(b));
    ASSIGN_OR_RETURN(cmd.step, ParseDurationMillis(c));
  } else {
    return Status::InvalidArgument("invalid eval command: " + line);
  }
  cmd.query = q;
  static const RE2 kExpect(R"(expect\s+(\w+)(?:\s+(msg|regex):\s*(.*))?)");
  int pos = 0;
  for (const auto& l : body) {
    std::string type, kind, text;
    if (RE2::FullMatch(l, kExpect, &type, &kind, &text)) {
      Expect e;
      e.type = type;
      if (kind == "msg") e.msg = Trim(text);
      if (kind == "regex") e.regex = std::make_shared<RE2>(Trim(text));
      cmd.expects.push_back(std::move(e));
      continue;
    }
    if (l.rfind("expected_fail_message", 0) == 0) {
      Expect e{"fail", Trim(std::string_view(l).substr(21)), nullptr};
      cmd.expects.push_back(std::move(e));
      continue;
    }
    if (l.rfind("expected_fail_regexp", 0) == 0) {
      Expect e{"fail", std::nullopt, std::make_shared<RE2>(Trim(std::string_view(l).substr(20)))};
      cmd.expects.push_back(std::move(e));
      continue;
    }
    double num = 0;
    if (ScanNumber(l, &num) == l.size()) {
      cmd.scalar = num;
      continue;
    }
    if (l[0] == '"') {
      auto unq = GoUnquote(l);
      cmd.str = unq.ok() ? unq.value() : l;
      continue;
    }
    ASSIGN_OR_RETURN(auto desc, ParseSeriesLabels(l));
    ASSIGN_OR_RETURN(auto values, ParseValues(std::string_view(l).substr(desc.second)));
    cmd.series.push_back({std::move(desc.first), std::move(values), ++pos});
  }
  return Status::Ok();
}

std::string CompareTestResult(const EvalCmd& cmd, const QueryResult& r) {
  if (r.type == ValueType::kString) {
    if (!cmd.str || *cmd.str != r.str) return fmt::format("expected string, got \"{}\"", r.str);
    return "";
  }
  if (r.type == ValueType::kScalar) {
    if (!cmd.scalar) return fmt::format("expected vector or matrix, got scalar {}", r.scalar.v);
    if (!AlmostEqual(*cmd.scalar, r.scalar.v)) {
      return fmt::format("expected scalar {} but got {}", *cmd.scalar, r.scalar.v);
    }
    return "";
  }
  if (cmd.scalar) return "expected scalar result, got a vector or matrix";
  std::map<Labels, const ExpectedSeries*> expected;
  for (const auto& e : cmd.series) expected[e.labels] = &e;
  std::map<Labels, bool> seen;
  for (size_t k = 0; k < r.series.size(); ++k) {
    const auto& s = r.series[k];
    auto it = expected.find(s.labels);
    if (it == expected.end()) return "unexpected series in result: " + FormatPoints(s);
    if (seen[s.labels]) return "series twice in result: " + FormatLabels(s.labels);
    seen[s.labels] = true;
    const ExpectedSeries& e = *it->second;
    std::vector<Point> got = PointsOf(s);
    if (r.type == ValueType::kVector) {
      if (cmd.IsOrdered() && e.pos != static_cast<int>(k) + 1) {
        return fmt::format("expected {} at position {} but was at {}", FormatLabels(s.labels),
                           e.pos, k + 1);
      }
      Point want{0, e.values.empty() ? 0.0 : e.values[0].v,
                 e.values.empty() ? nullptr : e.values[0].h.get()};
      if (e.values.empty() || !SamePoint(want, got[0])) {
        return fmt::format("expected {} for {} but got {}", FormatPoint(want),
                           FormatLabels(s.labels), FormatPoint(got[0]));
      }
      continue;
    }
    std::vector<Point> want;
    for (size_t i = 0; i < e.values.size(); ++i) {
      // An instant query returning a range vector lists the raw samples: times unchecked.
      int64_t t = cmd.range ? cmd.start + static_cast<int64_t>(i) * cmd.step : 0;
      if (cmd.range && t > cmd.end) {
        return fmt::format("expected {} points for {}, more than the range has", e.values.size(),
                           FormatLabels(s.labels));
      }
      if (!e.values[i].omitted) want.push_back({t, e.values[i].v, e.values[i].h.get()});
    }
    if (want.size() != got.size()) {
      return fmt::format("expected {} points, got {}", want.size(), FormatPoints(s));
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if ((cmd.range && want[i].t != got[i].t) || !SamePoint(want[i], got[i])) {
        return fmt::format("expected {} at t={}, got {}", FormatPoint(want[i]), want[i].t,
                           FormatPoints(s));
      }
    }
  }
  for (const auto& [ls, e] : expected) {
    if (!seen[ls]) return "expected series not found: " + FormatLabels(ls);
  }
  return "";
}

Result<PromqlTestSummary> RunPromqlTest(std::string_view script, std::string_view name,
                                        std::ostream& out, const PromqlTestOptions& opts) {
  Runner r(name, out, opts);
  return r.Run(script);
}

}  // namespace strata::promql
