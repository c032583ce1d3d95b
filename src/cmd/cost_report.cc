// strata tool cost-report: object-store requests and bytes per component, read from the
// /metrics of running Strata processes, with an estimate at given prices.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <string>

#include "base/labels.h"
#include "cmd/commands.h"
#include "http/client.h"
#include "proto/exposition.h"

namespace strata::cmd {
namespace {

struct Prices {
  double class_a_per_1k = 0.005;   // PUT, POST, LIST (S3 Standard, us-east-1)
  double class_b_per_1k = 0.0004;  // GET, HEAD
  double transfer_per_gb = 0;      // egress; 0 within the bucket's region
};

// A process's /metrics has a few thousand samples; this bounds a wrong URL's answer.
constexpr size_t kMaxSamples = 1'000'000;

struct Usage {
  std::map<std::string, double> requests;  // by operation
  double received = 0;
  double sent = 0;
};

int RunCostReport(const std::vector<std::string>& urls, const Prices& p) {
  std::map<std::pair<std::string, std::string>, Usage> by_component;  // by component, signal
  for (const auto& url : urls) {
    // http://host:port/path
    std::string rest = url.starts_with("http://") ? url.substr(7) : url;
    size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "/metrics" : rest.substr(slash);
    size_t colon = hostport.rfind(':');
    std::string host = hostport.substr(0, colon);
    std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    http::Client client(host, port, 10'000);
    auto res = client.Do(http::Request(boost::beast::http::verb::get, path, 11));
    if (!res.ok() || res->result_int() != 200) {
      std::cerr << "strata: cannot read " << url << ": "
                << (res.ok() ? std::to_string(res->result_int()) : res.status().message()) << "\n";
      return 1;
    }
    auto exposition = proto::ParseExposition(res->body(), kMaxSamples);
    if (!exposition.ok()) {
      std::cerr << "strata: " << url << ": " << exposition.status().message() << "\n";
      return 1;
    }
    for (const auto& s : exposition->samples) {
      std::string_view name = GetLabel(s.labels, "__name__");
      Usage& u = by_component[{std::string(GetLabel(s.labels, "component")),
                               std::string(GetLabel(s.labels, "signal"))}];
      if (name == "strata_objstore_requests_total") {
        u.requests[std::string(GetLabel(s.labels, "operation"))] += s.value;
      }
      if (name == "strata_objstore_received_bytes_total") u.received += s.value;
      if (name == "strata_objstore_sent_bytes_total") u.sent += s.value;
    }
  }
  std::cout << fmt::format("{:<14} {:<8} {:>10} {:>10} {:>10} {:>10} {:>8} {:>14} {:>14} {:>12}\n",
                           "component", "signal", "get", "get_range", "put", "list", "delete",
                           "bytes_in", "bytes_out", "est_usd");
  double total = 0;
  for (auto& [key, u] : by_component) {
    const auto& [comp, signal] = key;
    if (comp.empty()) continue;
    double class_a = u.requests["put"] + u.requests["list"];
    double class_b = u.requests["get"] + u.requests["get_range"] + u.requests["exists"];
    double usd = class_a / 1000 * p.class_a_per_1k + class_b / 1000 * p.class_b_per_1k +
                 u.received / 1e9 * p.transfer_per_gb;
    total += usd;
    std::cout << fmt::format(
        "{:<14} {:<8} {:>10.0f} {:>10.0f} {:>10.0f} {:>10.0f} {:>8.0f} {:>14.0f} "
        "{:>14.0f} {:>12.6f}\n",
        comp, signal, u.requests["get"], u.requests["get_range"], u.requests["put"],
        u.requests["list"], u.requests["delete"], u.received, u.sent, usd);
  }
  std::cout << fmt::format(
      "total estimated cost: ${:.6f} (class A ${}/1k, class B ${}/1k, "
      "transfer ${}/GB)\n",
      total, p.class_a_per_1k, p.class_b_per_1k, p.transfer_per_gb);
  return 0;
}

}  // namespace

void RegisterCostReport(CLI::App& tool, int* exit_code) {
  auto urls = std::make_shared<std::vector<std::string>>();
  auto prices = std::make_shared<Prices>();
  CLI::App* cmd = tool.add_subcommand(
      "cost-report",
      "Object-store requests and bytes per component (ingest, store_gateway, compactor) and "
      "signal from "
      "running processes' /metrics, with a cost estimate.");
  cmd->add_option("--url", *urls, "A /metrics URL (repeatable), e.g. http://127.0.0.1:9009/metrics")
      ->required();
  cmd->add_option("--class-a-price", prices->class_a_per_1k,
                  "USD per 1,000 PUT/POST/LIST requests (default S3 Standard: 0.005)");
  cmd->add_option("--class-b-price", prices->class_b_per_1k,
                  "USD per 1,000 GET/HEAD requests (default S3 Standard: 0.0004)");
  cmd->add_option("--transfer-price", prices->transfer_per_gb,
                  "USD per GB downloaded (default 0: same region)");
  cmd->callback([urls, prices, exit_code] { *exit_code = RunCostReport(*urls, *prices); });
}

}  // namespace strata::cmd
