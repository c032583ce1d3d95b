#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "base/log.h"
#include "cmd/commands.h"
#include "server/config.h"
#include "server/server.h"

namespace strata::cmd {
namespace {

struct ServeFlags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string log_level;
};

int RunServe(const ServeFlags& f) {
  auto config =
      f.config_file.empty() ? server::ParseConfig("") : server::LoadConfigFile(f.config_file);
  if (!config.ok()) {
    std::cerr << "strata: " << config.status().message() << "\n";
    return 2;
  }
  server::Config c = std::move(config).value();
  if (!f.listen.empty()) c.listen = f.listen;
  if (!f.data_dir.empty()) c.data_dir = f.data_dir;
  if (!f.log_level.empty()) c.log_level = f.log_level;
  if (Status st = InitLogging(c.log_level); !st.ok()) {
    std::cerr << "strata: " << st.message() << "\n";
    return 2;
  }
  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

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
  serve->add_option("--data-dir", flags->data_dir, "Data directory (overrides storage.data_dir)");
  serve->add_option("--log.level", flags->log_level,
                    "trace, debug, info, warn or error (overrides log.level)");
  serve->callback([flags, exit_code] { *exit_code = RunServe(*flags); });
}

}  // namespace strata::cmd
