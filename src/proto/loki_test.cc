#include "proto/loki.h"

#include <gtest/gtest.h>

#include "proto/wire.h"

namespace strata::proto {
namespace {

TEST(Loki, JsonTranscodesToAPushRequest) {
  auto pb = LokiJsonToProtobuf(R"({"streams":[
      {"stream":{"job":"app","env":"prod \"eu\""},
       "values":[["1700000000000000001","first line"],
                 ["1700000000000000002","second",{"trace_id":"abc"}]]},
      {"stream":{"job":"db"},"values":[["1700000000000000000","x"]]}]})");
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto counts = ScanLokiPush(*pb);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->entries, 3u);
  EXPECT_EQ(counts->line_bytes, 10u + 6u + 1u);
  // Labels are written sorted and Go-quoted, as Loki formats them.
  EXPECT_NE(pb->find(R"({env="prod \"eu\"", job="app"})"), std::string::npos);
}

// Every field of a push comes back as written: labels parsed and sorted, nanosecond
// timestamps, lines byte for byte, structured metadata per entry.
TEST(Loki, DecodesEveryField) {
  auto pb = LokiJsonToProtobuf(R"({"streams":[
      {"stream":{"job":"app","env":"prod"},
       "values":[["1700000000123456789","first line"],
                 ["5","",{"trace_id":"abc","user":"u\u00e9"}]]},
      {"stream":{"job":"db"},"values":[["1700000000000000000","x\ty"]]}]})");
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  auto push = DecodeLokiPush(*pb);
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  ASSERT_EQ(push->streams.size(), 2u);
  const LokiStream& app = push->streams[0];
  EXPECT_EQ(app.labels, (Labels{{"env", "prod"}, {"job", "app"}}));
  ASSERT_EQ(app.entries.size(), 2u);
  EXPECT_EQ(app.entries[0].ts_ns, 1700000000123456789);
  EXPECT_EQ(app.entries[0].line, "first line");
  EXPECT_TRUE(push->MetadataOf(app.entries[0]).empty());
  EXPECT_EQ(app.entries[1].ts_ns, 5);
  EXPECT_EQ(app.entries[1].line, "");
  auto md = push->MetadataOf(app.entries[1]);
  ASSERT_EQ(md.size(), 2u);
  EXPECT_EQ(md[0].name, "trace_id");
  EXPECT_EQ(md[0].value, "abc");
  EXPECT_EQ(md[1].name, "user");
  EXPECT_EQ(md[1].value, "u\xc3\xa9");
  EXPECT_EQ(push->streams[1].entries[0].line, "x\ty");
}

// Timestamps outside what int64 nanoseconds hold, and nanos of a second or more, are refused;
// every one the JSON form takes decodes.
TEST(Loki, RefusesTimestampsOutOfRange) {
  auto request = [](uint64_t seconds, uint64_t nanos) {
    std::string ts, entry, stream, req;
    PutVarintField(ts, 1, seconds);
    PutVarintField(ts, 2, nanos);
    PutBytesField(entry, 1, ts);
    PutBytesField(entry, 2, "l");
    PutBytesField(stream, 1, "{a=\"b\"}");
    PutBytesField(stream, 2, entry);
    PutBytesField(req, 1, stream);
    return req;
  };
  EXPECT_TRUE(DecodeLokiPush(request(9'223'372'035, 999'999'999)).ok());
  // The last nanosecond int64 holds, as the JSON form sends it (found by the fuzzer).
  EXPECT_TRUE(DecodeLokiPush(request(9'223'372'036, 854'775'807)).ok());
  EXPECT_FALSE(DecodeLokiPush(request(9'223'372'036, 854'775'808)).ok());
  EXPECT_FALSE(DecodeLokiPush(request(9'223'372'037, 0)).ok());
  auto json = LokiJsonToProtobuf(
      R"({"streams":[{"stream":{"a":"b"},"values":[["9223372036854775807","l"]]}]})");
  ASSERT_TRUE(json.ok());
  auto last = DecodeLokiPush(*json);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->streams[0].entries[0].ts_ns, INT64_MAX);
  EXPECT_FALSE(
      DecodeLokiPush(request(static_cast<uint64_t>(-1), 0)).ok());  // -1 s, as protobuf sends it
  auto nanos = DecodeLokiPush(request(1, 1'000'000'000));
  ASSERT_FALSE(nanos.ok());
  EXPECT_NE(nanos.status().message().find("invalid entry timestamp"), std::string::npos);
}

TEST(Loki, ParsesLabelSets) {
  auto l = ParseLokiLabels(R"({job="app", env = "a\nb",level=`raw\n`})");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].name, "env");
  EXPECT_EQ((*l)[0].value, "a\nb");
  EXPECT_EQ((*l)[2].name, "level");
  EXPECT_EQ((*l)[2].value, "raw\\n");
  for (std::string_view bad : {"", "{}", "job=\"a\"", "{job=a}", "{job=\"a\"", "{1a=\"b\"}",
                               "{a=\"b\" c=\"d\"}", "{a=\"b\",a=\"c\"}", "{a=\"\\q\"}"}) {
    EXPECT_FALSE(ParseLokiLabels(bad).ok()) << bad;
  }
}

TEST(Loki, RefusesMalformedRequests) {
  EXPECT_FALSE(LokiJsonToProtobuf("{").ok());
  EXPECT_FALSE(LokiJsonToProtobuf(R"({"streams":{}})").ok());
  EXPECT_FALSE(LokiJsonToProtobuf(R"({"streams":[{"stream":{},"values":[["1","x"]]}]})").ok());
  auto bad_ts = LokiJsonToProtobuf(R"({"streams":[{"stream":{"a":"b"},"values":[["x","y"]]}]})");
  ASSERT_FALSE(bad_ts.ok());
  EXPECT_NE(bad_ts.status().message().find("not Unix nanoseconds"), std::string::npos);

  // A stream whose labels do not parse.
  std::string stream, req;
  PutBytesField(stream, 1, "{job=}");
  PutBytesField(req, 1, stream);
  auto scan = ScanLokiPush(req);
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.status().message().find("stream labels"), std::string::npos);
  // An entry without a timestamp.
  std::string entry;
  PutBytesField(entry, 2, "line");
  stream.clear();
  req.clear();
  PutBytesField(stream, 1, "{job=\"a\"}");
  PutBytesField(stream, 2, entry);
  PutBytesField(req, 1, stream);
  EXPECT_FALSE(ScanLokiPush(req).ok());
  // Truncated.
  EXPECT_FALSE(ScanLokiPush(req.substr(0, req.size() - 2)).ok());
}

}  // namespace
}  // namespace strata::proto
