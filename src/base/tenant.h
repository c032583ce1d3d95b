#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace strata {

// The HTTP header naming the tenant of a request, as Mimir, Loki and Tempo use it.
inline constexpr const char* kTenantHeader = "X-Scope-OrgID";
// The tenant of requests without the header on a single-tenant install (Mimir's and Loki's).
inline constexpr std::string_view kDefaultTenant = "anonymous";

// How the tenant of a request is found, the same on every endpoint of server and agent.
struct TenantPolicy {
  bool require = false;  // a request without the header is refused (kUnauthenticated)
  // The tenant of a request without the header; empty: none (the agent leaves it to the backend).
  std::string default_tenant{kDefaultTenant};
};

// The tenant named by `header` (the X-Scope-OrgID value; absent or empty: none), validated, or
// the policy's default: kUnauthenticated when required and absent, kInvalidArgument when invalid.
Result<std::string> ResolveTenant(std::optional<std::string_view> header,
                                  const TenantPolicy& policy);

// Checks a tenant ID: 1-150 characters of a-z A-Z 0-9 ! - _ . * ' ( ), not "." or ".."
// (Mimir's rules; the ID names directories and object-store prefixes).
Status ValidateTenantId(std::string_view tenant);

}  // namespace strata
