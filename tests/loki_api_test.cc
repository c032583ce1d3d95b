// Loki's query API end to end against an in-process server: what a Loki push stored comes
// back through query_range byte for byte, in both response forms, with Loki's shapes, status
// codes and error texts.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>
#include <tuple>

#include "api/params.h"
#include "base/units.h"
#include "server/server.h"
#include "test_util.h"

namespace strata {
namespace {
namespace bhttp = boost::beast::http;
using testing::LokiJson;
using testing::LokiPush;

class LokiApiTest : public ::testing::Test {
 protected:
  LokiApiTest() {
    config_.listen = "127.0.0.1:0";
    config_.grpc_listen = "";
    config_.data_dir = dir_.path();
    config_.threads = 2;
  }
  void SetUp() override {
    srv_ = std::make_unique<server::StrataServer>(config_);
    ASSERT_TRUE(srv_->Start().ok());
    ASSERT_TRUE(srv_->WaitReady().ok());
    client_ = std::make_unique<http::Client>("127.0.0.1", std::to_string(srv_->port()));
  }
  void TearDown() override {
    client_.reset();
    srv_->Shutdown();
  }
  http::Response Do(http::Request req) {
    auto res = client_->Do(std::move(req));
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : http::Response();
  }
  http::Response Get(const std::string& path,
                     const std::vector<std::pair<std::string, std::string>>& params,
                     const std::string& tenant = "", bool categorize = false) {
    std::string target = path;
    char sep = '?';
    for (const auto& [k, v] : params) {
      target += sep + k + "=" + Escape(v);
      sep = '&';
    }
    http::Request req(bhttp::verb::get, target, 11);
    if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
    if (categorize) req.set("X-Loki-Response-Encoding-Flags", "categorize-labels");
    return Do(std::move(req));
  }
  static std::string Escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        out += fmt::format("%{:02X}", c);
      }
    }
    return out;
  }
  simdjson::dom::element Json(const http::Response& res) {
    bodies_.push_back(res.body());
    simdjson::dom::element doc;
    EXPECT_EQ(parser_.parse(bodies_.back()).get(doc), simdjson::SUCCESS) << res.body();
    return doc;
  }

  // The log blocks of the default tenant in the bucket.
  size_t Blocks() const {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(
             dir_.path() + "/bucket/anonymous/logs", ec)) {
      n += e.path().filename() == "meta.json";
    }
    return n;
  }

  testing::TempDir dir_{"loki-api"};
  server::Config config_;
  std::unique_ptr<server::StrataServer> srv_;
  std::unique_ptr<http::Client> client_;
  simdjson::dom::parser parser_;
  std::vector<std::string> bodies_;
  const int64_t ns_ = NowMillis() * 1'000'000;
};

// The entries LokiJson(app, ns, n) sends: (timestamp, line, trace_id or "").
struct Sent {
  int64_t ts;
  std::string line;
  std::string trace_id;
};
std::vector<Sent> Expected(int64_t ns, int n) {
  std::vector<Sent> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.push_back(
        {ns + i, fmt::format("line {} \u00e9\t\"q\"", i), i % 2 ? "t" + std::to_string(i) : ""});
  }
  return out;
}

TEST_F(LokiApiTest, QueryRangeReturnsWhatWasPushedByteForByte) {
  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_, 20), false)).result(), http::Status::no_content);
  auto want = Expected(ns_, 20);
  std::vector<std::pair<std::string, std::string>> q = {{"query", R"({app="api"})"},
                                                        {"start", std::to_string(ns_ - 1000)},
                                                        {"end", std::to_string(ns_ + 1000)},
                                                        {"limit", "1000"},
                                                        {"direction", "forward"}};

  // categorize-labels: one stream, each entry with its structured metadata beside it.
  auto res = Get("/loki/api/v1/query_range", q, "", true);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  auto doc = Json(res);
  EXPECT_EQ(std::string_view(doc["status"]), "success");
  EXPECT_EQ(std::string_view(doc["data"]["resultType"]), "streams");
  EXPECT_EQ(std::string_view(doc["data"]["encodingFlags"].at(0)), "categorize-labels");
  auto result = doc["data"]["result"].get_array();
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(std::string_view(result.at(0)["stream"]["app"]), "api");
  EXPECT_EQ(std::string_view(result.at(0)["stream"]["env"]), "test");
  size_t i = 0;
  for (auto v : result.at(0)["values"].get_array()) {
    ASSERT_LT(i, want.size());
    EXPECT_EQ(std::string_view(v.at(0)), std::to_string(want[i].ts));
    EXPECT_EQ(std::string_view(v.at(1)), want[i].line);
    if (want[i].trace_id.empty()) {
      EXPECT_EQ(v.get_array().size(), 2u);
    } else {
      EXPECT_EQ(std::string_view(v.at(2)["structuredMetadata"]["trace_id"]), want[i].trace_id);
    }
    ++i;
  }
  EXPECT_EQ(i, want.size());

  // The plain form: structured metadata is part of each stream's labels, as in Loki 3.
  res = Get("/loki/api/v1/query_range", q);
  doc = Json(res);
  size_t entries = 0, streams = 0;
  for (auto s : doc["data"]["result"].get_array()) {
    ++streams;
    for (auto v : s["values"].get_array()) {
      int64_t ts = std::stoll(std::string(std::string_view(v.at(0))));
      const Sent& w = want[static_cast<size_t>(ts - ns_)];
      EXPECT_EQ(std::string_view(v.at(1)), w.line);
      std::string_view trace;
      if (s["stream"]["trace_id"].get(trace) == simdjson::SUCCESS) {
        EXPECT_EQ(trace, w.trace_id);
      } else {
        EXPECT_TRUE(w.trace_id.empty());
      }
      ++entries;
    }
  }
  EXPECT_EQ(entries, 20u);
  EXPECT_EQ(streams, 11u);  // the entries without metadata, and one per trace_id

  // Backward (the default) with a limit: the newest.
  q = {{"query", R"({app="api"} |= "line 1")"},
       {"start", std::to_string(ns_)},
       {"end", std::to_string(ns_ + 20)},
       {"limit", "3"}};
  doc = Json(Get("/loki/api/v1/query_range", q, "", true));
  std::vector<std::string> lines;
  for (auto v : doc["data"]["result"].at(0)["values"].get_array()) {
    lines.emplace_back(std::string_view(v.at(1)));
  }
  // Lines containing "line 1": 1 and 10..19; the three newest are 19, 18, 17.
  EXPECT_EQ(lines, (std::vector<std::string>{want[19].line, want[18].line, want[17].line}));

  // interval: the 20 entries lie within 20 ns, so a millisecond's interval keeps the newest.
  q = {{"query", R"({app="api"})"},
       {"start", std::to_string(ns_)},
       {"end", std::to_string(ns_ + 20)},
       {"interval", "0.001"}};
  doc = Json(Get("/loki/api/v1/query_range", q));
  entries = 0;
  for (auto s : doc["data"]["result"].get_array()) {
    for (auto v : s["values"].get_array()) {
      EXPECT_EQ(std::string_view(v.at(1)), want[19].line);
      ++entries;
    }
  }
  EXPECT_EQ(entries, 1u);
  q.back().second = "-1";
  res = Get("/loki/api/v1/query_range", q);
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_NE(res.body().find("interval must be >= 0"), std::string::npos) << res.body();
}

// POST /flush cuts the head into a block in the bucket; queries read head and blocks
// together, before and after a restart, and a needle query is answered from the blocks.
// Paging past the limit as logcli does: each page ends just after the oldest time the last
// one returned, and the entries at that time seen already are skipped. Three entries of each
// stream share every timestamp, so page edges fall inside groups; every entry comes back
// once, newest first, half of them from a block.
TEST_F(LokiApiTest, PagesPastTheLimitReturnEveryEntryOnce) {
  using Key = std::tuple<int64_t, std::string, std::string>;  // time, app, line
  std::set<Key> sent;
  auto push = [&](int from, int to) {
    std::string streams;
    for (const char* app : {"a", "b"}) {
      std::string values;
      for (int i = from; i < to; ++i) {
        const int64_t ts = ns_ + int64_t{i / 3} * 1000;
        const std::string line = fmt::format("{} entry {}", app, i);
        values += fmt::format(R"({}["{}","{}"])", values.empty() ? "" : ",", ts, line);
        sent.emplace(ts, app, line);
      }
      streams += fmt::format(R"({}{{"stream":{{"app":"{}","env":"page"}},"values":[{}]}})",
                             streams.empty() ? "" : ",", app, values);
    }
    ASSERT_EQ(Do(LokiPush(fmt::format(R"({{"streams":[{}]}})", streams), true)).result(),
              http::Status::no_content);
  };
  push(0, 600);
  ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(), http::Status::no_content);
  push(600, 1250);

  std::vector<Key> got;
  std::set<Key> at_edge;  // entries seen at the oldest time of the last page
  int64_t end = ns_ + 1'000'000'000;
  for (int page = 0; page < 10; ++page) {
    auto doc = Json(Get("/loki/api/v1/query_range", {{"query", R"({env="page"})"},
                                                     {"start", std::to_string(ns_)},
                                                     {"end", std::to_string(end)},
                                                     {"limit", "1000"}}));
    std::vector<Key> entries;
    for (auto st : doc["data"]["result"].get_array()) {
      std::string app{std::string_view(st["stream"]["app"])};
      for (auto v : st["values"].get_array()) {
        entries.emplace_back(std::stoll(std::string(std::string_view(v.at(0)))), app,
                             std::string(std::string_view(v.at(1))));
      }
    }
    if (entries.empty()) break;
    EXPECT_LE(entries.size(), 1000u);
    std::sort(entries.begin(), entries.end(), std::greater<>());
    const int64_t oldest = std::get<0>(entries.back());
    size_t fresh = 0;
    for (const Key& k : entries) {
      if (at_edge.contains(k)) continue;
      got.push_back(k);
      ++fresh;
    }
    if (fresh == 0) break;
    if (!at_edge.empty() && std::get<0>(*at_edge.begin()) != oldest) at_edge.clear();
    for (const Key& k : entries) {
      if (std::get<0>(k) == oldest) at_edge.insert(k);
    }
    end = oldest + 1;
  }
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_EQ(std::set<Key>(got.begin(), got.end()), sent);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const Key& x, const Key& y) {
    return std::get<0>(x) > std::get<0>(y);
  }));
}

TEST_F(LokiApiTest, FlushMovesLogsToBlocksAndQueriesStillSeeEverything) {
  auto all = [&](const std::string& query) {
    auto doc = Json(Get("/loki/api/v1/query_range",
                        {{"query", query},
                         {"start", std::to_string(ns_ - 1000)},
                         {"end", std::to_string(ns_ + 1000)},
                         {"limit", "1000"},
                         {"direction", "forward"}},
                        "", true));
    std::vector<std::pair<int64_t, std::string>> out;
    for (auto st : doc["data"]["result"].get_array()) {
      for (auto v : st["values"].get_array()) {
        out.emplace_back(std::stoll(std::string(std::string_view(v.at(0)))),
                         std::string(std::string_view(v.at(1))));
      }
    }
    return out;
  };
  auto want = [&](int n, std::string_view needle) {
    std::vector<std::pair<int64_t, std::string>> out;
    for (const Sent& w : Expected(ns_, n)) {
      if (w.line.find(needle) != std::string::npos) out.emplace_back(w.ts, w.line);
    }
    return out;
  };
  auto flush = [&] {
    http::Request req(bhttp::verb::post, "/flush", 11);
    EXPECT_EQ(Do(std::move(req)).result(), http::Status::no_content);
  };

  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_, 10), false)).result(), http::Status::no_content);
  flush();
  EXPECT_EQ(Blocks(), 1u);
  EXPECT_EQ(all(R"({app="api"})"), want(10, ""));
  // The first ten again (a retry: stored once) and ten more, in the head.
  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_, 20), false)).result(), http::Status::no_content);
  EXPECT_EQ(all(R"({app="api"})"), want(20, ""));
  flush();
  EXPECT_EQ(Blocks(), 2u);
  EXPECT_EQ(all(R"({app="api"})"), want(20, ""));
  EXPECT_EQ(all(R"({app="api"} |= "line 1")"), want(20, "line 1"));
  EXPECT_EQ(all(R"({app="api"} |= "absent-needle-4bf92f3577b34da6")"), want(20, "absent"));

  // A restart: the blocks are found in the bucket, the head is empty.
  client_.reset();
  srv_->Shutdown();
  SetUp();
  EXPECT_EQ(all(R"({app="api"})"), want(20, ""));
  auto doc = Json(Get("/loki/api/v1/query", {{"query", R"(sum(count_over_time({app="api"}[1h])))"},
                                             {"time", std::to_string(ns_ + 1'000'000)}}));
  EXPECT_EQ(std::string_view(doc["data"]["result"].at(0)["value"].at(1)), "20") << bodies_.back();
}

// A head that reaches log_block_size is cut and shipped at once, not at the next maintenance
// tick (an hour away here).
TEST_F(LokiApiTest, AHeadAtItsBlockSizeIsCutAtOnce) {
  client_.reset();
  srv_->Shutdown();
  config_.maintenance_interval_ms = 3'600'000;
  config_.log_block_bytes = 100;
  SetUp();
  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_, 2), false)).result(), http::Status::no_content);
  EXPECT_EQ(Blocks(), 0u);  // 2 lines, under 100 bytes
  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_ + 10, 10), false)).result(), http::Status::no_content);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Blocks() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Blocks(), 1u);
}

TEST_F(LokiApiTest, MetricQueriesLabelsAndSeries) {
  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_, 20), false)).result(), http::Status::no_content);
  ASSERT_EQ(Do(LokiPush(LokiJson("db", ns_, 7), true)).result(), http::Status::no_content);
  double t = static_cast<double>(ns_ + 1'000'000'000) / 1e9;
  auto doc = Json(
      Get("/loki/api/v1/query", {{"query", R"(sum by (app) (count_over_time({env="test"}[1m])))"},
                                 {"time", fmt::format("{:.3f}", t)}}));
  EXPECT_EQ(std::string_view(doc["data"]["resultType"]), "vector");
  std::map<std::string, std::string> got;
  for (auto s : doc["data"]["result"].get_array()) {
    got[std::string(std::string_view(s["metric"]["app"]))] = std::string_view(s["value"].at(1));
  }
  EXPECT_EQ(got, (std::map<std::string, std::string>{{"api", "20"}, {"db", "7"}}));

  // A range query over structured metadata as a label filter: 10 odd api entries and 3 db.
  doc = Json(Get("/loki/api/v1/query_range",
                 {{"query", R"(sum(count_over_time({env="test"} | trace_id != "" [1m])))"},
                  {"start", std::to_string(ns_)},
                  {"end", std::to_string(ns_ + 60'000'000'000)},
                  {"step", "30s"}}));
  EXPECT_EQ(std::string_view(doc["data"]["resultType"]), "matrix");
  // Steps at start, +30 s, +60 s; at start the window (start - 1m, start] ends before the
  // entries at start + 1 ns and later: no point there.
  auto values = doc["data"]["result"].at(0)["values"].get_array();
  EXPECT_EQ(values.size(), 2u);
  EXPECT_EQ(std::string_view(values.at(0).at(1)), "13");
  EXPECT_EQ(std::string_view(values.at(1).at(1)), "13");

  doc = Json(Get("/loki/api/v1/labels", {}));
  std::vector<std::string> names;
  for (auto n : doc["data"].get_array()) names.emplace_back(std::string_view(n));
  EXPECT_EQ(names, (std::vector<std::string>{"app", "env"}));
  doc = Json(Get("/loki/api/v1/label/app/values", {{"query", R"({env="test"})"}}));
  EXPECT_EQ(doc["data"].get_array().size(), 2u);
  doc = Json(Get("/loki/api/v1/series", {{"match[]", R"({app="db"})"}}));
  EXPECT_EQ(std::string_view(doc["data"].at(0)["app"]), "db");
  EXPECT_EQ(doc["data"].get_array().size(), 1u);

  // Asked for gzip, the same answer compressed (inflated here with zlib).
  const std::string plain = Get("/loki/api/v1/labels", {}).body();
  http::Request req(bhttp::verb::get, "/loki/api/v1/labels", 11);
  req.set(bhttp::field::accept_encoding, "gzip");
  auto res = Do(std::move(req));
  EXPECT_EQ(res[bhttp::field::content_encoding], "gzip");
  EXPECT_EQ(testing::ZlibGunzip(res.body()), plain);
}

// index/stats, index/volume(_range), detected_labels and detected_fields(/values), with the
// answers computed here from what was pushed (one head chunk per stream: every span whole).
TEST_F(LokiApiTest, IndexStatsVolumesAndDetectedFields) {
  struct Line {
    std::string app, pod, line, trace_id;
  };
  std::vector<Line> lines;
  lines.reserve(17);
  for (int i = 0; i < 12; ++i) {
    lines.push_back({"api", "p" + std::to_string(i % 2),
                     fmt::format("level=info status={} took={}ms", 200 + i % 3, i),
                     "t" + std::to_string(i)});
  }
  for (int i = 0; i < 5; ++i) {
    lines.push_back(
        {"web", "p0", fmt::format(R"({{"n":{},"user":{{"id":"u{}"}}}})", i, i % 2), ""});
  }
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> values;
  std::map<std::string, uint64_t> bytes_by_app, bytes_by_pod;
  uint64_t bytes = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& l = lines[i];
    std::string quoted;  // the line as a JSON string (its only special character is ")
    for (char ch : l.line) quoted += ch == '"' ? std::string("\\\"") : std::string(1, ch);
    std::string v = fmt::format(R"(["{}","{}")", ns_ + static_cast<int64_t>(i), quoted);
    if (!l.trace_id.empty()) v += fmt::format(R"(,{{"trace_id":"{}"}})", l.trace_id);
    values[{l.app, l.pod}].push_back(v + "]");
    uint64_t b = l.line.size() + (l.trace_id.empty() ? 0 : 8 + l.trace_id.size());
    bytes += b;
    bytes_by_app[l.app] += b;
    bytes_by_pod[l.pod] += b;
  }
  std::string body = R"({"streams":[)";
  for (const auto& [k, vs] : values) {
    if (body.back() != '[') body += ",";
    body += fmt::format(R"({{"stream":{{"app":"{}","pod":"{}","env":"t"}},"values":[{}]}})",
                        k.first, k.second, fmt::join(vs, ","));
  }
  body += "]}";
  ASSERT_EQ(Do(LokiPush(body, true)).result(), http::Status::no_content);
  const std::string start = std::to_string(ns_ - 1000), end = std::to_string(ns_ + 1000);

  auto stats =
      Get("/loki/api/v1/index/stats", {{"query", R"({env="t"})"}, {"start", start}, {"end", end}});
  EXPECT_EQ(stats.body(), fmt::format(R"({{"streams":{},"chunks":{},"bytes":{},"entries":{}}})"
                                      "\n",
                                      values.size(), values.size(), bytes, lines.size()));
  auto refused = Get("/loki/api/v1/index/stats", {{"query", R"({env="t"} |= "x")"}});
  EXPECT_EQ(refused.result(), http::Status::bad_request);
  EXPECT_EQ(refused.body(), "only label matchers are supported\n");

  // Volume by the selector's labels, then by a target label, largest first.
  auto doc = Json(Get("/loki/api/v1/index/volume",
                      {{"query", R"({env="t"})"}, {"start", start}, {"end", end}}));
  EXPECT_EQ(std::string_view(doc["data"]["resultType"]), "vector");
  EXPECT_EQ(std::string_view(doc["data"]["result"].at(0)["value"].at(1)), std::to_string(bytes));
  doc = Json(Get("/loki/api/v1/index/volume_range", {{"query", R"({env="t"})"},
                                                     {"targetLabels", "pod"},
                                                     {"start", start},
                                                     {"end", end},
                                                     {"step", "1h"}}));
  std::vector<std::pair<std::string, std::string>> got;
  for (auto r : doc["data"]["result"].get_array()) {
    got.emplace_back(std::string_view(r["metric"]["pod"]), std::string_view(r["value"].at(1)));
  }
  std::vector<std::pair<std::string, std::string>> want;
  want.reserve(bytes_by_pod.size());
  for (const auto& [pod, b] : bytes_by_pod) want.emplace_back(pod, std::to_string(b));
  std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
    return std::stoull(a.second) > std::stoull(b.second);
  });
  EXPECT_EQ(got, want);

  // The widest range a client can ask (end saturates) is answered, in ~250 buckets.
  auto wide = Get("/loki/api/v1/index/volume_range",
                  {{"query", R"({env="t"})"}, {"start", "0"}, {"end", "9999999999"}});
  EXPECT_EQ(wide.result(), http::Status::ok) << wide.body();
  EXPECT_EQ(
      Get("/loki/api/v1/index/volume", {{"query", R"({env="t"})"}, {"start", end}, {"end", start}})
          .body(),
      "end timestamp must not be before or equal to start time\n");

  // Labels: env has one value, app two, pod two.
  doc = Json(Get("/loki/api/v1/detected_labels",
                 {{"query", R"({env="t"})"}, {"start", start}, {"end", end}}));
  std::map<std::string, int64_t> labels;
  for (auto l : doc["detectedLabels"].get_array()) {
    labels[std::string(std::string_view(l["label"]))] = int64_t(l["cardinality"]);
  }
  EXPECT_EQ(labels, (std::map<std::string, int64_t>{{"app", 2}, {"env", 1}, {"pod", 2}}));

  // Fields: logfmt keys of the api lines, JSON keys (nested ones joined by _, with their path
  // of keys) of the web lines, structured metadata without a parser.
  doc = Json(Get("/loki/api/v1/detected_fields",
                 {{"query", R"({env="t"})"}, {"start", start}, {"end", end}}));
  std::map<std::string, std::string> fields;
  for (auto f : doc["fields"].get_array()) {
    std::string parsers =
        f["parsers"].is_null() ? "null" : std::string(std::string_view(f["parsers"].at(0)));
    std::vector<std::string> path;
    simdjson::dom::array keys;
    if (f["jsonPath"].get(keys) == simdjson::SUCCESS) {
      for (auto k : keys) path.emplace_back(std::string_view(k));
    }
    fields[std::string(std::string_view(f["label"]))] =
        fmt::format("{} {} {} [{}]", std::string_view(f["type"]), int64_t(f["cardinality"]),
                    parsers, fmt::join(path, "."));
  }
  EXPECT_EQ(fields, (std::map<std::string, std::string>{{"level", "string 1 logfmt []"},
                                                        {"n", "int 5 json [n]"},
                                                        {"status", "int 3 logfmt []"},
                                                        {"took", "duration 12 logfmt []"},
                                                        {"trace_id", "string 12 null []"},
                                                        {"user_id", "string 2 json [user.id]"}}));
  doc = Json(Get("/loki/api/v1/detected_field/status/values",
                 {{"query", R"({app="api"})"}, {"start", start}, {"end", end}}));
  std::vector<std::string> statuses;
  for (auto v : doc["values"].get_array()) statuses.emplace_back(std::string_view(v));
  EXPECT_EQ(statuses, (std::vector<std::string>{"200", "201", "202"}));
}

// tail over a WebSocket: first the newest `limit` entries since `start`, oldest first, then
// what is pushed while it is open, late entries too; parameter errors are answered before the
// upgrade.
TEST_F(LokiApiTest, TailSendsRecentThenLiveEntriesOverAWebSocket) {
  namespace ws = boost::beast::websocket;
  ASSERT_EQ(Do(LokiPush(LokiJson("tail", ns_, 3), false)).result(), http::Status::no_content);
  boost::asio::io_context ioc;
  ws::stream<boost::beast::tcp_stream> conn(ioc);
  boost::beast::get_lowest_layer(conn).connect(
      {boost::asio::ip::make_address("127.0.0.1"), srv_->port()});
  conn.handshake("127.0.0.1", "/loki/api/v1/tail?limit=2&start=" + std::to_string(ns_ - 1000) +
                                  "&query=" + Escape(R"({app="tail"})"));
  // Reads messages until `n` entries came (or 20 s passed): (timestamp, line) in order.
  auto read = [&](size_t n) {
    std::vector<std::pair<int64_t, std::string>> got;
    boost::beast::flat_buffer buf;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      bool done = false;
      conn.async_read(buf, [&](boost::beast::error_code ec, size_t) {
        done = true;
        ASSERT_FALSE(ec) << ec.message();
      });
      ioc.restart();
      ioc.run_for(std::chrono::seconds(20));
      if (!done) break;
      auto doc =
          Json(http::Response(http::Status::ok, 11, boost::beast::buffers_to_string(buf.data())));
      buf.consume(buf.size());
      for (auto st : doc["streams"].get_array()) {
        EXPECT_EQ(std::string_view(st["stream"]["app"]), "tail");
        for (auto v : st["values"].get_array()) {
          got.emplace_back(std::stoll(std::string(std::string_view(v.at(0)))),
                           std::string(std::string_view(v.at(1))));
        }
      }
    }
    return got;
  };
  auto sent = Expected(ns_, 3);
  EXPECT_EQ(read(2), (std::vector<std::pair<int64_t, std::string>>{{sent[1].ts, sent[1].line},
                                                                   {sent[2].ts, sent[2].line}}));
  const int64_t live = NowMillis() * 1'000'000;
  ASSERT_EQ(Do(LokiPush(LokiJson("tail", live, 2), false)).result(), http::Status::no_content);
  auto more = Expected(live, 2);
  EXPECT_EQ(read(2), (std::vector<std::pair<int64_t, std::string>>{{more[0].ts, more[0].line},
                                                                   {more[1].ts, more[1].line}}));
  // A late entry (older than those tailed already, within the out-of-order window) is tailed
  // when it arrives; another stream's is not.
  ASSERT_EQ(Do(LokiPush(LokiJson("other", live + 100, 1), false)).result(),
            http::Status::no_content);
  ASSERT_EQ(Do(LokiPush(LokiJson("tail", ns_ + 10, 1), false)).result(), http::Status::no_content);
  EXPECT_EQ(
      read(1),
      (std::vector<std::pair<int64_t, std::string>>{{ns_ + 10, Expected(ns_ + 10, 1)[0].line}}));
  conn.close(ws::close_code::normal);

  auto res = Get("/loki/api/v1/tail", {{"query", R"({app="tail"})"}, {"delay_for", "6"}});
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(), "delay_for can't be greater than 5\n");
  res = Get("/loki/api/v1/tail", {{"query", R"({app="tail"})"}});
  EXPECT_EQ(res.result(), http::Status::bad_request);

  // A tail still open when the server shuts down (TearDown) is closed, its thread joined.
  ws::stream<boost::beast::tcp_stream> open(ioc);
  boost::beast::get_lowest_layer(open).connect(
      {boost::asio::ip::make_address("127.0.0.1"), srv_->port()});
  open.handshake("127.0.0.1", "/loki/api/v1/tail?query=" + Escape(R"({app="tail"})"));
}

// patterns: lines of one shape seen at least 30 times become one pattern, with their count
// per step (Unix seconds); rarer shapes are left out, as Loki prunes them.
TEST_F(LokiApiTest, PatternsOfFrequentLineShapes) {
  std::string values;
  for (int i = 0; i < 40; ++i) {
    values += fmt::format(R"({}["{}","user u{} logged in from 10.0.0.{}"])", i ? "," : "", ns_ + i,
                          i % 7, i);
  }
  for (int i = 0; i < 5; ++i)
    values += fmt::format(R"(,["{}","a rare line number {}"])", ns_ + 100 + i, i);
  ASSERT_EQ(
      Do(LokiPush(
             fmt::format(
                 R"({{"streams":[{{"stream":{{"app":"pat","level":"INFO"}},"values":[{}]}}]}})",
                 values),
             true))
          .result(),
      http::Status::no_content);
  auto doc = Json(Get("/loki/api/v1/patterns", {{"query", R"({app="pat"})"},
                                                {"start", std::to_string(ns_ - 1000)},
                                                {"end", std::to_string(ns_ + 1000)},
                                                {"step", "60s"}}));
  EXPECT_EQ(std::string_view(doc["status"]), "success");
  ASSERT_EQ(doc["data"].get_array().size(), 1u) << bodies_.back();
  auto p = doc["data"].at(0);
  EXPECT_EQ(std::string_view(p["pattern"]), "user <_> logged in from <_>");
  EXPECT_EQ(std::string_view(p["level"]), "info");
  const int64_t bucket = ns_ / 1'000'000'000 / 60 * 60;
  ASSERT_EQ(p["samples"].get_array().size(), 1u);
  EXPECT_EQ(int64_t(p["samples"].at(0).at(0)), bucket);
  EXPECT_EQ(int64_t(p["samples"].at(0).at(1)), 40);
  auto refused = Get("/loki/api/v1/patterns", {{"query", R"({app="pat"} |= "x")"}});
  EXPECT_EQ(refused.body(), "only label matchers are supported\n");
}

// Metric range queries go through the range runner as PromQL's do: split at the hour and
// cached, the second asking answered from the cache, with the answers counted here from
// what was pushed.
class LokiFrontendTest : public LokiApiTest {
 protected:
  LokiFrontendTest() {
    config_.query.frontend.split_interval_ms = 3'600'000;
    config_.query.frontend.max_parallel_splits = 64;  // a sub-query per split
  }

  // strata_query_frontend_splits_total of the default tenant by result.
  std::map<std::string, double> Splits() {
    std::map<std::string, double> out;
    std::string body = Get("/metrics", {}).body();
    const std::string_view family = "strata_query_frontend_splits_total{";
    size_t at = 0;
    while ((at = body.find(family, at)) != std::string::npos) {
      size_t eol = body.find('\n', at);
      std::string_view line = std::string_view(body).substr(at, eol - at);
      at = eol;
      if (line.find(R"(tenant="anonymous")") == std::string_view::npos) continue;
      for (const char* r : {"hit", "partial", "miss"}) {
        if (line.find(fmt::format(R"(result="{}")", r)) != std::string_view::npos) {
          out[r] = std::stod(std::string(line.substr(line.rfind(' ') + 1)));
        }
      }
    }
    return out;
  }
};

TEST_F(LokiFrontendTest, MetricRangeQueriesAreSplitAndCached) {
  constexpr int64_t kMinNs = 60'000'000'000;
  constexpr int64_t kHourMs = 3'600'000;
  // Three settled hours: an entry a minute, apps a and b taking turns two to one.
  const int64_t base_ms = (NowMillis() - 5 * kHourMs) / kHourMs * kHourMs;
  std::map<std::string, std::vector<int64_t>> sent;  // app -> entry times (ns)
  for (int i = 0; i < 180; ++i) {
    sent[i % 3 == 0 ? "a" : "b"].push_back(base_ms * 1'000'000 + i * kMinNs + 1'000'000'000);
  }
  // In two blocks, the second from 57 minutes in.
  const int64_t cut_ns = (base_ms + int64_t{57} * 60'000) * 1'000'000;
  for (bool second : {false, true}) {
    std::string streams;
    for (const auto& [app, times] : sent) {
      std::string values;
      for (int64_t ts : times) {
        if ((ts >= cut_ns) != second) continue;
        values += fmt::format(R"({}["{}","entry at {}"])", values.empty() ? "" : ",", ts, ts);
      }
      streams += fmt::format(R"({}{{"stream":{{"env":"split","app":"{}"}},"values":[{}]}})",
                             streams.empty() ? "" : ",", app, values);
    }
    ASSERT_EQ(Do(LokiPush(fmt::format(R"({{"streams":[{}]}})", streams), true)).result(),
              http::Status::no_content);
    ASSERT_EQ(Do(http::Request(bhttp::verb::post, "/flush", 11)).result(),
              http::Status::no_content);
  }

  // count_over_time([5m]) at every 5 minutes of the three hours, counted from `sent`.
  const int64_t step_ms = 300'000;
  std::map<std::string, std::map<int64_t, int>> want;
  for (int64_t t = base_ms; t <= base_ms + 3 * kHourMs; t += step_ms) {
    for (const auto& [app, times] : sent) {
      int n = 0;
      for (int64_t ts : times) n += ts > (t - step_ms) * 1'000'000 && ts <= t * 1'000'000;
      if (n > 0) want[app][t] = n;
    }
  }
  ASSERT_EQ(want.size(), 2u);
  auto query = [&](int64_t from_ms, int64_t to_ms,
                   std::string q = R"(sum by (app) (count_over_time({env="split"}[5m])))") {
    auto doc = Json(Get("/loki/api/v1/query_range", {{"query", q},
                                                     {"start", std::to_string(from_ms * 1'000'000)},
                                                     {"end", std::to_string(to_ms * 1'000'000)},
                                                     {"step", "5m"}}));
    std::map<std::string, std::map<int64_t, int>> got;
    for (auto s : doc["data"]["result"].get_array()) {
      auto& points = got[std::string(std::string_view(s["metric"]["app"]))];
      for (auto v : s["values"].get_array()) {
        points[static_cast<int64_t>(std::llround(double(v.at(0)) * 1000))] =
            std::stoi(std::string(std::string_view(v.at(1))));
      }
    }
    return got;
  };
  EXPECT_EQ(query(base_ms, base_ms + 3 * kHourMs), want);
  auto first = Splits();
  EXPECT_EQ(first["miss"], 4);  // the three hours and the step at the end of the third
  EXPECT_EQ(first["hit"], 0);

  // Asked again, every split comes from the cache, and the answer is the same.
  EXPECT_EQ(query(base_ms, base_ms + 3 * kHourMs), want);
  auto second = Splits();
  EXPECT_EQ(second["hit"] - first["hit"], 4);
  EXPECT_EQ(second["miss"] - first["miss"], 0);

  // A range reaching a step past the cached one: that split is partly cached.
  auto later = query(base_ms + kHourMs, base_ms + 3 * kHourMs + step_ms);
  auto want_later = want;
  for (auto& [app, points] : want_later) {
    std::erase_if(points, [&](const auto& p) { return p.first < base_ms + kHourMs; });
  }
  EXPECT_EQ(later, want_later);
  auto third = Splits();
  EXPECT_EQ(third["hit"] - second["hit"], 2);
  EXPECT_EQ(third["partial"] - second["partial"], 1);

  // A negative offset reads after a split's last step: at 55 minutes, entries of the second
  // block.
  std::map<std::string, std::map<int64_t, int>> ahead;
  for (int64_t t = base_ms; t <= base_ms + 3 * kHourMs; t += step_ms) {
    for (const auto& [app, times] : sent) {
      int n = 0;
      for (int64_t ts : times) n += ts > t * 1'000'000 && ts <= (t + step_ms) * 1'000'000;
      if (n > 0) ahead[app][t] = n;
    }
  }
  EXPECT_EQ(query(base_ms, base_ms + 3 * kHourMs,
                  R"(sum by (app) (count_over_time({env="split"}[5m] offset -5m)))"),
            ahead);
}

TEST_F(LokiApiTest, ErrorsAndFormatQuery) {
  auto res = Get("/loki/api/v1/query_range", {{"query", R"({app="api"} |~)"}});
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(),
            "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or "
            "ip\n");
  res = Get("/loki/api/v1/query", {{"query", R"({app="api"})"}});
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(),
            "log queries are not supported as an instant query type, please change your query to "
            "a range query type\n");
  res = Get("/loki/api/v1/query_range", {{"query", R"({app="api"})"}, {"limit", "5001"}});
  EXPECT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(res.body(),
            "max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > "
            "5000)\n");

  auto doc = Json(Get("/loki/api/v1/format_query", {{"query", R"(sum(rate({ app = "x" }[5m])))"}}));
  EXPECT_EQ(std::string_view(doc["data"]), R"(sum(rate({app="x"}[5m])))");
  res = Get("/loki/api/v1/format_query", {{"query", "{}"}});
  EXPECT_EQ(res.result(), http::Status::bad_request);
  doc = Json(res);
  EXPECT_EQ(std::string_view(doc["status"]), "invalid-query");

  res = Get("/loki/api/v1/status/buildinfo", {});
  EXPECT_EQ(res.result(), http::Status::ok);
  EXPECT_FALSE(std::string_view(Json(res)["version"]).empty());
}

// OTLP logs are stored as Loki 3 stores them: indexed resource attributes as stream labels
// (dots as underscores), everything else as structured metadata, the body as the line.
TEST_F(LokiApiTest, OtlpLogsFollowLokisConventions) {
  const std::string json = fmt::format(R"({{"resourceLogs":[{{
    "resource":{{"attributes":[
      {{"key":"service.name","value":{{"stringValue":"checkout"}}}},
      {{"key":"k8s.pod.name","value":{{"stringValue":"pod-1"}}}},
      {{"key":"host.name","value":{{"stringValue":"node-7"}}}}]}},
    "scopeLogs":[{{"scope":{{"name":"my.lib","version":"1.2"}},
      "logRecords":[
        {{"timeUnixNano":"{}","severityNumber":17,"severityText":"ERROR",
          "body":{{"stringValue":"payment failed"}},
          "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
          "attributes":[{{"key":"http.route","value":{{"stringValue":"/pay"}}}},
                        {{"key":"user","value":{{"kvlistValue":{{"values":[
                          {{"key":"id","value":{{"intValue":"42"}}}}]}}}}}}]}},
        {{"timeUnixNano":"{}","body":{{"kvlistValue":{{"values":[
          {{"key":"a","value":{{"boolValue":true}}}}]}}}}}}]}}]}}]}})",
                                       ns_, ns_ + 1);
  http::Request req(bhttp::verb::post, "/otlp/v1/logs", 11);
  req.set(bhttp::field::content_type, "application/json");
  req.body() = json;
  auto res = Do(std::move(req));
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(res.body(), "{}");

  auto doc = Json(Get("/loki/api/v1/query_range",
                      {{"query", R"({service_name="checkout"})"},
                       {"start", std::to_string(ns_ - 1)},
                       {"end", std::to_string(ns_ + 10)},
                       {"direction", "forward"}},
                      "", true));
  auto streams = doc["data"]["result"].get_array();
  ASSERT_EQ(streams.size(), 1u) << bodies_.back();
  auto stream = streams.at(0);
  EXPECT_EQ(std::string_view(stream["stream"]["service_name"]), "checkout");
  EXPECT_EQ(std::string_view(stream["stream"]["k8s_pod_name"]), "pod-1");
  EXPECT_EQ(stream["stream"].get_object().size(), 2u);
  auto first = stream["values"].at(0);
  EXPECT_EQ(std::string_view(first.at(1)), "payment failed");
  auto md = first.at(2)["structuredMetadata"];
  EXPECT_EQ(std::string_view(md["host_name"]), "node-7");
  EXPECT_EQ(std::string_view(md["http_route"]), "/pay");
  EXPECT_EQ(std::string_view(md["user_id"]), "42");
  EXPECT_EQ(std::string_view(md["severity_text"]), "ERROR");
  EXPECT_EQ(std::string_view(md["severity_number"]), "17");
  EXPECT_EQ(std::string_view(md["trace_id"]), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(std::string_view(md["span_id"]), "eee19b7ec3c1b174");
  EXPECT_EQ(std::string_view(md["scope_name"]), "my.lib");
  EXPECT_EQ(std::string_view(md["scope_version"]), "1.2");
  // A body that is no string is stored as OpenTelemetry prints it: JSON.
  EXPECT_EQ(std::string_view(stream["values"].at(1).at(1)), R"({"a":true})");

  // Without service.name, service_name comes from a conventional label, or is unknown_service.
  const std::string anon = fmt::format(
      R"({{"resourceLogs":[{{"resource":{{}},"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","body":{{"stringValue":"x"}}}}]}}]}}]}})",
      ns_);
  http::Request req2(bhttp::verb::post, "/otlp/v1/logs", 11);
  req2.set(bhttp::field::content_type, "application/json");
  req2.body() = anon;
  ASSERT_EQ(Do(std::move(req2)).result(), http::Status::ok);
  // A trace ID of the wrong length is refused, as OpenTelemetry's decoder refuses it.
  http::Request bad_id(bhttp::verb::post, "/otlp/v1/logs", 11);
  bad_id.set(bhttp::field::content_type, "application/json");
  bad_id.body() = fmt::format(
      R"({{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","traceId":"abcd1234","body":{{"stringValue":"x"}}}}]}}]}}]}})",
      ns_);
  auto refused = Do(std::move(bad_id));
  EXPECT_EQ(refused.result(), http::Status::bad_request) << refused.body();
  doc = Json(Get("/loki/api/v1/label/service_name/values", {}));
  std::vector<std::string> services;
  for (auto v : doc["data"].get_array()) services.emplace_back(std::string_view(v));
  EXPECT_EQ(services, (std::vector<std::string>{"checkout", "unknown_service"}));
}

TEST_F(LokiApiTest, TenantsSeeOnlyTheirOwnLogs) {
  ASSERT_EQ(Do(LokiPush(LokiJson("api", ns_, 3), false, "team-a")).result(),
            http::Status::no_content);
  std::vector<std::pair<std::string, std::string>> q = {{"query", R"({app="api"})"},
                                                        {"start", std::to_string(ns_ - 1)},
                                                        {"end", std::to_string(ns_ + 10)}};
  auto a = Json(Get("/loki/api/v1/query_range", q, "team-a"));
  EXPECT_EQ(a["data"]["result"].get_array().size(), 2u);  // with and without metadata
  auto b = Json(Get("/loki/api/v1/query_range", q, "team-b"));
  EXPECT_EQ(b["data"]["result"].get_array().size(), 0u);
}

}  // namespace
}  // namespace strata
