#pragma once

#include <signal.h>

#include <optional>
#include <string>

#include "server/config.h"

namespace strata::cmd {

// The configuration of a long-running command: the file (or the defaults), with the
// --data-dir and --log.level flags applied, and logging started. Prints why and returns
// nullopt when the file or a value is invalid (exit code 2).
std::optional<server::Config> LoadConfig(const std::string& file, const std::string& data_dir,
                                         const std::string& log_level);

// Blocks SIGTERM and SIGINT in this thread and every thread started after, so that the
// caller can sigwait() for them; call before starting threads.
sigset_t BlockTerminationSignals();

}  // namespace strata::cmd
