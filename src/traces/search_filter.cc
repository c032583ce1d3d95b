#include "traces/search_filter.h"

#include <algorithm>
#include <bit>

namespace strata::traces {

using traceql::Prefilter;
using traceql::SpanCondition;
using traceql::SpanTest;
using traceql::Static;
using traceql::StaticType;
using traceql::TraceTest;

namespace {

// What `fn` gives, remembered in `memo` at `i` (when the page has such an index).
template <typename Fn>
bool Memo(std::vector<int8_t>& memo, size_t i, Fn fn) {
  if (i >= memo.size()) return fn();
  if (memo[i] < 0) memo[i] = fn() ? 1 : 0;
  return memo[i] != 0;
}

}  // namespace

QueryFilter::QueryFilter(const Prefilter& prefilter, std::optional<TraceBounds> bounds)
    : prefilter_(prefilter),
      bounds_(bounds),
      met_(prefilter.span_tests.size()),
      by_value_(prefilter.conditions.size()),
      by_resource_(prefilter.conditions.size()) {
  for (const SpanCondition& c : prefilter.conditions) Reading(c.attr);
  reads_of_.durations = reads_of_.durations || bounds.has_value();
}

void QueryFilter::Reading(const traceql::Attribute& a) {
  using traceql::Intrinsic;
  switch (a.intrinsic) {
    case Intrinsic::kName:
      reads_of_.names = true;
      return;
    case Intrinsic::kStatus:
    case Intrinsic::kStatusMessage:
      reads_of_.status = true;
      return;
    case Intrinsic::kDuration:
      reads_of_.durations = true;
      return;
    case Intrinsic::kNone:
      reads_of_.attrs = reads_of_.attrs || a.scope != traceql::Scope::kResource;
      return;
    default:
      return;  // kind: always read
  }
}

void QueryFilter::StartPage(size_t dict_entries) {
  for (auto& m : by_value_) m.assign(dict_entries, -1);
  for (auto& m : by_resource_) m.assign(dict_entries + 1, -1);
  resources_.assign(dict_entries + 1, Resource());
}

bool QueryFilter::CanCount(const traceql::MetricsExpr& m, const Prefilter& prefilter) {
  using traceql::Element;
  if (m.kind != traceql::MetricsExpr::Kind::kQuery || m.first.op == traceql::MetricsOp::kCompare ||
      !prefilter.exact || prefilter.span_tests.size() != 1 || m.pipeline.elements.size() != 1) {
    return false;
  }
  const Element& el = m.pipeline.elements[0];
  if (el.kind != Element::Kind::kSpanset ||
      el.spanset->kind != traceql::SpansetExpr::Kind::kFilter) {
    return false;
  }
  if (m.first.attr && !traceql::Prefilterable(*m.first.attr)) return false;
  return std::all_of(m.first.by.begin(), m.first.by.end(),
                     [](const traceql::Attribute& a) { return traceql::Prefilterable(a); });
}

void QueryFilter::CountInto(const traceql::MetricsExpr& m, traceql::MetricsEvaluator& eval) {
  eval_ = &eval;
  reads_ = m.first.by;
  if (m.first.attr) reads_.push_back(*m.first.attr);
  for (const traceql::Attribute& a : reads_) Reading(a);
  reads_of_.two_pass = true;
}

void QueryFilter::StartTrace(std::string_view /*id*/) {
  std::fill(met_.begin(), met_.end(), 0);
  whole_ = false;
  spans_ = 0;
  start_ns_ = end_ns_ = 0;
  n_counted_ = 0;
}

void QueryFilter::AddSpan(const block::SpanView* span) {
  if (span == nullptr) {
    whole_ = true;
    return;
  }
  const auto start = static_cast<int64_t>(span->start), end = static_cast<int64_t>(span->end);
  start_ns_ = spans_ == 0 ? start : std::min(start_ns_, start);
  end_ns_ = spans_ == 0 ? end : std::max(end_ns_, end);
  ++spans_;
  if (eval_ != nullptr) {
    // One span test, which the filter's spans meet exactly.
    if (!whole_ && Holds(prefilter_.span_tests[0], *span) && !Buffer(*span)) whole_ = true;
    return;
  }
  for (size_t i = 0; i < met_.size(); ++i) {
    if (met_[i] == 0 && Holds(prefilter_.span_tests[i], *span)) met_[i] = 1;
  }
}

bool QueryFilter::Buffer(const block::SpanView& s) {
  if (n_counted_ == counted_.size()) counted_.emplace_back();
  auto& [start, values] = counted_[n_counted_++];
  start = static_cast<int64_t>(s.start);
  values.resize(reads_.size());
  Found f;
  for (size_t i = 0; i < reads_.size(); ++i) {
    Find(reads_[i], s, f);
    switch (f.kind) {
      case Found::Kind::kNil:
        values[i] = Static::Nil();
        break;
      case Found::Kind::kString:
        values[i] = Static::Str(std::string(f.str));
        break;
      case Found::Kind::kValue:
        values[i] = *f.value;
        break;
      case Found::Kind::kUnknown:
        return false;
    }
  }
  return true;
}

bool QueryFilter::Keep() {
  if (whole_) return true;
  if (spans_ == 0) return false;  // no span, no spanset
  if (start_ns_ < start_floor_) return false;
  if (bounds_) {
    const TraceBounds& b = *bounds_;
    const int64_t duration = end_ns_ - start_ns_;
    if (end_ns_ < b.start_ns || start_ns_ > b.end_ns || duration < b.min_duration_ns ||
        (b.max_duration_ns > 0 && duration > b.max_duration_ns)) {
      return false;
    }
  }
  if (eval_ != nullptr) {
    for (size_t i = 0; i < n_counted_; ++i) {
      const std::vector<Static>& values = counted_[i].second;
      eval_->AddSpan(counted_[i].first, [&](const traceql::Attribute& a) {
        const auto at = std::find(reads_.begin(), reads_.end(), a);
        return at == reads_.end() ? Static::Nil()
                                  : values[static_cast<size_t>(at - reads_.begin())];
      });
    }
    return false;
  }
  return Passes(prefilter_.trace);
}

bool QueryFilter::Passes(const TraceTest& t) const {
  switch (t.kind) {
    case TraceTest::Kind::kAll:
      return true;
    case TraceTest::Kind::kSome:
      return met_[t.test] != 0;
    case TraceTest::Kind::kAnd:
      return std::all_of(t.children.begin(), t.children.end(),
                         [this](const TraceTest& c) { return Passes(c); });
    case TraceTest::Kind::kOr:
      return std::any_of(t.children.begin(), t.children.end(),
                         [this](const TraceTest& c) { return Passes(c); });
  }
  return true;
}

bool QueryFilter::Holds(const SpanTest& t, const block::SpanView& s) {
  switch (t.kind) {
    case SpanTest::Kind::kAny:
      return true;
    case SpanTest::Kind::kCondition:
      return Meets(t.condition, s);
    case SpanTest::Kind::kAnd:
      return std::all_of(t.children.begin(), t.children.end(),
                         [&](const SpanTest& c) { return Holds(c, s); });
    case SpanTest::Kind::kOr:
      return std::any_of(t.children.begin(), t.children.end(),
                         [&](const SpanTest& c) { return Holds(c, s); });
  }
  return true;
}

// As traceql::Lookup finds it: intrinsics from the span; an attribute from the first of the
// span's attributes with that key and a value, then (unscoped) the resource's.
void QueryFilter::Find(const traceql::Attribute& a, const block::SpanView& s, Found& f) {
  using traceql::Intrinsic;
  f.kind = Found::Kind::kValue;
  f.value = &f.owned;
  f.ref = kNoRef;
  f.from_resource = false;
  switch (a.intrinsic) {
    case Intrinsic::kName:
      f.kind = Found::Kind::kString;
      f.str = s.name;
      f.ref = s.name_ref;
      return;
    case Intrinsic::kStatusMessage:
      f.kind = Found::Kind::kString;
      f.str = s.status_message;
      return;
    case Intrinsic::kDuration:
      f.owned = Static::Duration(static_cast<int64_t>(s.end - s.start));
      return;
    case Intrinsic::kStatus:
      f.owned = Static::Status(traceql::StatusOf(s.status_code));
      return;
    case Intrinsic::kKind:
      f.owned = Static::Kind(traceql::KindOf(s.kind));
      return;
    default:
      break;
  }
  if (a.scope != traceql::Scope::kResource) {
    for (const block::ColumnAttr& attr : s.attrs) {
      if (attr.key != a.name) continue;
      switch (attr.tag) {
        case block::ValueTag::kString:
          f.kind = Found::Kind::kString;
          f.str = attr.bytes;
          f.ref = attr.ref;
          return;
        case block::ValueTag::kBool:
          f.owned = Static::Bool(attr.bits != 0);
          return;
        case block::ValueTag::kInt:
          f.owned = Static::Int(static_cast<int64_t>(attr.bits));
          return;
        case block::ValueTag::kDouble:
          f.owned = Static::Float(std::bit_cast<double>(attr.bits));
          return;
        case block::ValueTag::kOtherValue: {
          std::optional<Static> v;
          if (!traceql::DecodeAnyValue(attr.bytes, &v)) {
            f.kind = Found::Kind::kUnknown;
            return;
          }
          if (!v) continue;
          f.owned = std::move(*v);
          return;
        }
        default:
          continue;  // no value: as if absent
      }
    }
    if (a.scope == traceql::Scope::kSpan) {
      f.kind = Found::Kind::kNil;
      return;
    }
  }
  const Resource& r = ResourceOf(s);
  if (r.state == 0) {
    f.kind = Found::Kind::kUnknown;
    return;
  }
  f.from_resource = true;
  for (const auto& [key, value] : r.attrs) {
    if (key == a.name) {
      f.value = &value;
      return;
    }
  }
  f.kind = Found::Kind::kNil;
}

QueryFilter::Resource& QueryFilter::ResourceOf(const block::SpanView& s) {
  Resource* r = &scratch_;
  if (s.resource_ref < resources_.size()) {
    r = &resources_[s.resource_ref];
  } else {
    scratch_ = Resource();
  }
  if (r->state < 0) r->state = traceql::DecodeAttrs(s.resource, 1, r->attrs) ? 1 : 0;
  return *r;
}

bool QueryFilter::Meets(size_t i, const block::SpanView& s) {
  const SpanCondition& c = prefilter_.conditions[i];
  Found f;
  Find(c.attr, s, f);
  switch (f.kind) {
    case Found::Kind::kUnknown:
      return true;  // malformed: the full decode judges
    case Found::Kind::kNil:
      return MeetsValue(c, Static::Nil());
    case Found::Kind::kString:
      if (f.ref == kNoRef) return MeetsString(c, f.str);
      return Memo(by_value_[i], f.ref, [&] { return MeetsString(c, f.str); });
    case Found::Kind::kValue:
      if (!f.from_resource) return MeetsValue(c, *f.value);
      return Memo(by_resource_[i], s.resource_ref, [&] { return MeetsValue(c, *f.value); });
  }
  return true;
}

bool QueryFilter::MeetsValue(const SpanCondition& c, const Static& v) {
  if (c.op == traceql::Op::kExists) return v.type != StaticType::kNil;
  Static r = c.value_on_left ? ops_.Binary(c.op, c.value, v) : ops_.Binary(c.op, v, c.value);
  return r.type == StaticType::kBoolean && r.i != 0;
}

bool QueryFilter::MeetsString(const SpanCondition& c, std::string_view v) {
  using traceql::Op;
  if (c.value.type == StaticType::kString) {
    // Without building a Static: what FieldOps gives for two strings.
    if (c.op == Op::kEq || c.op == Op::kNeq) return (v == c.value.s) == (c.op == Op::kEq);
    if ((c.op == Op::kRegex || c.op == Op::kNotRegex) && !c.value_on_left) {
      return ops_.RegexMatch(c.value.s, v) == (c.op == Op::kRegex);
    }
  }
  return MeetsValue(c, Static::Str(std::string(v)));
}

}  // namespace strata::traces
