#include "cmd/setup.h"

#include <iostream>

#include "base/log.h"

namespace strata::cmd {

std::optional<server::Config> LoadConfig(const std::string& file, const std::string& data_dir,
                                         const std::string& log_level) {
  auto config = file.empty() ? server::ParseConfig("") : server::LoadConfigFile(file);
  if (!config.ok()) {
    std::cerr << "strata: " << config.status().message() << "\n";
    return std::nullopt;
  }
  server::Config c = std::move(config).value();
  if (!data_dir.empty()) c.data_dir = data_dir;
  if (!log_level.empty()) c.log_level = log_level;
  if (Status st = InitLogging(c.log_level); !st.ok()) {
    std::cerr << "strata: " << st.message() << "\n";
    return std::nullopt;
  }
  return c;
}

sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace strata::cmd
