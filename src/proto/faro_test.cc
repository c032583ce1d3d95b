#include "proto/faro.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "proto/loki.h"

namespace strata::proto {
namespace {

// The lines Alloy's faro.receiver writes for these items (its exporters_test expectations,
// and lines its payload code printed for the same input): the keys, their order, Go's time
// and float formats and the exception's xxh3 hash are theirs.
constexpr const char* kTrace =
    R"("trace": {"trace_id": "a363d4f4417aa83158c437febd2d8838", "span_id": "42876ecc4c1feafa"})";

// {"meta": <meta>, <items>}, with $T standing for kTrace in the items.
std::string Payload(std::string_view items, std::string_view meta = "{}") {
  std::string out = fmt::format("{{\"meta\": {}, {}}}", meta, items);
  for (size_t at; (at = out.find("$T")) != std::string::npos;) out.replace(at, 2, kTrace);
  return out;
}

std::vector<std::pair<std::string, std::string>> Lines(const FaroPayload& p,
                                                       FaroLogOptions opts = {}) {
  if (opts.labels.empty()) opts.labels = {{"kind", ""}};
  opts.entry_ns = 1'700'000'000'123'456'789;
  FaroLogs logs = FaroToLoki(p, opts);
  std::vector<std::pair<std::string, std::string>> out;
  if (logs.entries == 0) return out;
  auto push = DecodeLokiPush(logs.push);
  EXPECT_TRUE(push.ok()) << push.status().ToString();
  for (const auto& s : push->streams) {
    for (const auto& e : s.entries) {
      EXPECT_EQ(e.ts_ns, opts.entry_ns);
      out.emplace_back(FormatLokiLabels(s.labels), std::string(e.line));
    }
  }
  return out;
}

TEST(FaroTest, LinesHaveAlloysKeysInAlloysOrder) {
  auto p = DecodeFaro(Payload(R"(
    "logs": [{"message": "React Router Future Flag Warning", "level": "info", "context": {},
              "timestamp": "2021-09-30T10:46:17.680Z", $T}],
    "exceptions": [{"type": "Error", "value": "Cannot read property 'find' of undefined",
      "timestamp": "2021-09-30T10:46:17.680Z",
      "stacktrace": {"frames": [
        {"function": "?", "filename": "http://fe:3002/static/js/vendors~main.chunk.js",
         "lineno": 8639, "colno": 42},
        {"function": "dispatchAction", "filename": "http://fe:3002/static/js/vendors~main.chunk.js",
         "lineno": 268095, "colno": 9}]}}],
    "measurements": [{"type": "sum", "values": {"ttfp": 20.12, "ttfcp": 22.12, "ttfb": 14},
      "timestamp": "2021-09-30T10:46:17.680Z", "context": {"host": "localhost"}, $T}],
    "events": [{"name": "click_login_button", "domain": "frontend",
      "attributes": {"button_name": "login"}, "timestamp": "2021-09-30T10:46:17.680Z", $T}])"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto lines = Lines(*p);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].first, R"({kind="log"})");
  EXPECT_EQ(lines[0].second,
            R"(timestamp="2021-09-30 10:46:17.68 +0000 UTC" kind=log message="React Router )"
            R"(Future Flag Warning" level=info traceID=a363d4f4417aa83158c437febd2d8838 )"
            R"(spanID=42876ecc4c1feafa browser_mobile=false)");
  EXPECT_EQ(lines[1].first, R"({kind="exception"})");
  EXPECT_EQ(lines[1].second,
            R"(timestamp="2021-09-30 10:46:17.68 +0000 UTC" kind=exception type=Error )"
            R"(value="Cannot read property 'find' of undefined" stacktrace="Error: Cannot read )"
            R"(property 'find' of undefined\n  at ? )"
            R"((http://fe:3002/static/js/vendors~main.chunk.js:8639:42)\n  at dispatchAction )"
            R"x((http://fe:3002/static/js/vendors~main.chunk.js:268095:9)" )x"
            R"(hash=2735541995122471342 browser_mobile=false)");
  EXPECT_EQ(lines[2].second,
            R"(timestamp="2021-09-30 10:46:17.68 +0000 UTC" kind=measurement type=sum )"
            R"(ttfb=14.000000 ttfcp=22.120000 ttfp=20.120000 )"
            R"(traceID=a363d4f4417aa83158c437febd2d8838 spanID=42876ecc4c1feafa )"
            R"(context_host=localhost value_ttfb=14 value_ttfcp=22.12 value_ttfp=20.12 )"
            R"(browser_mobile=false)");
  EXPECT_EQ(lines[3].second,
            R"(timestamp="2021-09-30 10:46:17.68 +0000 UTC" kind=event )"
            R"(event_name=click_login_button event_domain=frontend event_data_button_name=login )"
            R"(traceID=a363d4f4417aa83158c437febd2d8838 spanID=42876ecc4c1feafa )"
            R"(browser_mobile=false)");

  // log_format json: Go's json.Marshal of the same map (keys sorted, value_* as numbers).
  auto json = Lines(*p, {.format = FaroLogFormat::kJson});
  EXPECT_EQ(json[2].second,
            R"({"browser_mobile":"false","context_host":"localhost","kind":"measurement",)"
            R"("spanID":"42876ecc4c1feafa","timestamp":"2021-09-30 10:46:17.68 +0000 UTC",)"
            R"("traceID":"a363d4f4417aa83158c437febd2d8838","ttfb":"14.000000",)"
            R"("ttfcp":"22.120000","ttfp":"20.120000","type":"sum","value_ttfb":14,)"
            R"("value_ttfcp":22.12,"value_ttfp":20.12})");
}

TEST(FaroTest, MetaKeysFollowTheItemsKeys) {
  auto p = DecodeFaro(Payload(
      R"("logs": [{"message": "opened pricing page", "level": "info",
          "context": {"page": "Pricing", "component": "AppRoot"},
          "timestamp": "2021-09-30T10:46:17.680Z", "trace": {"trace_id": "abcd", "span_id": "def"}}])",
      R"({"sdk": {"name": "grafana-frontend-agent", "version": "1.0.0"},
          "app": {"name": "testapp", "release": "0.8.2", "version": "abcdefg",
                  "environment": "production", "bundleId": "not read"},
          "user": {"email": "geralt@kaermorhen.org", "id": "123", "username": "domasx2",
                   "attributes": {"foo": "bar"}},
          "session": {"id": "abcd", "attributes": {"time_elapsed": "100s"}},
          "page": {"url": "https://example.com/page"},
          "browser": {"name": "chrome", "version": "88.12.1", "os": "linux", "mobile": false,
                      "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                      "language": "en-US", "viewportWidth": "1920", "viewportHeight": "1080",
                      "brands": [{"brand": "not read"}]},
          "view": {"name": "foobar"}, "k6": {"isK6Browser": true}})"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto lines = Lines(*p, {.labels = {{"app_name", ""}, {"kind", ""}, {"source", "faro"}}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, R"({app_name="testapp", kind="log", source="faro"})");
  EXPECT_EQ(
      lines[0].second,
      R"(timestamp="2021-09-30 10:46:17.68 +0000 UTC" kind=log message="opened pricing page" )"
      R"(level=info context_component=AppRoot context_page=Pricing traceID=abcd spanID=def )"
      R"(sdk_name=grafana-frontend-agent sdk_version=1.0.0 app_name=testapp app_release=0.8.2 )"
      R"(app_version=abcdefg app_environment=production user_email=geralt@kaermorhen.org )"
      R"(user_id=123 user_username=domasx2 user_attr_foo=bar session_id=abcd )"
      R"(session_attr_time_elapsed=100s page_url=https://example.com/page browser_name=chrome )"
      R"(browser_version=88.12.1 browser_os=linux browser_mobile=false )"
      R"(browser_userAgent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 )"
      R"(Firefox/128.0" browser_language=en-US browser_viewportWidth=1920 )"
      R"(browser_viewportHeight=1080 view_name=foobar)");
}

TEST(FaroTest, GoFormatsForTimesNumbersAndQuoting) {
  auto p = DecodeFaro(Payload(R"(
    "measurements": [{"type": "web-vitals", "timestamp": "2021-09-30T12:46:17.5+02:00",
      "values": {"fcp": 1234567.5, "cls": 0.00001, "inp": 0, "lcp": 123456.7, "tiny": 0.0001}}],
    "logs": [{"message": "null", "level": "warn", "context": {"a b": "x=y", "q": "say \"hi\"\n",
      "u": "h\u00e9llo", "ctl": "\u0001"}}])"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto lines = Lines(*p);
  ASSERT_EQ(lines.size(), 2u);
  // A log without a timestamp shows Go's zero time; keys lose spaces; "null" is quoted.
  EXPECT_EQ(lines[0].second,
            R"(timestamp="0001-01-01 00:00:00 +0000 UTC" kind=log message="null" level=warn )"
            R"(context_ab="x=y" context_ctl="\u0001" context_q="say \"hi\"\n" context_u=héllo )"
            R"(browser_mobile=false)");
  EXPECT_EQ(lines[1].second,
            R"(timestamp="2021-09-30 12:46:17.5 +0200 +0200" kind=measurement type=web-vitals )"
            R"(cls=0.000010 fcp=1234567.500000 inp=0.000000 lcp=123456.700000 tiny=0.000100 )"
            R"(value_cls=1e-05 value_fcp=1.2345675e+06 value_inp=0 value_lcp=123456.7 )"
            R"(value_tiny=0.0001 browser_mobile=false)");
}

TEST(FaroTest, QuotingLooksAtEveryByteOfLongValues) {
  // The characters that call for quotes, each past the first 8 bytes; and long values that
  // need none, one with a non-ASCII letter late.
  auto p = DecodeFaro(Payload(R"(
    "logs": [{"message": "abcdefghijklmnopqrstuvwxyz", "context": {"a": "abcdefghij klmno",
      "b": "abcdefghijklm=n", "c": "abcdefghijklmnop\"q", "d": "abcdefghijklmnop\u00e9",
      "e": "abcdefghijklmnopq\u0009", "f": "abcdefgh"}}])"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto lines = Lines(*p);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].second,
            R"(timestamp="0001-01-01 00:00:00 +0000 UTC" kind=log )"
            R"(message=abcdefghijklmnopqrstuvwxyz context_a="abcdefghij klmno" )"
            R"(context_b="abcdefghijklm=n" context_c="abcdefghijklmnop\"q" )"
            R"(context_d=abcdefghijklmnopé context_e="abcdefghijklmnopq\t" context_f=abcdefgh )"
            R"(browser_mobile=false)");
}

TEST(FaroTest, KeysMatchWithoutCaseAndNullsAreEmpty) {
  auto p = DecodeFaro(R"({"LOGS": [{"Message": "hi", "level": null, "trace": null}],
                          "meta": {"App": {"NAME": "shop"}}, "unknown": [1, 2]} trailing)");
  // simdjson refuses trailing bytes that Go's decoder would leave unread.
  EXPECT_FALSE(p.ok());
  p = DecodeFaro(R"({"LOGS": [{"Message": "hi", "level": null, "trace": null}],
                     "meta": {"App": {"NAME": "shop"}}, "unknown": [1, 2]})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->logs.size(), 1u);
  EXPECT_EQ(p->logs[0].message, "hi");
  EXPECT_EQ(p->meta.app_name, "shop");
  // An exception without a stacktrace still has one line of it; the hash is of the value.
  p = DecodeFaro(R"({"exceptions": [{"type": "TypeError", "value": ""}]})");
  ASSERT_TRUE(p.ok());
  auto lines = Lines(*p);
  EXPECT_EQ(lines[0].second,
            R"(timestamp="0001-01-01 00:00:00 +0000 UTC" kind=exception type=TypeError )"
            R"(stacktrace="TypeError: " hash=3244421341483603138 browser_mobile=false)");
}

TEST(FaroTest, MalformedPayloadsNameTheirFault) {
  for (auto [json, fault] : std::initializer_list<std::pair<const char*, const char*>>{
           {"", "invalid Faro payload"},
           {"[]", "must be a JSON object"},
           {R"({"logs": {}})", "logs must be an array"},
           {R"({"logs": [{"message": 5}]})", "logs[0].message must be a string"},
           {R"({"logs": [{"timestamp": 1633000000}]})", "logs[0].timestamp must be an RFC 3339"},
           {R"({"logs": [{"timestamp": "2021-02-29T00:00:00Z"}]})", "RFC 3339"},
           {R"({"logs": [{"timestamp": "2021-09-30 10:46:17Z"}]})", "RFC 3339"},
           {R"({"exceptions": [{"stacktrace": {"frames": [{"lineno": 1.5}]}}]})",
            "exceptions[0].stacktrace.frames[0].lineno must be an integer"},
           {R"({"measurements": [{"values": {"fcp": "1"}}]})",
            "measurements[0].values.fcp must be a number"},
           {R"({"meta": {"browser": {"viewportWidth": 1920}}})",
            "meta.browser.viewportWidth must be a string"},
           {R"({"meta": {"browser": {"mobile": "no"}}})", "meta.browser.mobile must be true"},
           {R"({"traces": []})", "traces must be an object"},
       }) {
    auto p = DecodeFaro(json);
    ASSERT_FALSE(p.ok()) << json;
    EXPECT_NE(p.status().message().find(fault), std::string::npos)
        << json << ": " << p.status().message();
  }
}

TEST(FaroTest, LinesWithAnEmptyKeyAreDroppedAndCounted) {
  auto p = DecodeFaro(R"({"measurements": [{"type": "t", "values": {" ": 1}},
                                           {"type": "t", "values": {"ok": 1}}]})");
  ASSERT_TRUE(p.ok());
  FaroLogs logs = FaroToLoki(*p, {.labels = {{"kind", ""}}});
  EXPECT_EQ(logs.entries, 1u);
  EXPECT_EQ(logs.dropped, 1u);
}

}  // namespace
}  // namespace strata::proto
