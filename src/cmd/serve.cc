#include <signal.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "cmd/commands.h"
#include "cmd/setup.h"
#include "server/config.h"
#include "server/server.h"

namespace strata::cmd {
namespace {

struct ServeFlags {
  std::string config_file;
  std::string listen;
  std::optional<std::string> grpc_listen;
  std::string data_dir;
  std::string log_level;
};

int RunServe(const ServeFlags& f) {
  auto config = LoadConfig(f.config_file, f.data_dir, f.log_level);
  if (!config) return 2;
  server::Config& c = *config;
  if (!f.listen.empty()) c.listen = f.listen;
  if (f.grpc_listen) c.grpc_listen = *f.grpc_listen;
  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals = BlockTerminationSignals();

  server::StrataServer srv(c);
  if (Status st = srv.Start(); !st.ok()) {
    spdlog::error("msg=\"cannot start\" err=\"{}\"", st.ToString());
    return 1;
  }
  std::thread storage_watch([&srv] {
    if (!srv.WaitReady().ok()) kill(getpid(), SIGTERM);
  });
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("msg=\"received signal\" signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  srv.Shutdown();
  storage_watch.join();
  return srv.WaitReady().ok() ? 0 : 1;
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the Strata server (remote write on :9009, data in ./data by default).");
  serve->add_option("--config", flags->config_file, "YAML configuration file")
      ->check(CLI::ExistingFile);
  serve->add_option("--listen", flags->listen,
                    "HTTP listen address [host]:port (overrides server.listen)");
  serve->add_option("--grpc-listen", flags->grpc_listen,
                    "OTLP/gRPC listen address [host]:port, empty for none (overrides "
                    "server.grpc_listen)");
  serve->add_option("--data-dir", flags->data_dir, "Data directory (overrides storage.data_dir)");
  serve->add_option("--log.level", flags->log_level,
                    "trace, debug, info, warn or error (overrides log.level)");
  serve->callback([flags, exit_code] { *exit_code = RunServe(*flags); });
}

}  // namespace strata::cmd
