#include "agent/agent.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "base/log.h"
#include "cmd/commands.h"
#include "cmd/setup.h"

namespace strata::cmd {
namespace {

struct AgentFlags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string log_level;
};

int RunAgent(const AgentFlags& f) {
  auto config = f.config_file.empty() ? agent::ParseAgentConfig("")
                                      : agent::LoadAgentConfigFile(f.config_file);
  if (!config.ok()) {
    std::cerr << "strata: " << config.status().message() << "\n";
    return 2;
  }
  agent::AgentConfig c = std::move(config).value();
  if (!f.listen.empty()) c.listen = f.listen;
  if (!f.data_dir.empty()) c.data_dir = f.data_dir;
  if (!f.log_level.empty()) c.log_level = f.log_level;
  if (Status st = InitLogging(c.log_level); !st.ok()) {
    std::cerr << "strata: " << st.message() << "\n";
    return 2;
  }
  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals = BlockTerminationSignals();
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  agent::Agent a(std::move(c), f.config_file);
  if (Status st = a.Start(); !st.ok()) {
    spdlog::error("msg=\"cannot start\" err=\"{}\"", st.ToString());
    return 1;
  }
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    if (Status st = a.Reload(); !st.ok()) {
      spdlog::error("msg=\"reload failed; keeping the running configuration\" err=\"{}\"",
                    st.message());
    }
  }
  spdlog::info("msg=\"received signal; shutting down\"");
  a.Shutdown();
  return 0;
}

}  // namespace

void RegisterAgent(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* cmd = app.add_subcommand(
      "agent",
      "Run the Strata agent: receive telemetry, queue it durably on disk, deliver it to "
      "backends (remote write on :4318/api/v1/write to localhost:9009 by default).");
  cmd->add_option("--config", flags->config_file, "Agent YAML configuration file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", flags->listen, "HTTP listen address (overrides server.listen)");
  cmd->add_option("--data-dir", flags->data_dir, "Queue directory (overrides data_dir)");
  cmd->add_option("--log.level", flags->log_level,
                  "trace, debug, info, warn or error (overrides log.level)");
  cmd->callback([flags, exit_code] { *exit_code = RunAgent(*flags); });
}

}  // namespace strata::cmd
