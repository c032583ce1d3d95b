#include "agent/scrape/relabel.h"

#include <gtest/gtest.h>

#include "agent/scrape/scraper.h"

namespace strata::agent {
namespace {

Relabeler Compile(const std::vector<RelabelRule>& rules) {
  auto r = Relabeler::Compile(rules, "relabel_configs");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return *r;
}

TEST(Relabel, ActionsFollowPrometheus) {
  Labels l = {{"__address__", "10.0.0.1:9100"}, {"__meta_env", "prod"}, {"job", "node"}};
  RelabelRule replace{.source_labels = {"__address__"},
                      .regex = "(.*):(\\d+)",
                      .target_label = "host",
                      .replacement = "${1}-$2"};
  RelabelRule labelmap{.regex = "__meta_(.+)", .replacement = "$1", .action = "labelmap"};
  RelabelRule hashmod{
      .source_labels = {"__address__"}, .target_label = "shard", .modulus = 4, .action = "hashmod"};
  RelabelRule upper{.source_labels = {"job"}, .target_label = "JOB", .action = "uppercase"};
  RelabelRule drop_meta{.regex = "__meta_.*", .action = "labeldrop"};
  ASSERT_TRUE(Compile({replace, labelmap, hashmod, upper, drop_meta}).Apply(l));
  EXPECT_EQ(l, (Labels{{"JOB", "NODE"},
                       {"__address__", "10.0.0.1:9100"},
                       {"env", "prod"},
                       {"host", "10.0.0.1-9100"},
                       {"job", "node"},
                       {"shard", "1"}}));

  // keep/drop match the whole joined value; a replace to an empty value deletes the label.
  RelabelRule keep{.source_labels = {"env", "job"}, .regex = "prod;no.*", .action = "keep"};
  EXPECT_TRUE(Compile({keep}).Apply(l));
  keep.regex = "prod";
  EXPECT_FALSE(Compile({keep}).Apply(l));
  RelabelRule clear{.source_labels = {"env"}, .target_label = "host", .replacement = ""};
  ASSERT_TRUE(Compile({clear}).Apply(l));
  EXPECT_EQ(std::count_if(l.begin(), l.end(), [](const Label& x) { return x.name == "host"; }), 0);
  RelabelRule keepequal{.source_labels = {"job"}, .target_label = "JOB", .action = "keepequal"};
  EXPECT_FALSE(Compile({keepequal}).Apply(l));
}

TEST(Relabel, InvalidRulesAreErrorsNamingThem) {
  EXPECT_FALSE(Relabeler::Compile({{.action = "explode"}}, "r").ok());
  auto bad = Relabeler::Compile({{.target_label = "x"}, {.regex = "(", .target_label = "x"}}, "r");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("r[1]"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(Relabeler::Compile({{.target_label = "x", .action = "hashmod"}}, "r").ok());
}

TEST(Relabel, TargetsOfAJob) {
  ScrapeConfig job{.job_name = "node",
                   .interval_ms = 15'000,
                   .metrics_path = "/probe",
                   .params = {{"module", {"http 2xx"}}}};
  RelabelRule drop{.source_labels = {"__address__"}, .regex = "skip:.*", .action = "drop"};
  auto relabel = *Relabeler::Compile({drop}, "r");
  auto targets = TargetsOf(job, relabel, {"a:9100", "skip:1", "[::1]:9100"}, {{"dc", "eu"}});
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].labels, (Labels{{"dc", "eu"}, {"instance", "a:9100"}, {"job", "node"}}));
  EXPECT_EQ(targets[0].host, "a");
  EXPECT_EQ(targets[0].port, "9100");
  EXPECT_EQ(targets[0].target, "/probe?module=http%202xx");
  EXPECT_EQ(targets[1].host, "::1");
}

}  // namespace
}  // namespace strata::agent
