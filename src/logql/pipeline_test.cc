#include "logql/pipeline.h"

#include <gtest/gtest.h>

#include "logql/parser.h"

namespace strata::logql {
namespace {

// Runs `query`'s pipeline over one entry of stream `stream` and returns the resulting labels
// as Loki prints them, "<dropped>" when the entry is filtered out.
std::string RunPipeline(std::string_view query, std::string line,
                        const Labels& stream = {{"app", "a"}}, const Labels& metadata = {},
                        std::string* line_out = nullptr) {
  auto e = ParseExpr(query);
  EXPECT_TRUE(e.ok()) << e.status().message();
  if (!e.ok()) return "";
  auto p = Pipeline::Make(As<LogExpr>(**e).selector.stages);
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return "";
  LabelsBuilder lbs;
  lbs.Reset(stream, metadata);
  if (!p->Process(0, line, lbs)) return "<dropped>";
  if (line_out != nullptr) *line_out = line;
  std::string out;
  for (const auto& l : lbs.All()) out += l.name + "=" + l.value + " ";
  if (!out.empty()) out.pop_back();
  return out;
}

TEST(LogqlPipeline, LineFilters) {
  EXPECT_EQ(RunPipeline(R"q({app="a"} |= "err")q", "an error"), "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |= "err")q", "all good"), "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} != "err")q", "an error"), "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |~ "(?i)ERR\\w+")q", "an error"), "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} !~ "e.r")q", "an error"), "<dropped>");
  // Or-chains: any of them; negated ones: none of them.
  EXPECT_EQ(RunPipeline(R"q({app="a"} |= "warn" or "err")q", "an error"), "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} != "warn" or "err")q", "an error"), "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} != "warn" or "fatal")q", "an error"), "app=a");
  // Pattern filters: literals in order, <_> something; a trailing literal ends the line.
  EXPECT_EQ(RunPipeline(R"q({app="a"} |> "<_> GET <_> 200 <_>")q", "1.2.3.4 GET /x 200 12ms"),
            "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |> "GET <_>")q", "1.2.3.4 GET /x 200"), "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |> "<_> GET")q", "1.2.3.4 GET /x"), "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |> "<_> GET <_>")q", "1.2.3.4 GET "), "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} !> "<_> POST <_>")q", "1.2.3.4 GET /x 200"), "app=a");
  // ip(): an address, range or CIDR anywhere in the line.
  EXPECT_EQ(RunPipeline(R"q({app="a"} |= ip("10.0.0.0/8"))q", "from 10.1.2.3:443 ok"), "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |= ip("10.0.0.1"))q", "ip:10.0.0.1 cafe10.0.0.1"), "app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} |= ip("192.168.0.1-192.168.0.9"))q", "from 192.168.0.10"),
            "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} != ip("::1"))q", "peer ::1 closed"), "<dropped>");
  std::string out;
  RunPipeline(R"q({app="a"} | decolorize)q", "\x1b[31mred\x1b[0m text", {{"app", "a"}}, {}, &out);
  EXPECT_EQ(out, "red text");
}

TEST(LogqlPipeline, Parsers) {
  // JSON: nested objects flattened with '_', arrays skipped, numbers as written, null
  // empty, keys sanitized; a stream label's name gets _extracted.
  EXPECT_EQ(
      RunPipeline(R"q({app="a"} | json)q",
                  R"({"app":"x","a":{"b":"c","d e":2},"n":1.50,"t":true,"arr":[1],"nul":null})"),
      "a_b=c a_d_e=2 app=a app_extracted=x n=1.50 nul= t=true");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | json)q", "not json"),
            "__error__=JSONParserErr "
            "__error_details__=Value looks like object, but can't find closing '}' symbol app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | json first="a.b[1]", k="[\"k y\"]")q",
                        R"({"a":{"b":[1,"two"]},"k y":3})"),
            "app=a first=two k=3");
  // logfmt: quoted values, keys alone only with --keep-empty, the first value wins.
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt)q",
                        R"(level=info msg="hello \"world\"" dur=5ms alone level=warn)"),
            "app=a dur=5ms level=info msg=hello \"world\"");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt --keep-empty)q", "a=1 alone"), "a=1 alone= app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt --strict)q", "a=1 b=\"x"),
            "__error__=LogfmtParserErr __error_details__=logfmt syntax error at pos 9 : "
            "unterminated quoted value a=1 app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt lvl="level")q", "level=info other=1"),
            "app=a lvl=info");
  // A second parser does not replace what the first extracted.
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | regexp "level=(?P<level>\\w+)")q", "level=info"),
            "app=a level=info");
  EXPECT_EQ(
      RunPipeline(R"q({app="a"} | regexp "(?P<method>\\w+) (?P<path>\\S+)")q", "GET /index.html x"),
      "app=a method=GET path=/index.html");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | pattern "<ip> - <_> \"<method> <path> <_>\" <status>")q",
                        R"(1.2.3.4 - - "GET /x HTTP/1.1" 200)"),
            "app=a ip=1.2.3.4 method=GET path=/x status=200");
  // A literal not found: the capture before it takes the rest of the line.
  EXPECT_EQ(
      RunPipeline(R"q({app="a"} | pattern "<ip> - <user> [<ts>]")q", "1.2.3.4 - bob no brackets"),
      "app=a ip=1.2.3.4 user=bob no brackets");
  std::string out;
  EXPECT_EQ(RunPipeline(R"q({app="a"} | unpack)q", R"({"pod":"p1","_entry":"the line","n":3})",
                        {{"app", "a"}}, {}, &out),
            "app=a pod=p1");
  EXPECT_EQ(out, "the line");
}

TEST(LogqlPipeline, LabelFiltersAndDropKeep) {
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | status >= 500)q", "status=503"),
            "app=a status=503");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | status >= 500)q", "status=200"), "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | status >= 500)q", "other=1"), "<dropped>");
  // A value that is no number: kept, marked.
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | status >= 500)q", "status=abc"),
            "__error__=LabelFilterErr __error_details__=strconv.ParseFloat: parsing \"abc\": "
            "invalid syntax app=a status=abc");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | status >= 500 | __error__="")q", "status=abc"),
            "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | dur > 1s or size > 1KB)q", "dur=1500ms size=10"),
            "app=a dur=1500ms size=10");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | dur > 1s and size > 1KB)q", "dur=1500ms size=10"),
            "<dropped>");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | size > 1KB)q", "size=2kB"), "app=a size=2kB");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | addr = ip("10.0.0.0/8"))q", "addr=10.9.9.9"),
            "addr=10.9.9.9 app=a");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | level =~ "warn|error", msg != "")q",
                        "level=error msg=x"),
            "app=a level=error msg=x");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | drop level, msg="x")q", "level=error msg=x n=1"),
            "app=a n=1");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | keep level, msg="y")q", "level=error msg=x n=1"),
            "level=error");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | json | drop __error__, __error_details__)q", "nope"),
            "app=a");
}

TEST(LogqlPipeline, StructuredMetadata) {
  // Metadata reads as labels; a parsed key of the same name gets _extracted.
  EXPECT_EQ(RunPipeline(R"q({app="a"} | trace_id="abc" | logfmt)q", "trace_id=zzz", {{"app", "a"}},
                        {{"trace_id", "abc"}}),
            "app=a trace_id=abc trace_id_extracted=zzz");
}

TEST(LogqlPipeline, LineAndLabelFormat) {
  std::string out;
  EXPECT_EQ(RunPipeline(R"q({app="a"} | logfmt | line_format "{{.level}}: {{.msg}}")q",
                        "level=warn msg=\"disk low\"", {{"app", "a"}}, {}, &out),
            "app=a level=warn msg=disk low");
  EXPECT_EQ(out, "warn: disk low");
  // A rename moves the label; a template makes a parsed one.
  EXPECT_EQ(
      RunPipeline(R"q({app="a"} | logfmt | label_format lvl=level, up="{{ .app | ToUpper }}")q",
                  "level=warn"),
      "app=a lvl=warn up=A");
  EXPECT_EQ(RunPipeline(R"q({app="a"} | line_format "{{ div 1 0 }}")q", "x"),
            "__error__=TemplateFormatErr __error_details__=template: line: executing \"line\": "
            "error calling div: integer divide by zero app=a");
  // Every template of one label_format sees the labels from before it, as Loki's.
  EXPECT_EQ(RunPipeline(R"q({app="a"} | label_format x="1", y="{{.x}}-{{.app}}")q", "line"),
            "app=a x=1 y=-a");
  auto bad = [](std::string_view q) {
    auto e = ParseExpr(q);
    EXPECT_TRUE(e.ok());
    return std::string(Pipeline::Make(As<LogExpr>(**e).selector.stages).status().message());
  };
  EXPECT_EQ(bad(R"q({app="a"} | label_format a="x", a="y")q"),
            "multiple label name 'a' not allowed in a single format operation");
  EXPECT_EQ(bad(R"q({app="a"} | label_format __error__="x")q"), "__error__ cannot be formatted");
  EXPECT_EQ(bad(R"q({app="a"} | line_format "{{ .a ")q"),
            "invalid line template: template: line:1: unclosed action");
}

}  // namespace
}  // namespace strata::logql
