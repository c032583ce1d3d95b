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

// An indexed map, read as go-sourcemap (Alloy's) reads one: the last section whose offset line
// (0-based) is before the frame's 1-based line, both offsets taken off the position. The
// mappings: "AAAA" is generated column 0 to source 0 line 0 column 0; "AACA" one source line
// further.
TEST(SourceMapTest, IndexedMapsPickTheirSectionAsGoSourcemapDoes) {
  auto m = SourceMap::Parse(R"({"version":3,"sections":[
      {"offset":{"line":0,"column":0},"map":{"version":3,"sources":["a.js"],"mappings":"AAAA"}},
      {"offset":{"line":2,"column":4},
       "map":{"version":3,"sources":["b.js"],"names":["f"],"mappings":"AAAAA;AACA"}}]})",
                            "https://cdn.example.com/app.js.map");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->mappings(), 3u);
  // Line 1 is in the first section: a.js line 1.
  auto first = m->Resolve(1, 3);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->source, "https://cdn.example.com/a.js");
  EXPECT_EQ(first->line, 1);
  EXPECT_EQ(first->function, "?");
  // Line 2: still the first section (offset line 2 is not before it), with no mapping there.
  EXPECT_FALSE(m->Resolve(2, 0).has_value());
  // Line 3 is the second section's line 1; column 9 becomes 5, past its mapping at 0.
  auto second = m->Resolve(3, 9);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->source, "https://cdn.example.com/b.js");
  EXPECT_EQ(second->line, 1);
  EXPECT_EQ(second->function, "f");
  // Line 4 is its line 2: b.js line 2.
  auto third = m->Resolve(4, 4);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->line, 2);
  // Column 3 on line 3 becomes -1, before the section's first mapping on its line 1.
  EXPECT_FALSE(m->Resolve(3, 3).has_value());
}

TEST(SourceMapTest, RefusesWhatItCannotRead) {
  for (
      auto [json, fault] : std::initializer_list<std::pair<const char*, const char*>>{
          {R"({"version":2,"sources":[],"mappings":""})", "version must be 3"},
          {R"({"version":3,"sections":{}})", "sections must be an array"},
          {R"({"version":3,"sections":[{"offset":{"line":0,"column":0},"url":"x.map"}]})",
           "url sections are not supported"},
          {R"({"version":3,"sections":[{"map":{"sources":[],"mappings":""}}]})", "offset"},
          {R"({"version":3,"sections":[{"offset":{"line":0,"column":0},"map":{"sources":["a"],"mappings":"AA"}}]})",
           "a segment of 2 fields"},
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
