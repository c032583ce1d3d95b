#include "proto/otlp_traces.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "base/encoding.h"
#include "proto/otlp.h"
#include "proto/wire.h"

namespace strata::proto {
namespace {

// The fields SplitByTrace and AssembleTrace read of one ResourceSpans, borrowed from it.
struct SpanView {
  std::string_view bytes;
  std::string_view trace_id;
  std::string_view span_id;
  uint64_t kind = 0;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};
struct ScopeView {
  std::string_view scope;  // serialized InstrumentationScope
  bool has_scope = false;
  std::string_view schema_url;
  std::vector<SpanView> spans;
};
struct ResourceView {
  std::string_view resource;  // serialized Resource
  bool has_resource = false;
  std::string_view schema_url;
  std::vector<ScopeView> scopes;
};

// A span of a ResourceView: its scope's index and its index there.
struct SpanRef {
  uint32_t scope = 0;
  uint32_t span = 0;
};

bool ParseSpan(std::string_view data, SpanView& s) {
  s.bytes = data;
  WireReader r(data);
  while (r.NextField()) {
    switch (r.field()) {
      case 1:
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s.trace_id)) return false;
        break;
      case 2:
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s.span_id)) return false;
        break;
      case 6:
        if (!r.Expect(WireType::kVarint) || !r.ReadVarint(&s.kind)) return false;
        break;
      case 7:
        if (!r.Expect(WireType::kFixed64) || !r.ReadFixed64(&s.start_ns)) return false;
        break;
      case 8:
        if (!r.Expect(WireType::kFixed64) || !r.ReadFixed64(&s.end_ns)) return false;
        break;
      default:
        if (!r.Skip()) return false;
    }
  }
  return !r.error();
}

bool ParseScopeSpans(std::string_view data, ScopeView& sc) {
  WireReader r(data);
  while (r.NextField()) {
    std::string_view v;
    if (r.field() < 1 || r.field() > 3) {
      if (!r.Skip()) return false;
      continue;
    }
    if (!r.Expect(WireType::kLen) || !r.ReadBytes(&v)) return false;
    if (r.field() == 1) {
      sc.scope = v;
      sc.has_scope = true;
    } else if (r.field() == 2) {
      if (!ParseSpan(v, sc.spans.emplace_back())) return false;
    } else {
      sc.schema_url = v;
    }
  }
  return !r.error();
}

bool ParseResourceSpans(std::string_view data, ResourceView& rv) {
  WireReader r(data);
  while (r.NextField()) {
    std::string_view v;
    if (r.field() < 1 || r.field() > 3) {
      if (!r.Skip()) return false;
      continue;
    }
    if (!r.Expect(WireType::kLen) || !r.ReadBytes(&v)) return false;
    if (r.field() == 1) {
      rv.resource = v;
      rv.has_resource = true;
    } else if (r.field() == 2) {
      if (!ParseScopeSpans(v, rv.scopes.emplace_back())) return false;
    } else {
      rv.schema_url = v;
    }
  }
  return !r.error();
}

// Appends the serialized ResourceSpans holding `rv`'s resource and the spans `refs` name (in
// scope order), each scope once.
void EncodeResourceSpans(const ResourceView& rv, std::span<const SpanRef> refs, std::string& out) {
  if (rv.has_resource) PutBytesField(out, 1, rv.resource);
  std::string scope;
  for (size_t i = 0; i < refs.size();) {
    const ScopeView& sc = rv.scopes[refs[i].scope];
    scope.clear();
    if (sc.has_scope) PutBytesField(scope, 1, sc.scope);
    size_t j = i;
    for (; j < refs.size() && refs[j].scope == refs[i].scope; ++j) {
      PutBytesField(scope, 2, sc.spans[refs[j].span].bytes);
    }
    if (!sc.schema_url.empty()) PutBytesField(scope, 3, sc.schema_url);
    PutBytesField(out, 2, scope);
    i = j;
  }
  if (!rv.schema_url.empty()) PutBytesField(out, 3, rv.schema_url);
}

int64_t ClampNanos(uint64_t ns) {
  return static_cast<int64_t>(std::min<uint64_t>(ns, std::numeric_limits<int64_t>::max()));
}

// Widens [start, end] to hold the span.
void Widen(const SpanView& s, int64_t& start, int64_t& end) {
  start = std::min(start, ClampNanos(s.start_ns));
  end = std::max({end, ClampNanos(s.end_ns), ClampNanos(s.start_ns)});
}

}  // namespace

Result<SplitTraces> SplitByTrace(std::string_view request) {
  SplitTraces out;
  out.bytes = request.size();
  WireReader r(request);
  std::unordered_map<std::string_view, size_t> group_of;  // trace ID -> index in groups
  std::vector<std::vector<SpanRef>> groups;
  std::vector<std::string_view> group_ids;
  while (r.NextField()) {
    std::string_view data;
    if (r.field() != 1) {
      if (!r.Skip()) break;
      continue;
    }
    if (!r.Expect(WireType::kLen) || !r.ReadBytes(&data)) break;
    ResourceView rv;
    if (!ParseResourceSpans(data, rv)) {
      return Status::InvalidArgument("malformed OTLP request: invalid ResourceSpans");
    }
    group_of.clear();
    groups.clear();
    group_ids.clear();
    for (uint32_t si = 0; si < rv.scopes.size(); ++si) {
      const auto& spans = rv.scopes[si].spans;
      for (uint32_t i = 0; i < spans.size(); ++i) {
        const SpanView& s = spans[i];
        std::string_view problem;
        if (s.trace_id.size() != kTraceIdSize || IsZeroId(s.trace_id)) {
          problem = "trace_id";
        } else if (s.span_id.size() != kSpanIdSize || IsZeroId(s.span_id)) {
          problem = "span_id";
        }
        if (!problem.empty()) {
          if (out.invalid++ == 0) {
            out.invalid_message =
                fmt::format("span with an invalid {} ({} bytes, {} non-zero bytes required)",
                            problem, problem == "trace_id" ? s.trace_id.size() : s.span_id.size(),
                            problem == "trace_id" ? kTraceIdSize : kSpanIdSize);
          }
          continue;
        }
        auto [it, added] = group_of.emplace(s.trace_id, groups.size());
        if (added) {
          groups.emplace_back();
          group_ids.push_back(s.trace_id);
        }
        groups[it->second].push_back({si, i});
      }
    }
    for (size_t g = 0; g < groups.size(); ++g) {
      TraceFragment& f = out.fragments.emplace_back();
      f.trace_id = std::string(group_ids[g]);
      EncodeResourceSpans(rv, groups[g], f.resource_spans);
      f.start_ns = std::numeric_limits<int64_t>::max();
      for (const SpanRef& ref : groups[g]) {
        Widen(rv.scopes[ref.scope].spans[ref.span], f.start_ns, f.end_ns);
      }
      f.spans = static_cast<uint32_t>(groups[g].size());
      out.spans += f.spans;
    }
  }
  if (r.error()) {
    return Status::InvalidArgument(
        "malformed OTLP request: truncated or invalid protobuf in ExportTraceServiceRequest");
  }
  return out;
}

std::string AssembleTrace(const std::vector<std::string_view>& fragments, uint64_t* spans) {
  std::vector<ResourceView> views(fragments.size());
  // A span's identity as Tempo's combiner has it: its ID and kind (Zipkin's shared spans
  // give a client and a server span one ID).
  std::unordered_set<std::string> seen;
  std::vector<std::vector<SpanRef>> kept(fragments.size());
  uint64_t count = 0;
  bool duplicates = false;
  std::string key;
  for (size_t f = 0; f < fragments.size(); ++f) {
    // Stored fragments were written by SplitByTrace; a damaged one is left out whole.
    if (!ParseResourceSpans(fragments[f], views[f])) continue;
    const auto& rv = views[f];
    for (uint32_t si = 0; si < rv.scopes.size(); ++si) {
      for (uint32_t i = 0; i < rv.scopes[si].spans.size(); ++i) {
        const SpanView& s = rv.scopes[si].spans[i];
        key.assign(s.span_id);
        key.append(reinterpret_cast<const char*>(&s.kind), sizeof(s.kind));
        if (!seen.insert(key).second) {
          duplicates = true;
          continue;
        }
        kept[f].push_back({si, i});
        ++count;
      }
    }
  }
  std::string out;
  std::string rs;
  for (size_t f = 0; f < fragments.size(); ++f) {
    if (kept[f].empty()) continue;
    if (!duplicates) {
      PutBytesField(out, 1, fragments[f]);
      continue;
    }
    rs.clear();
    EncodeResourceSpans(views[f], kept[f], rs);
    PutBytesField(out, 1, rs);
  }
  if (spans != nullptr) *spans = count;
  return out;
}

std::string MergeTraces(const std::vector<std::string_view>& traces_data, uint64_t* spans) {
  std::vector<std::string_view> fragments;
  for (std::string_view td : traces_data) {
    WireReader r(td);
    while (r.NextField()) {
      std::string_view rs;
      if (r.field() == 1 && r.wire_type() == static_cast<uint8_t>(WireType::kLen) &&
          r.ReadBytes(&rs)) {
        fragments.push_back(rs);
      } else if (!r.Skip()) {
        break;
      }
    }
  }
  return AssembleTrace(fragments, spans);
}

Result<TraceSummary> SummarizeTrace(std::string_view traces_data) {
  TraceSummary out;
  WireReader r(traces_data);
  ResourceView rv;
  while (r.NextField()) {
    std::string_view data;
    if (r.field() != 1) {
      if (!r.Skip()) break;
      continue;
    }
    rv.scopes.clear();
    if (!r.Expect(WireType::kLen) || !r.ReadBytes(&data) || !ParseResourceSpans(data, rv)) {
      return Status::Corruption("malformed trace: invalid ResourceSpans");
    }
    for (const ScopeView& sc : rv.scopes) {
      for (const SpanView& s : sc.spans) Widen(s, out.start_ns, out.end_ns);
      out.spans += sc.spans.size();
    }
  }
  if (r.error()) return Status::Corruption("malformed trace: truncated or invalid TracesData");
  return out;
}

}  // namespace strata::proto
