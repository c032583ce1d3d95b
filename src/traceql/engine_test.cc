#include "traceql/engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/wire.h"
#include "traceql/parser.h"
#include "traceql/trace.h"

namespace strata::traceql {
namespace {

using proto::PutBytesField;
using proto::PutKey;
using proto::PutVarintField;
using proto::WireType;

constexpr int64_t kMs = 1'000'000;

std::string StringAttr(std::string_view key, std::string_view value) {
  std::string any, kv;
  PutBytesField(any, 1, value);
  PutBytesField(kv, 1, key);
  PutBytesField(kv, 2, any);
  return kv;
}

std::string IntAttr(std::string_view key, int64_t value) {
  std::string any, kv;
  PutVarintField(any, 3, static_cast<uint64_t>(value));
  PutBytesField(kv, 1, key);
  PutBytesField(kv, 2, any);
  return kv;
}

void PutTime(std::string& out, uint32_t field, int64_t ns) {
  PutKey(out, field, WireType::kFixed64);
  PutFixed64(out, static_cast<uint64_t>(ns));
}

struct SpanSpec {
  char id;
  char parent;  // 0: a root
  std::string name;
  int kind;    // OTLP's: 1 internal, 2 server, 3 client
  int status;  // OTLP's: 0 unset, 1 ok, 2 error
  int64_t start_ms, end_ms;
  std::vector<std::string> attrs;  // serialized KeyValues
  std::string event;               // a serialized Event, or none
};

std::string SpanId(char c) { return std::string(1, c) + std::string(7, '\x01'); }

std::string EncodeSpan(const SpanSpec& s) {
  std::string out;
  PutBytesField(out, 1, std::string(16, '\x0a'));
  PutBytesField(out, 2, SpanId(s.id));
  if (s.parent != 0) PutBytesField(out, 4, SpanId(s.parent));
  PutBytesField(out, 5, s.name);
  PutVarintField(out, 6, static_cast<uint64_t>(s.kind));
  PutTime(out, 7, 1'700'000'000'000 * kMs + s.start_ms * kMs);
  PutTime(out, 8, 1'700'000'000'000 * kMs + s.end_ms * kMs);
  for (const std::string& a : s.attrs) PutBytesField(out, 9, a);
  if (!s.event.empty()) PutBytesField(out, 11, s.event);
  std::string status;
  PutVarintField(status, 3, static_cast<uint64_t>(s.status));
  PutBytesField(out, 15, status);
  return out;
}

// One ResourceSpans of `service` with `spans`, all from scope "lib".
std::string ResourceSpans(std::string_view service, const std::vector<SpanSpec>& spans) {
  std::string resource, scope, scope_spans, rs;
  PutBytesField(resource, 1, StringAttr("service.name", service));
  PutBytesField(scope, 1, "lib");
  PutBytesField(scope_spans, 1, scope);
  for (const SpanSpec& s : spans) PutBytesField(scope_spans, 2, EncodeSpan(s));
  PutBytesField(rs, 1, resource);
  PutBytesField(rs, 2, scope_spans);
  return rs;
}

// frontend: A "GET /" (server, ok) -> B "call backend" (client);
// backend:  C "handle" (server, error, an exception event) under B -> D, E "SELECT" (client).
Trace Sample() {
  std::string event;
  PutTime(event, 1, 1'700'000'000'000 * kMs + 25 * kMs);
  PutBytesField(event, 2, "exception");
  PutBytesField(event, 3, StringAttr("exception.type", "IOError"));
  std::string data;
  PutBytesField(
      data, 1,
      ResourceSpans(
          "frontend",
          {{'A', 0, "GET /", 2, 1, 0, 100, {StringAttr("http.method", "GET")}, ""},
           {'B', 'A', "call backend", 3, 0, 10, 90, {StringAttr("peer", "backend")}, ""}}));
  PutBytesField(
      data, 1,
      ResourceSpans(
          "backend",
          {{'C', 'B', "handle", 2, 2, 20, 80, {IntAttr("http.status_code", 500)}, event},
           {'D', 'C', "SELECT", 3, 0, 30, 40, {StringAttr("db.system", "postgres")}, ""},
           {'E', 'C', "SELECT", 3, 0, 50, 70, {StringAttr("db.system", "postgres")}, ""}}));
  auto t = DecodeTrace(data);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return std::move(*t);
}

// The spansets `query` yields over the sample trace, each as its spans' letters.
std::vector<std::string> Search(std::string_view query) {
  static const Trace kTrace = Sample();
  const Trace& t = kTrace;
  auto q = Parse(query);
  EXPECT_TRUE(q.ok()) << query << ": " << q.status().message();
  if (!q.ok()) return {"parse error"};
  Status st = Validate(**q);
  EXPECT_TRUE(st.ok()) << query << ": " << st.message();
  SearchEvaluator ev((*q)->pipeline);
  std::vector<std::string> out;
  for (const Spanset& ss : ev.Eval(t)) {
    std::string letters;
    for (int32_t i : ss.spans) letters += t.spans[static_cast<size_t>(i)].span_id[0];
    out.push_back(letters);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(TraceqlTrace, DecodesTheTreeAndTraceFacts) {
  Trace t = Sample();
  ASSERT_EQ(t.spans.size(), 5u);
  EXPECT_EQ(t.root_name, "GET /");
  EXPECT_EQ(t.root_service, "frontend");
  EXPECT_EQ(t.end_ns - t.start_ns, 100 * kMs);
  // A(1 (B(2 (C(3 (D 4 5) (E 6 7)) 8) 9) 10)
  EXPECT_EQ(t.spans[0].nested_left, 1);
  EXPECT_EQ(t.spans[0].nested_right, 10);
  EXPECT_EQ(t.spans[0].nested_parent, -1);
  EXPECT_EQ(t.spans[2].nested_left, 3);
  EXPECT_EQ(t.spans[2].nested_parent, 2);
  EXPECT_EQ(t.spans[4].nested_left, 6);
  EXPECT_EQ(t.spans[2].child_count, 2);
  EXPECT_EQ(t.spans[2].status, SpanStatus::kError);
  EXPECT_EQ(t.spans[1].kind, SpanKind::kClient);
}

TEST(TraceqlSearch, Filters) {
  EXPECT_EQ(Search("{ resource.service.name = \"backend\" }"), V{"CDE"});
  EXPECT_EQ(Search("{ status = error }"), V{"C"});
  EXPECT_EQ(Search("{ span.http.status_code >= 500 }"), V{"C"});
  EXPECT_EQ(Search("{ .http.method = \"GET\" }"), V{"A"});
  EXPECT_EQ(Search("{ .service.name = \"frontend\" && kind = client }"), V{"B"});
  EXPECT_EQ(Search("{ .nope != 1 }"), V{});  // a missing attribute compares with nothing
  EXPECT_EQ(Search("{ .peer != nil }"), V{"B"});
  EXPECT_EQ(Search("{ .peer = nil && kind = client }"), V{"DE"});
  EXPECT_EQ(Search("{ name =~ \"SEL.*\" }"), V{"DE"});
  EXPECT_EQ(Search("{ name =~ \"SEL\" }"), V{});  // regexes match whole values
  EXPECT_EQ(Search("{ duration > 15ms && duration < 60ms }"), V{"E"});
  EXPECT_EQ(Search("{ span:childCount = 2 }"), V{"C"});
  EXPECT_EQ(Search("{ trace:rootService = \"frontend\" && nestedSetParent = -1 }"), V{"A"});
  EXPECT_EQ(Search("{ traceDuration = 100ms && instrumentation:name = \"lib\" }"), V{"ABCDE"});
  EXPECT_EQ(Search("{ span:parentID = \"4301010101010101\" }"), V{"DE"});
  EXPECT_EQ(Search("{ event:name = \"exception\" && event.exception.type = \"IOError\" }"), V{"C"});
  EXPECT_EQ(Search("{ event:timeSinceStart = 5ms }"), V{"C"});
  EXPECT_EQ(Search("{ event.exception.type = \"other\" }"), V{});
  EXPECT_EQ(Search("{ false }"), V{});
  EXPECT_EQ(Search("{ }"), V{"ABCDE"});
}

TEST(TraceqlSearch, SpansetOperators) {
  EXPECT_EQ(Search("{ kind = client } && { status = error }"), V{"BCDE"});
  EXPECT_EQ(Search("{ kind = client } && { status = unset && kind = server }"), V{});
  EXPECT_EQ(Search("{ name = \"none\" } || { status = ok }"), V{"A"});
  EXPECT_EQ(Search("{ name = \"GET /\" } > { kind = client }"), V{"B"});
  EXPECT_EQ(Search("{ name = \"GET /\" } >> { name = \"SELECT\" }"), V{"DE"});
  EXPECT_EQ(Search("{ name = \"SELECT\" } << { kind = server }"), V{"AC"});
  EXPECT_EQ(Search("{ name = \"SELECT\" } < { }"), V{"C"});
  EXPECT_EQ(Search("{ name = \"SELECT\" && duration > 15ms } ~ { name = \"SELECT\" }"), V{"D"});
  EXPECT_EQ(Search("{ name = \"GET /\" } !> { kind = client }"), V{"DE"});
  EXPECT_EQ(Search("{ name = \"handle\" } !<< { }"), V{"CDE"});
  EXPECT_EQ(Search("{ name = \"GET /\" } &> { kind = client }"), V{"AB"});
  EXPECT_EQ(Search("{ name = \"handle\" } &>> { name = \"SELECT\" }"), V{"CDE"});
  // Left to right: clients under servers (B, D, E), then SELECTs under those (none).
  EXPECT_EQ(Search("{ kind = server } > { kind = client } > { name = \"SELECT\" }"), V{});
  EXPECT_EQ(Search("{ kind = server } >> { kind = client } > { name = \"handle\" }"), V{"C"});
}

TEST(TraceqlSearch, Pipelines) {
  EXPECT_EQ(Search("{ .db.system = \"postgres\" } | count() > 1"), V{"DE"});
  EXPECT_EQ(Search("{ .db.system = \"postgres\" } | count() > 2"), V{});
  EXPECT_EQ(Search("{ name = \"SELECT\" } | avg(duration) = 15ms"), V{"DE"});
  EXPECT_EQ(Search("{ name = \"SELECT\" } | max(duration) > 15ms | min(duration) = 10ms"), V{"DE"});
  EXPECT_EQ(Search("{ } | sum(span.http.status_code) = 500"), V{"ABCDE"});
  EXPECT_EQ(Search("{ } | by(resource.service.name) | count() > 2"), V{"CDE"});
  EXPECT_EQ(Search("{ } | by(resource.service.name)"), (V{"AB", "CDE"}));
  EXPECT_EQ(Search("{ } | by(kind) | coalesce()"), V{"ABCDE"});
  EXPECT_EQ(Search("{ status = error } | { kind = client }"), V{});
  EXPECT_EQ(Search("{ kind = client } | select(span.peer)"), V{"BDE"});
  EXPECT_EQ(Search("({ kind = server } | count() = 2) && ({ kind = client } | count() = 3)"),
            V{"ABCDE"});
}

TEST(TraceqlSearch, GroupsAreNamedAsTempoNamesThem) {
  const Trace t = Sample();
  auto q = Parse("{ } | by(resource.service.name)");
  ASSERT_TRUE(q.ok());
  SearchEvaluator ev((*q)->pipeline);
  auto sets = ev.Eval(t);
  ASSERT_EQ(sets.size(), 2u);
  ASSERT_EQ(sets[1].attrs.size(), 1u);
  EXPECT_EQ(sets[1].attrs[0].first, "by(resource.service.name)");
  EXPECT_EQ(sets[1].attrs[0].second, Static::Str("backend"));
}

TEST(TraceqlTrace, MalformedInputIsAnError) {
  EXPECT_FALSE(DecodeTrace(std::string("\x0a\x05\x12\x03\x12\x01", 6)).ok());
  EXPECT_FALSE(DecodeTrace("\xff").ok());
  EXPECT_TRUE(DecodeTrace("").ok());
}

}  // namespace
}  // namespace strata::traceql
