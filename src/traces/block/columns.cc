#include "traces/block/columns.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/coding.h"
#include "proto/otlp_traces.h"
#include "proto/wire.h"
#include "traces/block/format.h"

namespace strata::traces::block {
namespace {

using proto::PutBytesField;
using proto::PutFixed32Field;
using proto::PutFixed64Field;
using proto::PutVarintField;
using proto::WireReader;
using proto::WireType;

constexpr size_t kColumns = static_cast<size_t>(Column::kCount);
constexpr size_t kSpanIdSize = 8;
// A page's columns, raw, are at most twice its entries and 4 KiB (an encoder that would pass
// this keeps every trace of the page whole instead); readers hold pages to it. A single column
// is at most twice the largest page, so sums of sizes cannot overflow.
uint64_t MaxColumnBytes(uint64_t entries_bytes) { return 2 * entries_bytes + 4096; }
constexpr uint64_t kMaxColumnBytes = kMaxPageRawBytes * 2;

// The OTLP messages below a TracesData (opentelemetry/proto/trace/v1/trace.proto), as far as
// the columns keep them apart; every view borrows the page being encoded or the decoder's
// dictionary and raw column.

struct Event {
  uint64_t time = 0;
  std::string_view name;
  std::vector<ColumnAttr> attrs;
  uint64_t dropped = 0;
};

struct Link {
  std::string_view trace_id, span_id, trace_state;
  std::vector<ColumnAttr> attrs;
  uint64_t dropped = 0;
  uint32_t flags = 0;
};

struct Span {
  std::string_view trace_id, span_id, trace_state, parent_id, name;
  uint64_t kind = 0, start = 0, end = 0;
  std::vector<ColumnAttr> attrs;
  uint64_t dropped_attrs = 0;
  std::vector<Event> events;
  uint64_t dropped_events = 0;
  std::vector<Link> links;
  uint64_t dropped_links = 0;
  bool has_status = false;
  std::string_view status_message;
  uint64_t status_code = 0;
  uint32_t flags = 0;
  uint32_t name_ref = 0;  // decoding: the name's index in the dictionary
};

struct Scope {
  bool has_scope = false;
  std::string_view scope, schema_url;   // scope: the serialized InstrumentationScope
  std::vector<std::string_view> spans;  // serialized Span messages
};

struct Resource {
  bool has_resource = false;
  uint32_t ref = 0;                       // decoding: the resource's index in the dictionary
  std::string_view resource, schema_url;  // resource: the serialized Resource
  std::vector<Scope> scopes;
};

void PutStringIfAny(std::string& out, uint32_t field, std::string_view v) {
  if (!v.empty()) PutBytesField(out, field, v);
}
void PutVarintIfAny(std::string& out, uint32_t field, uint64_t v) {
  if (v != 0) PutVarintField(out, field, v);
}

// The canonical encodings: fields in number order, defaults left out, as OTLP's encoders
// write them. A message is kept in columns only when this gives back its bytes.
void AppendAttrs(std::string& out, uint32_t field, const std::vector<ColumnAttr>& attrs,
                 std::string& scratch) {
  for (const ColumnAttr& a : attrs) {
    scratch.clear();
    PutStringIfAny(scratch, 1, a.key);
    if (a.tag != ValueTag::kNoValue) {
      std::string any;
      switch (a.tag) {
        case ValueTag::kString:
          PutBytesField(any, 1, a.bytes);
          break;
        case ValueTag::kBool:
          PutVarintField(any, 2, a.bits);
          break;
        case ValueTag::kInt:
          PutVarintField(any, 3, a.bits);
          break;
        case ValueTag::kDouble:
          PutFixed64Field(any, 4, a.bits);
          break;
        default:
          any = a.bytes;
          break;
      }
      PutBytesField(scratch, 2, any);
    }
    PutBytesField(out, field, scratch);
  }
}

void AppendSpan(const Span& s, std::string& out) {
  std::string scratch, msg;
  PutStringIfAny(out, 1, s.trace_id);
  PutStringIfAny(out, 2, s.span_id);
  PutStringIfAny(out, 3, s.trace_state);
  PutStringIfAny(out, 4, s.parent_id);
  PutStringIfAny(out, 5, s.name);
  PutVarintIfAny(out, 6, s.kind);
  if (s.start != 0) PutFixed64Field(out, 7, s.start);
  if (s.end != 0) PutFixed64Field(out, 8, s.end);
  AppendAttrs(out, 9, s.attrs, scratch);
  PutVarintIfAny(out, 10, s.dropped_attrs);
  for (const Event& e : s.events) {
    msg.clear();
    if (e.time != 0) PutFixed64Field(msg, 1, e.time);
    PutStringIfAny(msg, 2, e.name);
    AppendAttrs(msg, 3, e.attrs, scratch);
    PutVarintIfAny(msg, 4, e.dropped);
    PutBytesField(out, 11, msg);
  }
  PutVarintIfAny(out, 12, s.dropped_events);
  for (const Link& l : s.links) {
    msg.clear();
    PutStringIfAny(msg, 1, l.trace_id);
    PutStringIfAny(msg, 2, l.span_id);
    PutStringIfAny(msg, 3, l.trace_state);
    AppendAttrs(msg, 4, l.attrs, scratch);
    PutVarintIfAny(msg, 5, l.dropped);
    if (l.flags != 0) PutFixed32Field(msg, 6, l.flags);
    PutBytesField(out, 13, msg);
  }
  PutVarintIfAny(out, 14, s.dropped_links);
  if (s.has_status) {
    msg.clear();
    PutStringIfAny(msg, 2, s.status_message);
    PutVarintIfAny(msg, 3, s.status_code);
    PutBytesField(out, 15, msg);
  }
  if (s.flags != 0) PutFixed32Field(out, 16, s.flags);
}

void AppendTrace(const std::vector<Resource>& resources, std::string& out) {
  std::string rs, ss;
  for (const Resource& r : resources) {
    rs.clear();
    if (r.has_resource) PutBytesField(rs, 1, r.resource);
    for (const Scope& s : r.scopes) {
      ss.clear();
      if (s.has_scope) PutBytesField(ss, 1, s.scope);
      for (std::string_view span : s.spans) PutBytesField(ss, 2, span);
      PutStringIfAny(ss, 3, s.schema_url);
      PutBytesField(rs, 2, ss);
    }
    PutStringIfAny(rs, 3, r.schema_url);
    PutBytesField(out, 1, rs);
  }
}

// Parsers: false for what the columns do not model (the message is then kept whole). What
// they accept is checked against the canonical encoding by the caller.
bool ParseValue(std::string_view any, ColumnAttr& a) {
  WireReader r(any);
  a.tag = ValueTag::kOtherValue;
  a.bytes = any;
  if (!r.NextField()) return !r.error();
  const uint32_t field = r.field();
  const uint8_t wt = r.wire_type();
  bool ok = true;
  if (field == 1 && wt == static_cast<uint8_t>(WireType::kLen)) {
    a.tag = ValueTag::kString;
    ok = r.ReadBytes(&a.bytes);
  } else if ((field == 2 || field == 3) && wt == static_cast<uint8_t>(WireType::kVarint)) {
    a.tag = field == 2 ? ValueTag::kBool : ValueTag::kInt;
    ok = r.ReadVarint(&a.bits);
  } else if (field == 4 && wt == static_cast<uint8_t>(WireType::kFixed64)) {
    a.tag = ValueTag::kDouble;
    ok = r.ReadFixed64(&a.bits);
  } else {
    return r.Skip();  // kept as its bytes
  }
  if (!ok || r.NextField() || r.error()) {
    a.tag = ValueTag::kOtherValue;  // more than one field: kept as its bytes
    a.bytes = any;
  }
  return true;
}

bool ParseAttr(std::string_view kv, std::vector<ColumnAttr>& out) {
  ColumnAttr a;
  WireReader r(kv);
  while (r.NextField()) {
    std::string_view v;
    if (r.wire_type() != static_cast<uint8_t>(WireType::kLen) || !r.ReadBytes(&v)) return false;
    if (r.field() == 1) {
      a.key = v;
    } else if (r.field() == 2) {
      if (!ParseValue(v, a)) return false;
    } else {
      return false;
    }
  }
  if (r.error()) return false;
  out.push_back(a);
  return true;
}

bool ParseEvent(std::string_view msg, Event& e) {
  WireReader r(msg);
  while (r.NextField()) {
    std::string_view v;
    bool ok = false;
    switch (r.field()) {
      case 1:
        ok = r.Expect(WireType::kFixed64) && r.ReadFixed64(&e.time);
        break;
      case 2:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&e.name);
        break;
      case 3:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&v) && ParseAttr(v, e.attrs);
        break;
      case 4:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&e.dropped);
        break;
      default:
        break;
    }
    if (!ok) return false;
  }
  return !r.error();
}

bool ParseLink(std::string_view msg, Link& l) {
  WireReader r(msg);
  while (r.NextField()) {
    std::string_view v;
    bool ok = false;
    switch (r.field()) {
      case 1:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&l.trace_id);
        break;
      case 2:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&l.span_id);
        break;
      case 3:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&l.trace_state);
        break;
      case 4:
        ok = r.Expect(WireType::kLen) && r.ReadBytes(&v) && ParseAttr(v, l.attrs);
        break;
      case 5:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&l.dropped);
        break;
      case 6:
        ok = r.Expect(WireType::kFixed32) && r.ReadFixed32(&l.flags);
        break;
      default:
        break;
    }
    if (!ok) return false;
  }
  return !r.error() && (l.trace_id.empty() || l.trace_id.size() == proto::kTraceIdSize) &&
         (l.span_id.empty() || l.span_id.size() == kSpanIdSize);
}

bool ParseStatus(std::string_view msg, Span& s) {
  s.has_status = true;
  WireReader r(msg);
  while (r.NextField()) {
    bool ok = false;
    if (r.field() == 2) ok = r.Expect(WireType::kLen) && r.ReadBytes(&s.status_message);
    if (r.field() == 3) ok = r.Expect(WireType::kVarint) && r.ReadVarint(&s.status_code);
    if (!ok) return false;
  }
  return !r.error() && s.status_code <= UINT32_MAX;
}

bool ParseSpan(std::string_view msg, Span& s) {
  WireReader r(msg);
  while (r.NextField()) {
    std::string_view v;
    bool ok = false;
    const bool len = r.wire_type() == static_cast<uint8_t>(WireType::kLen);
    switch (r.field()) {
      case 1:
        ok = len && r.ReadBytes(&s.trace_id);
        break;
      case 2:
        ok = len && r.ReadBytes(&s.span_id);
        break;
      case 3:
        ok = len && r.ReadBytes(&s.trace_state);
        break;
      case 4:
        ok = len && r.ReadBytes(&s.parent_id);
        break;
      case 5:
        ok = len && r.ReadBytes(&s.name);
        break;
      case 6:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&s.kind);
        break;
      case 7:
        ok = r.Expect(WireType::kFixed64) && r.ReadFixed64(&s.start);
        break;
      case 8:
        ok = r.Expect(WireType::kFixed64) && r.ReadFixed64(&s.end);
        break;
      case 9:
        ok = len && r.ReadBytes(&v) && ParseAttr(v, s.attrs);
        break;
      case 10:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&s.dropped_attrs);
        break;
      case 11:
        ok = len && r.ReadBytes(&v) && ParseEvent(v, s.events.emplace_back());
        break;
      case 12:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&s.dropped_events);
        break;
      case 13:
        ok = len && r.ReadBytes(&v) && ParseLink(v, s.links.emplace_back());
        break;
      case 14:
        ok = r.Expect(WireType::kVarint) && r.ReadVarint(&s.dropped_links);
        break;
      case 15:
        ok = len && r.ReadBytes(&v) && ParseStatus(v, s);
        break;
      case 16:
        ok = r.Expect(WireType::kFixed32) && r.ReadFixed32(&s.flags);
        break;
      default:
        break;
    }
    if (!ok) return false;
  }
  return !r.error() && s.span_id.size() == kSpanIdSize &&
         (s.parent_id.empty() || s.parent_id.size() == kSpanIdSize) && s.kind < UINT32_MAX;
}

bool ParseScope(std::string_view msg, Scope& s) {
  WireReader r(msg);
  while (r.NextField()) {
    std::string_view v;
    if (r.wire_type() != static_cast<uint8_t>(WireType::kLen) || !r.ReadBytes(&v)) return false;
    if (r.field() == 1) {
      s.has_scope = true;
      s.scope = v;
    } else if (r.field() == 2) {
      s.spans.push_back(v);
    } else if (r.field() == 3) {
      s.schema_url = v;
    } else {
      return false;
    }
  }
  return !r.error();
}

bool ParseTrace(std::string_view data, std::vector<Resource>& out) {
  WireReader r(data);
  while (r.NextField()) {
    std::string_view rs;
    if (r.field() != 1 || !r.Expect(WireType::kLen) || !r.ReadBytes(&rs)) return false;
    Resource& res = out.emplace_back();
    WireReader f(rs);
    while (f.NextField()) {
      std::string_view v;
      if (f.wire_type() != static_cast<uint8_t>(WireType::kLen) || !f.ReadBytes(&v)) return false;
      if (f.field() == 1) {
        res.has_resource = true;
        res.resource = v;
      } else if (f.field() == 2) {
        if (!ParseScope(v, res.scopes.emplace_back())) return false;
      } else if (f.field() == 3) {
        res.schema_url = v;
      } else {
        return false;
      }
    }
    if (f.error()) return false;
  }
  return !r.error();
}

// Encoder fills the columns of one page, trace by trace; its views borrow the entries, which
// must outlive it. With `whole`, every trace is kept whole (the raw column).
class Encoder {
  // A span of the current trace: parsed, and whether its columns give back its bytes.
  struct Pending {
    Span span;
    std::string_view bytes;
    bool columnar = false;  // else kept whole
  };

 public:
  explicit Encoder(bool whole) : whole_(whole) {}

  void AddTrace(std::string_view id, std::string_view data) {
    Col(Column::kTraceIds) += id;
    resources_.clear();
    scratch_.clear();
    if (!whole_ && ParseTrace(data, resources_)) AppendTrace(resources_, scratch_);
    if (whole_ || scratch_ != data) {  // not canonical: kept whole
      PutUvarint(Col(Column::kShape), 0);
      PutLengthPrefixed(Col(Column::kRaw), data);
      return;
    }
    // Spans first: which are kept in columns, and their IDs for parent references.
    spans_.clear();
    ids_.clear();
    uint32_t ordinal = 0;  // of the columnar spans, as the decoder counts them
    for (const Resource& r : resources_) {
      for (const Scope& s : r.scopes) {
        for (std::string_view msg : s.spans) {
          Pending& p = spans_.emplace_back();
          p.bytes = msg;
          p.columnar = ParseSpan(msg, p.span) && p.span.trace_id == id;
          if (p.columnar) {
            scratch_.clear();
            AppendSpan(p.span, scratch_);
            p.columnar = scratch_ == msg;
          }
          if (p.columnar) ids_.emplace(p.span.span_id, ordinal++);
        }
      }
    }
    std::string& shape = Col(Column::kShape);
    PutUvarint(shape, 1);
    PutUvarint(shape, resources_.size());
    uint64_t base = UINT64_MAX;
    for (const Pending& p : spans_) {
      if (p.columnar && p.span.start < base) base = p.span.start;
    }
    if (base == UINT64_MAX) base = 0;
    PutVarint(Col(Column::kTraceStarts), static_cast<int64_t>(base - last_base_));
    last_base_ = base;
    size_t next = 0;
    for (const Resource& r : resources_) {
      PutUvarint(shape, r.has_resource ? 1 + Ref(r.resource) : 0);
      PutUvarint(shape, Ref(r.schema_url));
      PutUvarint(shape, r.scopes.size());
      for (const Scope& s : r.scopes) {
        PutUvarint(shape, s.has_scope ? 1 + Ref(s.scope) : 0);
        PutUvarint(shape, Ref(s.schema_url));
        PutUvarint(shape, s.spans.size());
        for (size_t i = 0; i < s.spans.size(); ++i) AddSpan(spans_[next++], base);
      }
    }
  }

  // The raw size of the columns once the dictionary is written.
  uint64_t Seal() {
    std::string& dict = Col(Column::kDict);
    for (std::string_view s : dict_order_) PutLengthPrefixed(dict, s);
    uint64_t raw = 0;
    for (const std::string& c : columns_) raw += c.size();
    return raw;
  }

  Result<std::string> Compress(ZSTD_CCtx* cctx, int level) {
    std::string head, body;
    PutUvarint(head, kColumns);
    for (const std::string& c : columns_) {
      std::string packed(ZSTD_compressBound(c.size()), '\0');
      const size_t n =
          ZSTD_compressCCtx(cctx, packed.data(), packed.size(), c.data(), c.size(), level);
      if (ZSTD_isError(n)) {
        return Status::IOError(fmt::format("trace block: zstd: {}", ZSTD_getErrorName(n)));
      }
      const bool stored = n >= c.size();
      head.push_back(stored ? '\0' : '\1');
      PutUvarint(head, c.size());
      PutUvarint(head, stored ? c.size() : n);
      body.append(stored ? c.data() : packed.data(), stored ? c.size() : n);
    }
    return head + body;
  }

 private:
  std::string& Col(Column c) { return columns_[static_cast<size_t>(c)]; }

  uint64_t Ref(std::string_view s) {
    auto [it, added] = dict_.emplace(s, static_cast<uint32_t>(dict_order_.size()));
    if (added) dict_order_.push_back(s);
    return it->second;
  }

  void PutAttrs(const std::vector<ColumnAttr>& attrs) {
    std::string& keys = Col(Column::kAttrKeys);
    std::string& values = Col(Column::kAttrValues);
    PutUvarint(keys, attrs.size());
    for (const ColumnAttr& a : attrs) {
      PutUvarint(keys, Ref(a.key));
      values.push_back(static_cast<char>(a.tag));
      switch (a.tag) {
        case ValueTag::kString:
        case ValueTag::kOtherValue:
          PutUvarint(values, Ref(a.bytes));
          break;
        case ValueTag::kBool:
          PutUvarint(values, a.bits);
          break;
        case ValueTag::kInt:
          PutVarint(values, static_cast<int64_t>(a.bits));
          break;
        case ValueTag::kDouble:
          PutFixed64(values, a.bits);
          break;
        default:
          break;
      }
    }
  }

  void AddSpan(const Pending& p, uint64_t base) {
    if (!p.columnar) {
      PutUvarint(Col(Column::kKinds), 0);
      PutLengthPrefixed(Col(Column::kRaw), p.bytes);
      return;
    }
    const Span& s = p.span;
    PutUvarint(Col(Column::kKinds), s.kind + 1);
    Col(Column::kSpanIds) += s.span_id;
    std::string& parents = Col(Column::kParents);
    if (s.parent_id.empty()) {
      PutUvarint(parents, 0);
    } else if (auto it = ids_.find(s.parent_id); it != ids_.end()) {
      PutUvarint(parents, 2 + uint64_t{it->second});
    } else {
      PutUvarint(parents, 1);
      Col(Column::kOtherIds) += s.parent_id;
    }
    PutUvarint(Col(Column::kNames), Ref(s.name));
    PutVarint(Col(Column::kStarts), static_cast<int64_t>(s.start - base));
    PutVarint(Col(Column::kDurations), static_cast<int64_t>(s.end - s.start));
    std::string& status = Col(Column::kStatus);
    if (!s.has_status) {
      PutUvarint(status, 0);
    } else {
      PutUvarint(status, 1 + (s.status_code << 1 | (s.status_message.empty() ? 0 : 1)));
      if (!s.status_message.empty()) PutUvarint(status, Ref(s.status_message));
    }
    PutUvarint(Col(Column::kFlags), s.flags);
    PutUvarint(Col(Column::kFlags), Ref(s.trace_state));
    PutAttrs(s.attrs);
    std::string& events = Col(Column::kEvents);
    PutUvarint(events, s.events.size());
    for (const Event& e : s.events) {
      PutVarint(events, static_cast<int64_t>(e.time - s.start));
      PutUvarint(events, Ref(e.name));
      PutUvarint(events, e.dropped);
      PutAttrs(e.attrs);
    }
    std::string& links = Col(Column::kLinks);
    PutUvarint(links, s.links.size());
    for (const Link& l : s.links) {
      // Bits 0-1: no trace ID, this trace's, or one in kOtherIds; bit 2: a span ID there.
      const uint64_t trace = l.trace_id.empty() ? 0 : l.trace_id == s.trace_id ? 1 : 2;
      PutUvarint(links, trace | (l.span_id.empty() ? 0 : 4));
      if (trace == 2) Col(Column::kOtherIds) += l.trace_id;
      Col(Column::kOtherIds) += l.span_id;
      PutUvarint(links, Ref(l.trace_state));
      PutUvarint(links, l.dropped);
      PutUvarint(links, l.flags);
      PutAttrs(l.attrs);
    }
    std::string& dropped = Col(Column::kDropped);
    PutUvarint(dropped, s.dropped_attrs);
    PutUvarint(dropped, s.dropped_events);
    PutUvarint(dropped, s.dropped_links);
  }

  const bool whole_;
  std::array<std::string, kColumns> columns_;
  std::unordered_map<std::string_view, uint32_t> dict_;
  std::vector<std::string_view> dict_order_;
  uint64_t last_base_ = 0;
  // The current trace.
  std::vector<Resource> resources_;
  std::vector<Pending> spans_;
  std::unordered_map<std::string_view, uint32_t> ids_;  // columnar span IDs -> their index
  std::string scratch_;
};

Status PageCorruption(std::string_view what) {
  return Status::Corruption(fmt::format("columnar trace page: {}", what));
}

// Decoder reads a page's columns back into entries. Every read is checked, and every piece of
// output is counted against the index's raw length as it is read (a lower bound of what it
// adds), so memory stays within a small multiple of that length whatever the input. Its
// readers point into its own columns: not copyable or movable.
class Decoder {
 public:
  // Which columns a pass reads (the others are taken as empty: zeros, no attributes), and
  // what it does: decode the traces `filter` keeps (all without one); only ask `filter`
  // (Decide()); or decode the traces `decided` names, one flag per trace.
  using Active = std::array<bool, kColumns>;
  static constexpr Active kAll = [] {
    Active a{};
    a.fill(true);
    return a;
  }();

  Decoder(std::array<std::string, kColumns> columns, uint64_t raw_length, TraceFilter* filter,
          const Active& active = kAll, const std::vector<bool>* decided = nullptr)
      : columns_(std::move(columns)),
        raw_length_(raw_length),
        filter_(filter),
        active_(active),
        decided_(decided),
        budget_(raw_length) {
    for (size_t c = 0; c < kColumns; ++c) readers_.emplace_back(columns_[c]);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Which traces the filter keeps, one flag per trace, reading only the active columns.
  Result<std::vector<bool>> Decide() {
    decide_only_ = true;
    RETURN_IF_ERROR(Run().status());
    return std::move(decisions_);
  }

  Result<std::string> Run() {
    // Entries are distinct, and each non-empty one is output at least once with a field key
    // and length: 3 bytes or more.
    ByteReader& dict = R(Column::kDict);
    while (!dict.empty()) {
      std::string_view s;
      if (!dict.ReadLengthPrefixed(&s) || dict_.size() > 1 + raw_length_ / 3) {
        return Corrupt("dictionary");
      }
      dict_.push_back(s);
    }
    if (filter_ != nullptr) filter_->StartPage(dict_.size());
    std::string out;
    ByteReader& ids = R(Column::kTraceIds);
    while (!ids.empty()) {
      std::string_view id;
      if (!ids.ReadBytes(proto::kTraceIdSize, &id)) return Corrupt("trace IDs");
      trace_.clear();
      bool kept = true;
      RETURN_IF_ERROR(Trace(id, &kept));
      if (decide_only_) {
        decisions_.push_back(kept);
        continue;
      }
      if (!kept) {
        skipped_ = true;
        continue;
      }
      out += id;
      PutLengthPrefixed(out, trace_);
      if (out.size() > raw_length_) {
        return PageCorruption("the traces are larger than the index says");
      }
    }
    for (size_t c = 0; c < kColumns; ++c) {
      if (!readers_[c].empty()) {
        return Corrupt(fmt::format("column {}: bytes left", ColumnName(static_cast<Column>(c))));
      }
    }
    return out;
  }
  // Whether Run() left out traces the filter did not keep.
  bool skipped() const { return skipped_; }

 private:
  // A span of the current trace as read: its fields, or its bytes when kept whole.
  struct Parsed {
    Span span;
    bool whole = false;
    std::string_view raw;
  };

  ByteReader& R(Column c) { return readers_[static_cast<size_t>(c)]; }
  static Status Corrupt(std::string_view what) {
    return PageCorruption(fmt::format("bad {}", what));
  }
  // Counts `n` bytes of output against the page's raw length.
  bool Spend(uint64_t n) {
    if (n > budget_) return false;
    budget_ -= n;
    return true;
  }
  // Reads from column `c`; from a column left unread, a zero (an empty string).
  bool U(Column c, uint64_t* v) {
    *v = 0;
    return !active_[static_cast<size_t>(c)] || R(c).ReadUvarint(v);
  }
  bool V(Column c, int64_t* v) {
    *v = 0;
    return !active_[static_cast<size_t>(c)] || R(c).ReadVarint(v);
  }
  bool Str(Column c, std::string_view* s, uint32_t* ref = nullptr) {
    if (!active_[static_cast<size_t>(c)]) {
      *s = {};
      return true;
    }
    uint64_t i;
    if (!U(c, &i) || i >= dict_.size() || !Spend(dict_[i].size())) return false;
    *s = dict_[i];
    if (ref != nullptr) *ref = static_cast<uint32_t>(i);
    return true;
  }
  bool Bytes(Column c, size_t n, std::string_view* s) {
    if (!active_[static_cast<size_t>(c)]) return Spend(n);
    return R(c).ReadBytes(n, s) && Spend(n);
  }

  // Reads the next trace; unless the filter leaves it out (*kept false), its TracesData is
  // then in trace_.
  Status Trace(std::string_view id, bool* kept) {
    uint64_t mode;
    if (!U(Column::kShape, &mode) || mode > 1) return Corrupt("trace shape");
    if (mode == 0) {
      std::string_view raw;
      if (!R(Column::kRaw).ReadLengthPrefixed(&raw) || !Spend(raw.size()))
        return Corrupt("raw trace");
      trace_ = raw;
      if (decided_ != nullptr) ++n_trace_;
      return Status::Ok();
    }
    int64_t delta;
    if (!V(Column::kTraceStarts, &delta)) return Corrupt("trace start");
    base_ += static_cast<uint64_t>(delta);
    first_id_ = R(Column::kSpanIds).remaining();
    columnar_ = 0;
    max_ref_ = 0;
    if (filter_ != nullptr) filter_->StartTrace(id);
    resources_.clear();
    size_t n = 0;  // spans read into parsed_
    uint64_t n_resources;
    if (!U(Column::kShape, &n_resources)) return Corrupt("trace shape");
    for (uint64_t r = 0; r < n_resources; ++r) {
      Resource& res = resources_.emplace_back();
      uint64_t ref, n_scopes;
      if (!U(Column::kShape, &ref)) return Corrupt("resource");
      if (ref > 0) {
        if (ref - 1 >= dict_.size() || !Spend(dict_[ref - 1].size())) return Corrupt("resource");
        res.has_resource = true;
        res.resource = dict_[ref - 1];
        res.ref = static_cast<uint32_t>(ref - 1);
      }
      // Each resource and scope span is a field key and length at least.
      if (!Str(Column::kShape, &res.schema_url) || !U(Column::kShape, &n_scopes) || !Spend(2)) {
        return Corrupt("resource");
      }
      for (uint64_t s = 0; s < n_scopes; ++s) {
        Scope& scope = res.scopes.emplace_back();
        uint64_t n_spans;
        if (!U(Column::kShape, &ref)) return Corrupt("scope");
        if (ref > 0) {
          if (ref - 1 >= dict_.size() || !Spend(dict_[ref - 1].size())) return Corrupt("scope");
          scope.has_scope = true;
          scope.scope = dict_[ref - 1];
        }
        if (!Str(Column::kShape, &scope.schema_url) || !U(Column::kShape, &n_spans) || !Spend(2)) {
          return Corrupt("scope");
        }
        for (uint64_t i = 0; i < n_spans; ++i) {
          if (n == parsed_.size()) parsed_.emplace_back();
          Parsed& p = parsed_[n++];
          RETURN_IF_ERROR(SpanAt(id, p));
          scope.spans.emplace_back();  // its bytes, once the trace is kept
          if (filter_ != nullptr) Show(p, res);
        }
      }
    }
    if (columnar_ > 0 && max_ref_ >= columnar_) return Corrupt("parent reference");
    if (decided_ != nullptr && n_trace_ >= decided_->size()) return Corrupt("trace count");
    *kept = decided_ != nullptr ? (*decided_)[n_trace_++] : filter_ == nullptr || filter_->Keep();
    if (!*kept || decide_only_) return Status::Ok();
    if (messages_.size() < n) messages_.resize(n);
    size_t i = 0;
    for (Resource& res : resources_) {
      for (Scope& scope : res.scopes) {
        for (std::string_view& msg : scope.spans) {
          const Parsed& p = parsed_[i];
          std::string& out = messages_[i++];
          if (p.whole) {
            msg = p.raw;
            continue;
          }
          out.clear();
          AppendSpan(p.span, out);
          msg = out;
        }
      }
    }
    AppendTrace(resources_, trace_);
    return Status::Ok();
  }

  // Shows the filter span `p` of resource `res`.
  void Show(const Parsed& p, const Resource& res) {
    if (p.whole) return filter_->AddSpan(nullptr);
    const Span& s = p.span;
    SpanView v;
    v.name = s.name;
    v.status_message = s.status_message;
    v.kind = s.kind;
    v.status_code = s.status_code;
    v.start = s.start;
    v.end = s.end;
    v.resource = res.resource;
    v.name_ref = s.name_ref;
    v.resource_ref = res.has_resource ? res.ref + 1 : 0;
    v.attrs = s.attrs;
    filter_->AddSpan(&v);
  }

  bool Attrs(std::vector<ColumnAttr>& out) {
    uint64_t n;
    if (!U(Column::kAttrKeys, &n)) return false;
    for (uint64_t i = 0; i < n; ++i) {
      ColumnAttr& a = out.emplace_back();
      uint8_t tag;
      if (!Str(Column::kAttrKeys, &a.key) || !R(Column::kAttrValues).ReadByte(&tag) ||
          tag >= static_cast<uint8_t>(ValueTag::kValueTags)) {
        return false;
      }
      a.tag = static_cast<ValueTag>(tag);
      int64_t v = 0;
      bool ok = true;
      switch (a.tag) {
        case ValueTag::kString:
        case ValueTag::kOtherValue:
          ok = Str(Column::kAttrValues, &a.bytes, &a.ref);
          break;
        case ValueTag::kBool:
          ok = U(Column::kAttrValues, &a.bits);
          break;
        case ValueTag::kInt:
          ok = R(Column::kAttrValues).ReadVarint(&v);
          a.bits = static_cast<uint64_t>(v);
          break;
        case ValueTag::kDouble:
          ok = R(Column::kAttrValues).ReadFixed64(&a.bits);
          break;
        default:
          break;
      }
      if (!ok || !Spend(2)) return false;  // a KeyValue's field key and length at least
    }
    return true;
  }

  // Reads the next span into `p`.
  Status SpanAt(std::string_view trace_id, Parsed& p) {
    uint64_t kind;
    if (!U(Column::kKinds, &kind)) return Corrupt("span kind");
    p.whole = kind == 0;
    if (p.whole) {
      if (!R(Column::kRaw).ReadLengthPrefixed(&p.raw) || !Spend(p.raw.size() + 2)) {
        return Corrupt("raw span");
      }
      return Status::Ok();
    }
    ++columnar_;
    Span& s = p.span;
    Clear(s);
    s.kind = kind - 1;
    s.trace_id = trace_id;
    uint64_t parent, status, flags, n;
    int64_t start, duration;
    if (!Bytes(Column::kSpanIds, kSpanIdSize, &s.span_id) || !U(Column::kParents, &parent)) {
      return Corrupt("span ID");
    }
    if (parent == 1) {
      if (!Bytes(Column::kOtherIds, kSpanIdSize, &s.parent_id)) return Corrupt("parent ID");
    } else if (parent >= 2) {
      const uint64_t ref = parent - 2;
      const std::string_view ids = columns_[static_cast<size_t>(Column::kSpanIds)];
      const uint64_t at = ids.size() - first_id_;
      if (ref >= (ids.size() - at) / kSpanIdSize || !Spend(kSpanIdSize)) {
        return Corrupt("parent reference");
      }
      s.parent_id = ids.substr(at + ref * kSpanIdSize, kSpanIdSize);
      max_ref_ = std::max(max_ref_, ref);
    }
    if (!Str(Column::kNames, &s.name, &s.name_ref) || !V(Column::kStarts, &start) ||
        !V(Column::kDurations, &duration)) {
      return Corrupt("span name or times");
    }
    s.start = base_ + static_cast<uint64_t>(start);
    s.end = s.start + static_cast<uint64_t>(duration);
    if (!U(Column::kStatus, &status)) return Corrupt("status");
    if (status > 0) {
      s.has_status = true;
      s.status_code = (status - 1) >> 1;
      if (((status - 1) & 1) != 0 && !Str(Column::kStatus, &s.status_message)) {
        return Corrupt("status");
      }
    }
    if (!U(Column::kFlags, &flags) || flags > UINT32_MAX || !Str(Column::kFlags, &s.trace_state)) {
      return Corrupt("flags");
    }
    s.flags = static_cast<uint32_t>(flags);
    if (!Attrs(s.attrs)) return Corrupt("attributes");
    if (!U(Column::kEvents, &n)) return Corrupt("events");
    for (uint64_t i = 0; i < n; ++i) {
      Event& e = s.events.emplace_back();
      int64_t t;
      if (!V(Column::kEvents, &t) || !Str(Column::kEvents, &e.name) ||
          !U(Column::kEvents, &e.dropped) || !Attrs(e.attrs) || !Spend(2)) {
        return Corrupt("event");
      }
      e.time = s.start + static_cast<uint64_t>(t);
    }
    if (!U(Column::kLinks, &n)) return Corrupt("links");
    for (uint64_t i = 0; i < n; ++i) {
      Link& l = s.links.emplace_back();
      uint64_t bits, lflags;
      if (!U(Column::kLinks, &bits) || bits > 6 || (bits & 3) == 3) return Corrupt("link");
      if ((bits & 3) == 1) {
        if (!Spend(proto::kTraceIdSize)) return Corrupt("link");
        l.trace_id = trace_id;
      }
      if (((bits & 3) == 2 && !Bytes(Column::kOtherIds, proto::kTraceIdSize, &l.trace_id)) ||
          ((bits & 4) != 0 && !Bytes(Column::kOtherIds, kSpanIdSize, &l.span_id)) ||
          !Str(Column::kLinks, &l.trace_state) || !U(Column::kLinks, &l.dropped) ||
          !U(Column::kLinks, &lflags) || lflags > UINT32_MAX || !Attrs(l.attrs) || !Spend(2)) {
        return Corrupt("link");
      }
      l.flags = static_cast<uint32_t>(lflags);
    }
    if (!U(Column::kDropped, &s.dropped_attrs) || !U(Column::kDropped, &s.dropped_events) ||
        !U(Column::kDropped, &s.dropped_links) || !Spend(proto::kTraceIdSize)) {
      return Corrupt("dropped counts");
    }
    return Status::Ok();
  }

  // Empties `s`, keeping what its vectors hold allocated for the next span.
  static void Clear(Span& s) {
    std::vector<ColumnAttr> attrs = std::move(s.attrs);
    std::vector<Event> events = std::move(s.events);
    std::vector<Link> links = std::move(s.links);
    attrs.clear();
    events.clear();
    links.clear();
    s = Span();
    s.attrs = std::move(attrs);
    s.events = std::move(events);
    s.links = std::move(links);
  }

  const std::array<std::string, kColumns> columns_;
  const uint64_t raw_length_;
  TraceFilter* const filter_;
  const Active active_;
  const std::vector<bool>* const decided_;
  size_t n_trace_ = 0;  // the traces `decided_` has told
  bool decide_only_ = false;
  std::vector<bool> decisions_;
  std::vector<ByteReader> readers_;
  std::vector<std::string_view> dict_;
  uint64_t budget_;
  uint64_t base_ = 0;
  bool skipped_ = false;
  // The current trace: its shape, its spans as read (reused from trace to trace), their
  // rebuilt messages, and the trace rebuilt.
  std::vector<Resource> resources_;
  std::vector<Parsed> parsed_;
  std::vector<std::string> messages_;
  std::string trace_;
  size_t first_id_ = 0;  // bytes of kSpanIds left when the trace began
  uint64_t columnar_ = 0, max_ref_ = 0;
};

}  // namespace

std::string_view ColumnName(Column c) {
  static constexpr std::array<std::string_view, kColumns> kColumnNames = {
      "dict",      "trace_ids",   "shape",        "raw",    "span_ids",  "kinds",  "parents",
      "other_ids", "names",       "trace_starts", "starts", "durations", "status", "flags",
      "attr_keys", "attr_values", "events",       "links",  "dropped"};
  return kColumnNames[static_cast<size_t>(c)];
}

Result<std::string> EncodeColumnarPage(std::string_view entries, ZSTD_CCtx* cctx, int level) {
  // Columns are smaller than the entries but for odd traces (many empty events cost more as
  // columns than as protobuf): a page whose columns would pass the bound keeps every trace
  // whole, which costs a byte a trace more than the entries.
  for (bool whole : {false, true}) {
    Encoder enc(whole);
    ByteReader r(entries);
    while (!r.empty()) {
      std::string_view id, data;
      if (!r.ReadBytes(proto::kTraceIdSize, &id) || !r.ReadLengthPrefixed(&data)) {
        return Status::InvalidArgument("trace block: a truncated page entry");
      }
      enc.AddTrace(id, data);
    }
    if (enc.Seal() <= MaxColumnBytes(entries.size())) return enc.Compress(cctx, level);
  }
  return Status::InvalidArgument("trace block: a page's columns outgrow its entries");
}

namespace {

// The page's directory: each column's codec and sizes, checked against the page's size; the
// reader is left at the first column.
struct Directory {
  std::array<bool, kColumns> packed{};  // zstd, else stored
  std::array<ColumnSize, kColumns> sizes{};
};

Result<Directory> ReadDirectory(ByteReader& r) {
  Directory d;
  uint64_t n;
  if (!r.ReadUvarint(&n) || n != kColumns) return PageCorruption("unknown column count");
  uint64_t stored_total = 0;
  for (size_t c = 0; c < kColumns; ++c) {
    uint8_t codec;
    ColumnSize& size = d.sizes[c];
    if (!r.ReadByte(&codec) || codec > 1 || !r.ReadUvarint(&size.raw) ||
        !r.ReadUvarint(&size.stored) || size.raw > kMaxColumnBytes ||
        size.stored > kMaxColumnBytes) {
      return PageCorruption("bad directory");
    }
    d.packed[c] = codec == 1;
    if (!d.packed[c] && size.raw != size.stored) return PageCorruption("stored column size");
    stored_total += size.stored;
  }
  if (stored_total != r.remaining()) return PageCorruption("column sizes differ from the page");
  return d;
}

}  // namespace

Result<std::vector<ColumnSize>> ColumnSizes(std::string_view page) {
  ByteReader r(page);
  ASSIGN_OR_RETURN(Directory d, ReadDirectory(r));
  return std::vector<ColumnSize>(d.sizes.begin(), d.sizes.end());
}

Result<std::string> DecodeColumnarPage(std::string_view page, uint64_t raw_length,
                                       TraceFilter* filter) {
  ByteReader r(page);
  ASSIGN_OR_RETURN(Directory d, ReadDirectory(r));
  uint64_t raw_total = 0;
  for (const ColumnSize& size : d.sizes) raw_total += size.raw;
  if (raw_total > MaxColumnBytes(raw_length)) return PageCorruption("columns too large");
  std::array<std::string_view, kColumns> stored;
  for (size_t c = 0; c < kColumns; ++c) r.ReadBytes(d.sizes[c].stored, &stored[c]);
  // Column c as stored, decompressed when it is.
  auto column = [&](size_t c) -> Result<std::string> {
    if (!d.packed[c]) return std::string(stored[c]);
    if (ZSTD_getFrameContentSize(stored[c].data(), stored[c].size()) != d.sizes[c].raw) {
      return PageCorruption(fmt::format("column {}: size differs from the directory",
                                        ColumnName(static_cast<Column>(c))));
    }
    std::string out(d.sizes[c].raw, '\0');
    const size_t got = ZSTD_decompress(out.data(), out.size(), stored[c].data(), stored[c].size());
    if (ZSTD_isError(got) || got != d.sizes[c].raw) {
      return PageCorruption(
          fmt::format("column {}: not a valid zstd frame", ColumnName(static_cast<Column>(c))));
    }
    return out;
  };
  std::array<std::string, kColumns> columns;
  std::optional<std::vector<bool>> decided;
  if (filter != nullptr && filter->reads().two_pass) {
    // First only the columns the filter reads, to decide; the rest only if it keeps a trace.
    const TraceFilter::Reads reads = filter->reads();
    Decoder::Active active{};
    for (Column c : {Column::kDict, Column::kTraceIds, Column::kShape, Column::kRaw, Column::kKinds,
                     Column::kTraceStarts, Column::kStarts}) {
      active[static_cast<size_t>(c)] = true;
    }
    active[static_cast<size_t>(Column::kNames)] = reads.names;
    active[static_cast<size_t>(Column::kStatus)] = reads.status;
    active[static_cast<size_t>(Column::kDurations)] = reads.durations;
    for (Column c : {Column::kAttrKeys, Column::kAttrValues, Column::kEvents, Column::kLinks}) {
      active[static_cast<size_t>(c)] = reads.attrs;
    }
    std::array<std::string, kColumns> some;
    for (size_t c = 0; c < kColumns; ++c) {
      if (active[c]) {
        ASSIGN_OR_RETURN(some[c], column(c));
      }
    }
    Decoder light(std::move(some), raw_length, filter, active);
    ASSIGN_OR_RETURN(decided, light.Decide());
    if (std::find(decided->begin(), decided->end(), true) == decided->end()) return std::string();
  }
  for (size_t c = 0; c < kColumns; ++c) {
    ASSIGN_OR_RETURN(columns[c], column(c));
  }
  Decoder dec(std::move(columns), raw_length, decided ? nullptr : filter, Decoder::kAll,
              decided ? &*decided : nullptr);
  ASSIGN_OR_RETURN(std::string out, dec.Run());
  if (!dec.skipped() && out.size() != raw_length) {
    return PageCorruption("size differs from the index");
  }
  return out;
}

}  // namespace strata::traces::block
