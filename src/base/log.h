#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "base/status.h"

namespace strata {

// Configures the process-wide spdlog logger to print logfmt lines to stderr:
//   ts=2026-11-21T04:41:34.123Z level=info msg="..." key=value ...
// Call sites log `msg="..." key={}` pairs so lines stay machine-parseable.
Status InitLogging(std::string_view level);

}  // namespace strata
