// strata compactor: the compactor alone, meant to run next to the bucket (seed 000: moving
// compaction next to the bucket cut an object-storage bill by 96%).
#include <prometheus/text_serializer.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "cmd/commands.h"
#include "cmd/setup.h"
#include "http/server.h"
#include "server/compactor_service.h"
#include "server/config.h"

namespace strata::cmd {
namespace {

struct CompactorFlags {
  std::string config_file;
  std::string data_dir;
  std::string listen;
  std::string log_level;
  bool once = false;
};

int RunCompactor(const CompactorFlags& f) {
  auto config = LoadConfig(f.config_file, f.data_dir, f.log_level);
  if (!config) return 2;
  server::Config& c = *config;
  if (!f.listen.empty()) c.compactor_listen = f.listen;

  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = std::make_shared<objstore::BucketMetrics>(*registry);
  auto buckets = objstore::BucketRegistry::Open(c.bucket, c.tenant_buckets, c.data_dir, metrics);
  if (!buckets.ok()) {
    spdlog::error("msg=\"cannot open the bucket\" err=\"{}\"", buckets.status().ToString());
    return 1;
  }
  server::CompactorService service(c, **buckets, registry.get());
  // A one-off pass dies on the default signal action: an interrupted job's output never
  // becomes visible and the next pass removes it.
  if (f.once) return service.RunOnce() ? 0 : 1;
  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals = BlockTerminationSignals();

  http::ServerOptions hopts;
  hopts.listen = c.compactor_listen;
  hopts.threads = 1;
  http::Server http(hopts);
  http.Route("/metrics", {boost::beast::http::verb::get},
             [registry](http::Request& req, const http::Responder& r) {
               std::ostringstream out;
               prometheus::TextSerializer().Serialize(out, registry->Collect());
               http::Response res = http::TextResponse(req, http::Status::ok, out.str());
               res.set(boost::beast::http::field::content_type,
                       "text/plain; version=0.0.4; charset=utf-8");
               r.Send(std::move(res));
             });
  http.Route("/-/healthy", {boost::beast::http::verb::get},
             [](http::Request& req, const http::Responder& r) {
               r.Send(http::TextResponse(req, http::Status::ok, "Strata compactor is Healthy."));
             });
  if (Status st = http.Start(); !st.ok()) {
    spdlog::error("msg=\"cannot start\" err=\"{}\"", st.ToString());
    return 1;
  }
  spdlog::info("msg=\"compactor running\" listen={} port={} interval_ms={}", c.compactor_listen,
               http.port(), c.compactor_interval_ms);
  service.Start();
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("msg=\"received signal\" signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  service.Stop();
  http.Shutdown(5000);
  return 0;
}

}  // namespace

void RegisterCompactor(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<CompactorFlags>();
  CLI::App* cmd = app.add_subcommand(
      "compactor", "Run only the compactor (merge, downsample, retention) against the bucket.");
  cmd->add_option("--config", flags->config_file, "YAML configuration file (as for serve)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags->data_dir, "Work directory (overrides storage.data_dir)");
  cmd->add_option("--listen", flags->listen, "/metrics address (overrides compactor.listen)");
  cmd->add_option("--log.level", flags->log_level, "trace, debug, info, warn or error");
  cmd->add_flag("--once", flags->once, "Run one pass over every tenant and exit");
  cmd->callback([flags, exit_code] { *exit_code = RunCompactor(*flags); });
}

}  // namespace strata::cmd
