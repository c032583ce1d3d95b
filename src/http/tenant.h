#pragma once

#include <string>

#include "base/tenant.h"
#include "http/server.h"

namespace strata::http {

// The tenant middleware of every HTTP endpoint: the request's X-Scope-OrgID resolved under
// `policy` (base/tenant.h), or the error to answer (401 or 400 through http/status_map.h).
inline Result<std::string> RequestTenant(const Request& req, const TenantPolicy& policy) {
  auto it = req.find(kTenantHeader);
  if (it == req.end()) return ResolveTenant(std::nullopt, policy);
  return ResolveTenant(std::string_view(it->value().data(), it->value().size()), policy);
}

}  // namespace strata::http
