#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "base/matcher.h"
#include "cmd/commands.h"
#include "promql/parser.h"
#include "tsdb/db.h"
#include "tsdb/storage.h"

namespace strata::cmd {
namespace {
namespace fs = std::filesystem;

struct DumpFlags {
  std::string data_dir = "./data";
  std::string tenant;
  std::string match;
  int64_t min_time = INT64_MIN;
  int64_t max_time = INT64_MAX;
};

// Values as Prometheus prints them: shortest round-trip form, NaN, +Inf, -Inf.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

int DumpTenant(const std::string& tenant, const std::string& dir,
               const std::vector<Matcher>& matchers, const DumpFlags& f) {
  tsdb::Head head;
  Status st = tsdb::Db::ReadInto(dir, head, nullptr);
  if (!st.ok()) {
    std::cerr << "strata: reading tenant " << tenant << ": " << st.ToString() << "\n";
    return 1;
  }
  std::vector<const tsdb::MemSeries*> series;
  if (matchers.empty()) {
    head.ForEachSeries([&](const tsdb::MemSeries& s) { series.push_back(&s); });
  } else {
    for (auto* s : head.Select(matchers)) series.push_back(s);
  }
  std::vector<std::pair<std::string, const tsdb::MemSeries*>> sorted;
  sorted.reserve(series.size());
  for (const auto* s : series) sorted.emplace_back(FormatLabels(s->OwnedLabels()), s);
  std::sort(sorted.begin(), sorted.end());
  std::cout << "# tenant: " << tenant << "\n";
  std::string out;
  for (const auto& entry : sorted) {
    const std::string& labels = entry.first;
    head.WithSeriesLocked(*entry.second, [&](const tsdb::MemSeries& ms) {
      ms.ForEachSample(f.min_time, f.max_time, [&](int64_t t, double v) {
        out += fmt::format("{} {} {}\n", labels, FormatValue(v), t);
      });
    });
    if (out.size() > (1 << 20)) {
      std::cout << out;
      out.clear();
    }
  }
  std::cout << out;
  return 0;
}

int RunDump(const DumpFlags& f) {
  std::vector<Matcher> matchers;
  if (!f.match.empty()) {
    auto parsed = promql::ParseMetricSelector(f.match);
    if (!parsed.ok()) {
      std::cerr << "strata: --match: " << parsed.status().message() << "\n";
      return 2;
    }
    matchers = std::move(parsed).value();
  }
  std::string tenants_dir = tsdb::Storage::TenantsDir(f.data_dir);
  std::error_code ec;
  if (!fs::is_directory(tenants_dir, ec)) {
    std::cerr << "strata: " << f.data_dir
              << " is not a Strata data directory (no tenants/ in it)\n";
    return 1;
  }
  std::vector<std::string> tenants;
  for (const auto& e : fs::directory_iterator(tenants_dir, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && (f.tenant.empty() || name == f.tenant)) tenants.push_back(name);
  }
  std::sort(tenants.begin(), tenants.end());
  if (!f.tenant.empty() && tenants.empty()) {
    std::cerr << "strata: no tenant \"" << f.tenant << "\" in " << f.data_dir << "\n";
    return 1;
  }
  for (const auto& t : tenants) {
    std::string dir = tenants_dir;
    dir.append("/").append(t);
    if (int rc = DumpTenant(t, dir, matchers, f); rc != 0) return rc;
  }
  return 0;
}

}  // namespace

void RegisterDump(CLI::App& tool, int* exit_code) {
  auto flags = std::make_shared<DumpFlags>();
  CLI::App* dump =
      tool.add_subcommand("dump",
                          "Print series and samples of a data directory (like promtool tsdb dump). "
                          "Output: '# tenant: T' then 'labels value timestamp_ms' lines.");
  dump->add_option("--data-dir", flags->data_dir, "Data directory")->capture_default_str();
  dump->add_option("--tenant", flags->tenant, "Only this tenant (default: all)");
  dump->add_option("--match", flags->match, "Series selector, e.g. 'up{job=\"node\"}'");
  dump->add_option("--min-time", flags->min_time, "Earliest timestamp, in ms");
  dump->add_option("--max-time", flags->max_time, "Latest timestamp, in ms");
  dump->callback([flags, exit_code] { *exit_code = RunDump(*flags); });
}

}  // namespace strata::cmd
