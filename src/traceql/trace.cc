#include "traceql/trace.h"

#include <algorithm>
#include <bit>
#include <unordered_map>

#include "proto/otlp_values.h"
#include "proto/wire.h"

namespace strata::traceql {

using proto::WireReader;
using proto::WireType;

namespace {

// A KeyValue's key and its value as TraceQL sees it.
bool DecodeKeyValue(std::string_view kv, Attrs& out) {
  WireReader r(kv);
  std::string_view key, any;
  while (r.NextField()) {
    if (r.field() == 1 && r.Expect(WireType::kLen)) {
      r.ReadBytes(&key);
    } else if (r.field() == 2 && r.Expect(WireType::kLen)) {
      r.ReadBytes(&any);
    } else {
      r.Skip();
    }
  }
  if (r.error()) return false;
  std::optional<Static> v;
  if (!DecodeAnyValue(any, &v)) return false;
  if (v) out.emplace_back(std::string(key), std::move(*v));
  return true;
}

}  // namespace

bool DecodeAnyValue(std::string_view any, std::optional<Static>* out) {
  out->reset();
  WireReader a(any);
  while (a.NextField()) {
    uint64_t u = 0;
    std::string_view s;
    switch (a.field()) {
      case 1:
        if (!a.Expect(WireType::kLen) || !a.ReadBytes(&s)) return false;
        *out = Static::Str(std::string(s));
        break;
      case 2:
        if (!a.Expect(WireType::kVarint) || !a.ReadVarint(&u)) return false;
        *out = Static::Bool(u != 0);
        break;
      case 3:
        if (!a.Expect(WireType::kVarint) || !a.ReadVarint(&u)) return false;
        *out = Static::Int(static_cast<int64_t>(u));
        break;
      case 4:
        if (!a.Expect(WireType::kFixed64) || !a.ReadFixed64(&u)) return false;
        *out = Static::Float(std::bit_cast<double>(u));
        break;
      case 5:
      case 6:
      case 7:
        if (!a.Skip()) return false;
        *out = Static::Str(proto::AnyValueString(any));
        break;
      default:
        if (!a.Skip()) return false;
    }
  }
  return !a.error();
}

bool DecodeAttrs(std::string_view msg, uint32_t field, Attrs& out) {
  WireReader r(msg);
  std::string_view kv;
  while (r.NextField()) {
    if (r.field() == field && r.wire_type() == static_cast<uint8_t>(WireType::kLen)) {
      if (!r.ReadBytes(&kv) || !DecodeKeyValue(kv, out)) return false;
    } else if (!r.Skip()) {
      return false;
    }
  }
  return !r.error();
}

SpanKind KindOf(uint64_t otlp) {
  // OTLP: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
  switch (otlp) {
    case 1:
      return SpanKind::kInternal;
    case 2:
      return SpanKind::kServer;
    case 3:
      return SpanKind::kClient;
    case 4:
      return SpanKind::kProducer;
    case 5:
      return SpanKind::kConsumer;
    default:
      return SpanKind::kUnspecified;
  }
}

SpanStatus StatusOf(uint64_t otlp) {
  // OTLP: 0 unset, 1 ok, 2 error.
  return otlp == 1 ? SpanStatus::kOk : otlp == 2 ? SpanStatus::kError : SpanStatus::kUnset;
}

namespace {

Status Malformed(std::string_view what) {
  return Status::Corruption("malformed trace: " + std::string(what));
}

bool DecodeEvent(std::string_view msg, SpanEvent& e) {
  WireReader r(msg);
  std::string_view s;
  uint64_t u = 0;
  while (r.NextField()) {
    if (r.field() == 1 && r.Expect(WireType::kFixed64) && r.ReadFixed64(&u)) {
      e.time_ns = static_cast<int64_t>(u);
    } else if (r.field() == 2 && r.Expect(WireType::kLen) && r.ReadBytes(&s)) {
      e.name = s;
    } else if (r.field() != 1 && r.field() != 2 && !r.Skip()) {
      return false;
    }
  }
  return !r.error() && DecodeAttrs(msg, 3, e.attrs);
}

bool DecodeLink(std::string_view msg, SpanLink& l) {
  WireReader r(msg);
  std::string_view s;
  while (r.NextField()) {
    if ((r.field() == 1 || r.field() == 2) && r.Expect(WireType::kLen) && r.ReadBytes(&s)) {
      (r.field() == 1 ? l.trace_id : l.span_id) = s;
    } else if (r.field() != 1 && r.field() != 2 && !r.Skip()) {
      return false;
    }
  }
  return !r.error() && DecodeAttrs(msg, 4, l.attrs);
}

bool DecodeSpan(std::string_view msg, Span& s, std::string* trace_id) {
  WireReader r(msg);
  std::string_view b;
  uint64_t u = 0;
  while (r.NextField()) {
    bool ok = true;
    switch (r.field()) {
      case 1:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        if (ok && trace_id->empty()) *trace_id = b;
        break;
      case 2:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        s.span_id = b;
        break;
      case 3:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        s.trace_state = b;
        break;
      case 4:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        s.parent_id = b;
        break;
      case 5:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        s.name = b;
        break;
      case 6:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&u);
        s.kind = KindOf(u);
        break;
      case 7:
      case 8:
        ok = r.Expect(WireType::kFixed64) && r.ReadFixed64(&u);
        (r.field() == 7 ? s.start_ns : s.end_ns) = static_cast<int64_t>(u);
        break;
      case 11: {
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        s.events.emplace_back();
        ok = ok && DecodeEvent(b, s.events.back());
        break;
      }
      case 13: {
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        s.links.emplace_back();
        ok = ok && DecodeLink(b, s.links.back());
        break;
      }
      case 15: {
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&b);
        WireReader st(b);
        std::string_view m;
        while (ok && st.NextField()) {
          if (st.field() == 2 && st.Expect(WireType::kLen) && st.ReadBytes(&m)) {
            s.status_message = m;
          } else if (st.field() == 3 && st.Expect(WireType::kVarint) && st.ReadVarint(&u)) {
            s.status = StatusOf(u);
          } else if (st.field() != 2 && st.field() != 3) {
            ok = st.Skip();
          }
        }
        ok = ok && !st.error();
        break;
      }
      default:
        ok = r.Skip();
    }
    if (!ok) return false;
  }
  return !r.error() && DecodeAttrs(msg, 9, s.attrs);
}

bool DecodeScope(std::string_view msg, InstrumentationScope& sc) {
  WireReader r(msg);
  std::string_view s;
  while (r.NextField()) {
    if ((r.field() == 1 || r.field() == 2) && r.Expect(WireType::kLen) && r.ReadBytes(&s)) {
      (r.field() == 1 ? sc.name : sc.version) = s;
    } else if (r.field() != 1 && r.field() != 2 && !r.Skip()) {
      return false;
    }
  }
  return !r.error() && DecodeAttrs(msg, 3, sc.attrs);
}

// Parents, children counts and the nested set, from the parent IDs.
void BuildTree(Trace& t) {
  std::unordered_map<std::string_view, int32_t> by_id;
  for (size_t i = 0; i < t.spans.size(); ++i) {
    by_id.emplace(t.spans[i].span_id, static_cast<int32_t>(i));
  }
  std::vector<std::vector<int32_t>> children(t.spans.size());
  std::vector<int32_t> roots;
  for (size_t i = 0; i < t.spans.size(); ++i) {
    Span& s = t.spans[i];
    auto it = s.parent_id.empty() ? by_id.end() : by_id.find(s.parent_id);
    if (it == by_id.end() || it->second == static_cast<int32_t>(i)) {
      roots.push_back(static_cast<int32_t>(i));
      continue;
    }
    s.parent = it->second;
    children[it->second].push_back(static_cast<int32_t>(i));
    ++t.spans[it->second].child_count;
  }
  // Depth-first, iteratively (traces can be deep); children in start order. A cycle of
  // parent IDs leaves its spans unnumbered (0).
  int32_t next = 1;
  for (int32_t root : roots) {
    std::vector<std::pair<int32_t, size_t>> stack{{root, 0}};
    t.spans[root].nested_left = next++;
    while (!stack.empty()) {
      auto& [i, k] = stack.back();
      auto& kids = children[i];
      if (k == 0) {
        std::sort(kids.begin(), kids.end(),
                  [&t](int32_t a, int32_t b) { return t.spans[a].start_ns < t.spans[b].start_ns; });
      }
      if (k < kids.size()) {
        int32_t c = kids[k++];
        t.spans[c].nested_left = next++;
        t.spans[c].nested_parent = t.spans[i].nested_left;
        stack.emplace_back(c, 0);
        continue;
      }
      t.spans[i].nested_right = next++;
      stack.pop_back();
    }
  }
}

const Static* Find(const Attrs& attrs, std::string_view key) {
  for (const auto& [k, v] : attrs) {
    if (k == key) return &v;
  }
  return nullptr;
}

}  // namespace

Result<Trace> DecodeTrace(std::string_view traces_data) {
  Trace t;
  WireReader top(traces_data);
  std::string_view rs, b;
  while (top.NextField()) {
    if (top.field() != 1) {
      if (!top.Skip()) break;
      continue;
    }
    if (!top.Expect(WireType::kLen) || !top.ReadBytes(&rs)) break;
    auto resource = static_cast<uint32_t>(t.resources.size());
    t.resources.emplace_back();
    WireReader r(rs);
    while (r.NextField()) {
      if (r.field() == 1 && r.Expect(WireType::kLen) && r.ReadBytes(&b)) {
        if (!DecodeAttrs(b, 1, t.resources.back())) return Malformed("resource");
      } else if (r.field() == 2 && r.Expect(WireType::kLen) && r.ReadBytes(&b)) {
        auto scope = static_cast<uint32_t>(t.scopes.size());
        t.scopes.emplace_back();
        WireReader s(b);
        std::string_view m;
        while (s.NextField()) {
          if (s.field() == 1 && s.Expect(WireType::kLen) && s.ReadBytes(&m)) {
            if (!DecodeScope(m, t.scopes.back())) return Malformed("scope");
          } else if (s.field() == 2 && s.Expect(WireType::kLen) && s.ReadBytes(&m)) {
            Span span;
            if (!DecodeSpan(m, span, &t.id)) return Malformed("span");
            span.size = static_cast<uint32_t>(m.size());
            span.resource = resource;
            span.scope = scope;
            t.spans.push_back(std::move(span));
          } else if (s.field() != 1 && s.field() != 2 && !s.Skip()) {
            break;
          }
        }
        if (s.error()) return Malformed("scope spans");
      } else if (r.field() != 1 && r.field() != 2 && !r.Skip()) {
        break;
      }
    }
    if (r.error()) return Malformed("resource spans");
  }
  if (top.error()) return Malformed("traces data");
  for (size_t i = 0; i < t.spans.size(); ++i) {
    const Span& s = t.spans[i];
    t.start_ns = i == 0 ? s.start_ns : std::min(t.start_ns, s.start_ns);
    t.end_ns = i == 0 ? s.end_ns : std::max(t.end_ns, s.end_ns);
  }
  BuildTree(t);
  for (const Span& s : t.spans) {
    if (s.parent_id.empty()) {
      t.root_name = s.name;
      if (const Static* v = Find(t.resources[s.resource], "service.name");
          v && v->type == StaticType::kString) {
        t.root_service = v->s;
      }
      break;
    }
  }
  return t;
}

std::string HexId(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Static Lookup(const Trace& t, const Span& s, const Attribute& a, int event, int link) {
  const SpanEvent* ev = event >= 0 ? &s.events[static_cast<size_t>(event)] : nullptr;
  const SpanLink* ln = link >= 0 ? &s.links[static_cast<size_t>(link)] : nullptr;
  switch (a.intrinsic) {
    case Intrinsic::kNone:
      break;
    case Intrinsic::kDuration:
      return Static::Duration(s.end_ns - s.start_ns);
    case Intrinsic::kName:
      return Static::Str(s.name);
    case Intrinsic::kStatus:
      return Static::Status(s.status);
    case Intrinsic::kStatusMessage:
      return Static::Str(s.status_message);
    case Intrinsic::kKind:
      return Static::Kind(s.kind);
    case Intrinsic::kChildCount:
      return Static::Int(s.child_count);
    case Intrinsic::kTraceRootService:
      return t.root_service.empty() ? Static::Nil() : Static::Str(t.root_service);
    case Intrinsic::kTraceRootSpan:
      return t.root_name.empty() ? Static::Nil() : Static::Str(t.root_name);
    case Intrinsic::kTraceDuration:
      return Static::Duration(t.end_ns - t.start_ns);
    case Intrinsic::kNestedSetLeft:
      return Static::Int(s.nested_left);
    case Intrinsic::kNestedSetRight:
      return Static::Int(s.nested_right);
    case Intrinsic::kNestedSetParent:
      return Static::Int(s.nested_parent);
    case Intrinsic::kEventName:
      return ev ? Static::Str(ev->name) : Static::Nil();
    case Intrinsic::kEventTimeSinceStart:
      return ev ? Static::Duration(ev->time_ns - s.start_ns) : Static::Nil();
    case Intrinsic::kLinkSpanId:
      return ln ? Static::Str(HexId(ln->span_id)) : Static::Nil();
    case Intrinsic::kLinkTraceId:
      return ln ? Static::Str(HexId(ln->trace_id)) : Static::Nil();
    case Intrinsic::kInstrumentationName:
      return Static::Str(t.scopes[s.scope].name);
    case Intrinsic::kInstrumentationVersion:
      return Static::Str(t.scopes[s.scope].version);
    case Intrinsic::kParent:
      return Static::Nil();
    case Intrinsic::kTraceId: {
      std::string hex = HexId(t.id);
      hex.erase(0, hex.find_first_not_of('0'));
      return Static::Str(hex);
    }
    case Intrinsic::kSpanId:
      return Static::Str(HexId(s.span_id));
    case Intrinsic::kParentId:
      return s.parent_id.empty() ? Static::Nil() : Static::Str(HexId(s.parent_id));
  }
  const Span* owner = &s;
  if (a.parent) {
    if (s.parent < 0) return Static::Nil();
    owner = &t.spans[static_cast<size_t>(s.parent)];
  }
  const Static* v = nullptr;
  switch (a.scope) {
    case Scope::kNone:
      v = Find(owner->attrs, a.name);
      if (!v) v = Find(t.resources[owner->resource], a.name);
      break;
    case Scope::kSpan:
      v = Find(owner->attrs, a.name);
      break;
    case Scope::kResource:
      v = Find(t.resources[owner->resource], a.name);
      break;
    case Scope::kEvent:
      if (ev) v = Find(ev->attrs, a.name);
      break;
    case Scope::kLink:
      if (ln) v = Find(ln->attrs, a.name);
      break;
    case Scope::kInstrumentation:
      v = Find(t.scopes[owner->scope].attrs, a.name);
      break;
  }
  return v ? *v : Static::Nil();
}

}  // namespace strata::traceql
