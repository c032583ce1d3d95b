#include "logql/template.h"

#include <gtest/gtest.h>

#include <map>

namespace strata::logql {
namespace {

// 2023-11-14T22:13:20.5Z
constexpr int64_t kTs = 1'700'000'000'500'000'000;

std::string Render(std::string_view text, std::string_view line = "the line") {
  std::map<std::string, std::string, std::less<>> labels = {
      {"app", "api"}, {"status", "500"}, {"msg", "Hello World"}, {"n", "7"}, {"dur", "1.5s"}};
  auto t = Template::Parse(text, "line");
  if (!t.ok()) return "PARSE: " + std::string(t.status().message());
  TemplateInput in{[&](std::string_view name) -> std::optional<std::string_view> {
                     auto it = labels.find(name);
                     if (it == labels.end()) return std::nullopt;
                     return std::string_view(it->second);
                   },
                   line, kTs};
  auto out = t->Execute(in);
  if (!out.ok()) return "EXEC: " + std::string(out.status().message());
  return *out;
}

// Expected outputs follow Go's text/template rules and the Go, sprig and Loki functions'
// documented behaviour.
TEST(LogqlTemplate, Actions) {
  EXPECT_EQ(Render("{{.app}}"), "api");
  EXPECT_EQ(Render("{{ .app }} {{.missing}}|"), "api |");  // missingkey=zero
  EXPECT_EQ(Render("a {{- .app -}} b"), "aapib");
  EXPECT_EQ(Render("{{/* a comment */}}x"), "x");
  EXPECT_EQ(Render("{{ .msg | ToUpper }} {{ ToLower .msg }}"), "HELLO WORLD hello world");
  EXPECT_EQ(Render("{{ if eq .status \"500\" }}bad{{ else }}ok{{ end }}"), "bad");
  EXPECT_EQ(Render("{{ if eq .status \"200\" }}ok{{ else if eq .app \"api\" }}api{{ end }}"),
            "api");
  EXPECT_EQ(Render("{{ if and .app (not .missing) }}yes{{ end }}"), "yes");
  EXPECT_EQ(Render("{{ with .app }}[{{ . }}]{{ end }}{{ with .missing }}x{{ else }}none{{ end }}"),
            "[api]none");
  EXPECT_EQ(Render("{{ __line__ | trunc 3 }}"), "the");
  EXPECT_EQ(Render("{{ printf \"%s=%d (%.1f) %q\" .app 5 2.25 .n }}"), "api=5 (2.2) \"7\"");
  EXPECT_EQ(Render("{{ len .msg }}"), "11");
}

TEST(LogqlTemplate, Functions) {
  EXPECT_EQ(Render("{{ Replace .msg \"o\" \"0\" -1 }}"), "Hell0 W0rld");
  EXPECT_EQ(Render("{{ .msg | replace \"World\" \"There\" }}"), "Hello There");
  EXPECT_EQ(Render("{{ regexReplaceAll \"(\\\\w+) (\\\\w+)\" .msg \"${2}-$1\" }}"), "World-Hello");
  EXPECT_EQ(Render("{{ regexReplaceAllLiteral \"o\" .msg \"$1\" }}"), "Hell$1 W$1rld");
  EXPECT_EQ(Render("{{ count \"o\" .msg }}"), "2");
  EXPECT_EQ(Render("{{ TrimPrefix .msg \"Hello \" }}|{{ .msg | trimSuffix \"World\" }}|"),
            "World|Hello |");
  EXPECT_EQ(
      Render(
          "{{ Trim \"xxhixx\" \"x\" }} {{ trimAll \"x\" \"xxhixx\" }} {{ TrimSpace \"  a  \" }}"),
      "hi hi a");
  EXPECT_EQ(Render("{{ substr 0 5 .msg }}|{{ trunc -5 .msg }}|{{ title \"hello world\" }}"),
            "Hello|World|Hello World");
  EXPECT_EQ(Render("{{ alignLeft 5 .app }}|{{ alignRight 5 .app }}|{{ alignLeft 2 .app }}"),
            "api  |  api|ap");
  EXPECT_EQ(Render("{{ add .n 3 }} {{ sub 10 .n }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }}"),
            "10 3 24 3 1");
  EXPECT_EQ(Render("{{ addf 1.5 2 }} {{ divf 7 2 }} {{ max 3 9 4 }} {{ round 2.345 2 }}"),
            "3.5 3.5 9 2.35");
  EXPECT_EQ(Render("{{ .dur | duration }} {{ bytes \"2KB\" }}"), "1.5 2000");
  EXPECT_EQ(Render("{{ default \"none\" .missing }} {{ default \"none\" .app }}"), "none api");
  EXPECT_EQ(Render("{{ b64enc \"hi there\" }} {{ b64dec \"aGkgdGhlcmU\" }}"),
            "aGkgdGhlcmU= hi there");
  EXPECT_EQ(Render("{{ urlencode \"a b&c\" }} {{ urldecode \"a+b%26c\" }}"), "a+b%26c a b&c");
  EXPECT_EQ(Render("{{ contains \"World\" .msg }} {{ hasPrefix \"x\" .msg }}"), "true false");
  EXPECT_EQ(Render("{{ repeat 3 \"ab\" }}{{ indent 2 \"x\" }}"), "ababab  x");
}

TEST(LogqlTemplate, Time) {
  EXPECT_EQ(Render("{{ __timestamp__ | date \"2006-01-02T15:04:05.000Z07:00\" }}"),
            "2023-11-14T22:13:20.500Z");
  EXPECT_EQ(Render("{{ date \"Jan _2 3:04PM\" __timestamp__ }}"), "Nov 14 10:13PM");
  EXPECT_EQ(Render("{{ __timestamp__ | unixEpoch }} {{ __timestamp__ | unixEpochMillis }}"),
            "1700000000 1700000000500");
  EXPECT_EQ(Render("{{ __timestamp__ }}"), "2023-11-14 22:13:20.5 +0000 UTC");
  EXPECT_EQ(Render("{{ unixToTime \"1700000000\" | unixEpochNanos }}"), "1700000000000000000");
}

// Hostile templates end in an error or a bounded answer, never a crash or a hang.
TEST(LogqlTemplate, Bounded) {
  EXPECT_EQ(Render("{{ div -9223372036854775808 -1 }} {{ mod -9223372036854775808 -1 }}"),
            "-9223372036854775808 0");  // Go's wrap-around
  EXPECT_EQ(Render("{{ add 9223372036854775807 1 }}"), "-9223372036854775808");
  EXPECT_EQ(Render("{{ count \"\" \"abc\" }} {{ count \"x*\" \"abc\" }}"), "4 4");
  EXPECT_EQ(Render("{{ repeat 4611686018427387904 \"abcd\" }}"),
            "EXEC: template: line: executing \"line\": repeat: result too large");
  EXPECT_EQ(Render("{{ repeat 9223372036854775807 \"\" }}|"), "|");
  EXPECT_EQ(Render("{{ int 1e300 }}"), "9223372036854775807");
  EXPECT_EQ(Render("{{ unixToTime \"9999999999999999999\" }}").substr(0, 5), "EXEC:");
  EXPECT_EQ(Render("{{ indent 1000 (repeat 2000 \"a\\n\") }}").substr(0, 5), "EXEC:");
}

TEST(LogqlTemplate, GoSemantics) {
  // and/or stop at the deciding argument.
  EXPECT_EQ(Render("{{ if or .app (div 1 0) }}ok{{ end }}"), "ok");
  EXPECT_EQ(Render("{{ printf \"[%-5s|%5s|%05d|%.2s|%t]\" .app .app 42 .msg true }}"),
            "[api  |  api|00042|He|true]");
  EXPECT_EQ(Render("{{ printf \"%s\" .app 1 }}"), "api%!(EXTRA int=1)");
  EXPECT_EQ(Render("a\n{{-\n.app\n-}}\nb"), "aapib");
  EXPECT_EQ(Render("{{ \"}}\" }}"), "}}");
  EXPECT_EQ(Render("{{ regexReplaceAll \"a\" \"banana\" \"$$\" }}"), "b$n$n$");
}

TEST(LogqlTemplate, Errors) {
  EXPECT_EQ(Render("{{ .app "), "PARSE: template: line:1: unclosed action");
  EXPECT_EQ(Render("{{ nope .app }}"), "PARSE: template: line:1: function \"nope\" not defined");
  EXPECT_EQ(Render("{{ if .app }}x"), "PARSE: template: line:1: unexpected EOF");
  EXPECT_EQ(Render("{{ end }}"), "PARSE: template: line:1: unexpected {{end}}");
  EXPECT_EQ(Render("{{ div 1 0 }}"),
            "EXEC: template: line: executing \"line\": error calling div: integer divide by zero");
}

}  // namespace
}  // namespace strata::logql
