#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <string>

namespace strata {

Status InitLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument(
        "unknown log level \"" + std::string(level) +
        "\" (want one of trace, debug, info, warn, error, critical, off)");
  }
  auto logger = spdlog::stderr_logger_mt("strata");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace strata
