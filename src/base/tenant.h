#pragma once

#include <string_view>

#include "base/status.h"

namespace strata {

// The HTTP header naming the tenant of a request, as Mimir, Loki and Tempo use it.
inline constexpr const char* kTenantHeader = "X-Scope-OrgID";

// Checks a tenant ID: 1-150 characters of a-z A-Z 0-9 ! - _ . * ' ( ), not "." or ".."
// (Mimir's rules; the ID names directories and object-store prefixes).
Status ValidateTenantId(std::string_view tenant);

}  // namespace strata
