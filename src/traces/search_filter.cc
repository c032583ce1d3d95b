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
      by_resource_(prefilter.conditions.size()) {}

void QueryFilter::StartPage(size_t dict_entries) {
  for (auto& m : by_value_) m.assign(dict_entries, -1);
  for (auto& m : by_resource_) m.assign(dict_entries + 1, -1);
  resources_.assign(dict_entries + 1, Resource());
}

void QueryFilter::StartTrace(std::string_view /*id*/) {
  std::fill(met_.begin(), met_.end(), 0);
  whole_ = false;
  spans_ = 0;
  start_ns_ = end_ns_ = 0;
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
  for (size_t i = 0; i < met_.size(); ++i) {
    if (met_[i] == 0 && Holds(prefilter_.span_tests[i], *span)) met_[i] = 1;
  }
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

// The value is found as traceql::Lookup finds it: intrinsics from the span; an attribute from
// the first of the span's attributes with that key and a value, then (unscoped) the
// resource's.
bool QueryFilter::Meets(size_t i, const block::SpanView& s) {
  using traceql::Intrinsic;
  const SpanCondition& c = prefilter_.conditions[i];
  const traceql::Attribute& a = c.attr;
  switch (a.intrinsic) {
    case Intrinsic::kName:
      return Memo(by_value_[i], s.name_ref, [&] { return MeetsString(c, s.name); });
    case Intrinsic::kStatusMessage:
      return MeetsString(c, s.status_message);
    case Intrinsic::kDuration:
      return MeetsValue(c, Static::Duration(static_cast<int64_t>(s.end - s.start)));
    case Intrinsic::kStatus:
      return MeetsValue(c, Static::Status(traceql::StatusOf(s.status_code)));
    case Intrinsic::kKind:
      return MeetsValue(c, Static::Kind(traceql::KindOf(s.kind)));
    default:
      break;
  }
  if (a.scope != traceql::Scope::kResource) {
    for (const block::ColumnAttr& attr : s.attrs) {
      if (attr.key != a.name) continue;
      switch (attr.tag) {
        case block::ValueTag::kString:
          return Memo(by_value_[i], attr.ref, [&] { return MeetsString(c, attr.bytes); });
        case block::ValueTag::kBool:
          return MeetsValue(c, Static::Bool(attr.bits != 0));
        case block::ValueTag::kInt:
          return MeetsValue(c, Static::Int(static_cast<int64_t>(attr.bits)));
        case block::ValueTag::kDouble:
          return MeetsValue(c, Static::Float(std::bit_cast<double>(attr.bits)));
        case block::ValueTag::kOtherValue: {
          std::optional<Static> v;
          if (!traceql::DecodeAnyValue(attr.bytes, &v)) return true;  // the full decode judges
          if (v) return MeetsValue(c, *v);
          continue;
        }
        default:
          continue;  // no value: as if absent
      }
    }
    if (a.scope == traceql::Scope::kSpan) return MeetsValue(c, Static::Nil());
  }
  return Memo(by_resource_[i], s.resource_ref, [&] { return MeetsResource(c, s); });
}

bool QueryFilter::MeetsResource(const SpanCondition& c, const block::SpanView& s) {
  Resource scratch;
  Resource& r = s.resource_ref < resources_.size() ? resources_[s.resource_ref] : scratch;
  if (r.state < 0) r.state = traceql::DecodeAttrs(s.resource, 1, r.attrs) ? 1 : 0;
  if (r.state == 0) return true;  // malformed: the full decode judges
  for (const auto& [key, value] : r.attrs) {
    if (key == c.attr.name) return MeetsValue(c, value);
  }
  return MeetsValue(c, Static::Nil());
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
