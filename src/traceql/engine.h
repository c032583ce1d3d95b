#pragma once

// Evaluates TraceQL pipelines (a search query's, or a metrics query's before its first
// stage) over one trace, as Tempo does: the trace's spans are one spanset, and each pipeline
// stage maps spansets to spansets (filters keep the spans they match, spanset operators
// combine both sides' matches or relate them through the span tree, scalar filters keep the
// spansets whose aggregate compares true, by() splits them, coalesce() joins them). The trace
// matches when a spanset is left.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "traceql/ast.h"
#include "traceql/trace.h"

namespace re2 {
class RE2;
}

namespace strata::traceql {

struct Spanset {
  std::vector<int32_t> spans;  // indexes into Trace::spans, ascending
  Attrs attrs;                 // by() values, as Tempo names them ("by(.a)")
};

// `l op r` inside a filter, as Tempo evaluates it: a comparison with nil is false (`.a != 1`
// needs an a), regexes match whole strings, the rest is EvalBinary (nil on its errors).
// Not thread-safe: it caches compiled regexes.
class FieldOps {
 public:
  FieldOps();
  ~FieldOps();
  Static Binary(Op op, const Static& l, const Static& r);
  // Whether `value` matches `pattern` whole (false for an invalid pattern).
  bool RegexMatch(const std::string& pattern, std::string_view value);

 private:
  std::unordered_map<std::string, std::unique_ptr<re2::RE2>> regexes_;
};

// Not thread-safe (it caches compiled regexes); one per query and thread.
class SearchEvaluator {
 public:
  // `pipeline` (a search query's, or a metrics query's before its first stage) must be
  // validated and outlive this object.
  explicit SearchEvaluator(const Pipeline& pipeline);
  ~SearchEvaluator();

  // The spansets `t` yields.
  std::vector<Spanset> Eval(const Trace& t);
  // Whether span `s` of `t` meets `filter` (the expression inside `{ }`), as a filter stage
  // decides it.
  bool SpanMatches(const Trace& t, const FieldExpr& filter, const Span& s);
  // The attributes select() asks for, in order.
  const std::vector<Attribute>& selected() const { return selected_; }

 private:
  std::vector<Spanset> EvalPipeline(const Pipeline& p, std::vector<Spanset> in);
  std::vector<Spanset> EvalElement(const Element& el, std::vector<Spanset> in);
  std::vector<Spanset> EvalSpanset(const SpansetExpr& e, const std::vector<Spanset>& in);
  std::vector<int32_t> Relate(Op op, const std::vector<int32_t>& lhs,
                              const std::vector<int32_t>& rhs) const;
  bool Matches(const FieldExpr& f, const Span& s);
  Static EvalField(const FieldExpr& e, const Span& s, int event, int link);
  Static EvalScalar(const ScalarExpr& e, const Spanset& ss);

  const Pipeline& pipeline_;
  const Trace* trace_ = nullptr;
  std::vector<Attribute> selected_;
  FieldOps ops_;
};

}  // namespace strata::traceql
