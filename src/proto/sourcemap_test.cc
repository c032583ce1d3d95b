#include "proto/sourcemap.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace strata::proto {
namespace {

// Mappings worked out by hand from the Source Map v3 spec's Base64 VLQ:
// line 1: "AAAA" = col 0 -> src 0, line 0, col 0; "IAAIA" = col +4, src line +0, col +4,
//         name 0 ("render");
// line 2: "AACA" = col 0 -> line +1 (1), col +0 (4); "MAAMC" = col +6 -> line 1, col +6
//         (10), name +1 ("price").
constexpr const char* kMap =
    R"({"version":3,"file":"main.js","sources":["src/app.ts"],"names":["render","price"],)"
    R"("mappings":"AAAA,IAAIA;AACA,MAAMC"})";

TEST(SourceMapTest, ResolvesAsGoSourcemapDoes) {
  auto m = SourceMap::Parse(kMap, "https://shop.example/static/js/main.js.map");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->mappings(), 4u);
  auto at = [&](int64_t line, int64_t col) {
    auto o = m->Resolve(line, col);
    return o ? fmt::format("{} {}:{}:{}", o->function, o->source, o->line, o->column)
             : std::string("none");
  };
  const std::string src = "https://shop.example/static/js/src/app.ts";
  EXPECT_EQ(at(1, 0), "? " + src + ":1:0");         // exact, no name
  EXPECT_EQ(at(1, 5), "render " + src + ":1:4");    // the mapping before it
  EXPECT_EQ(at(2, 3), "? " + src + ":2:4");         // before it on the same line
  EXPECT_EQ(at(2, 6), "price " + src + ":2:10");    // exact, named
  EXPECT_EQ(at(2, 100), "price " + src + ":2:10");  // past the last, same line
  EXPECT_EQ(at(3, 0), "none");                      // past the last, another line
  EXPECT_EQ(at(0, 0), "none");                      // before the first
}

TEST(SourceMapTest, SourcesAreMadeAbsolute) {
  auto with_root = SourceMap::Parse(
      R"({"version":3,"sourceRoot":"https://cdn.example/src","sources":["a.ts","/abs.ts",)"
      R"("webpack://shop/b.ts"],"names":[],"mappings":"AAAA,CCAA,CCAA"})",
      "https://shop.example/main.js.map");
  ASSERT_TRUE(with_root.ok()) << with_root.status().ToString();
  EXPECT_EQ(with_root->Resolve(1, 0)->source, "https://cdn.example/src/a.ts");
  EXPECT_EQ(with_root->Resolve(1, 1)->source, "/abs.ts");
  EXPECT_EQ(with_root->Resolve(1, 2)->source, "webpack://shop/b.ts");
  auto relative_root = SourceMap::Parse(
      R"({"version":3,"sourceRoot":"src/","sources":["../lib/c.ts"],"mappings":"AAAA"})",
      "https://shop.example/main.js.map");
  ASSERT_TRUE(relative_root.ok());
  EXPECT_EQ(relative_root->Resolve(1, 0)->source, "lib/c.ts");
}

TEST(SourceMapTest, RefusesWhatItCannotRead) {
  for (auto [json, fault] : std::initializer_list<std::pair<const char*, const char*>>{
           {R"({"version":2,"sources":[],"mappings":""})", "version must be 3"},
           {R"({"version":3,"sections":[],"sources":[],"mappings":""})", "sections"},
           {R"({"version":3,"sources":["a"],"mappings":"AA"})", "a segment of 2 fields"},
           {R"({"version":3,"sources":["a"],"mappings":"AAAA;A!AA"})", "malformed value"},
           {R"({"version":3,"sources":["a"],"mappings":"ACAA"})", "out of range"},
           {R"({"version":3,"sources":["a"],"names":[],"mappings":"AAAAA"})", "name out of range"},
           {R"({"version":3,"sources":["a"],"mappings":"gggggggggggggggA"})", "malformed value"},
       }) {
    auto m = SourceMap::Parse(json, "");
    ASSERT_FALSE(m.ok()) << json;
    EXPECT_NE(m.status().message().find(fault), std::string::npos) << m.status().message();
  }
}

TEST(SourceMapTest, ReferencesResolveAsRfc3986Says) {
  const char* base = "http://a/b/c/d;p?q";  // RFC 3986 section 5.4's base
  for (auto [ref, want] : std::initializer_list<std::pair<const char*, const char*>>{
           {"g", "http://a/b/c/g"},
           {"./g", "http://a/b/c/g"},
           {"g/", "http://a/b/c/g/"},
           {"/g", "http://a/g"},
           {"//g", "http://g"},
           {"..", "http://a/b/"},
           {"../g", "http://a/b/g"},
           {"../..", "http://a/"},
           {"../../g", "http://a/g"},
           {"g:h", "g:h"},
           {".", "http://a/b/c/"},
       }) {
    EXPECT_EQ(ResolveReference(base, ref), want) << ref;
  }
  EXPECT_EQ(ResolveReference("https://x.example/js/app.js", "app.js.map"),
            "https://x.example/js/app.js.map");
}

}  // namespace
}  // namespace strata::proto
