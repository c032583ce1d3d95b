#include "base/tenant.h"

#include <fmt/format.h>

#include <cstring>

namespace strata {

Status ValidateTenantId(std::string_view t) {
  if (t.empty()) return Status::InvalidArgument("tenant ID is empty");
  if (t.size() > 150) {
    return Status::InvalidArgument(
        fmt::format("tenant ID is {} characters long, the limit is 150", t.size()));
  }
  if (t == "." || t == "..") return Status::InvalidArgument("tenant ID cannot be \".\" or \"..\"");
  for (char c : t) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("!-_.*'()", c) != nullptr;
    if (!ok || c == '\0') {
      return Status::InvalidArgument(
          fmt::format("tenant ID \"{}\" contains an unsupported character (allowed: a-z A-Z 0-9 ! "
                      "- _ . * ' ( ))",
                      t));
    }
  }
  return Status::Ok();
}

Result<std::string> ResolveTenant(std::optional<std::string_view> header,
                                  const TenantPolicy& policy) {
  if (!header || header->empty()) {
    if (policy.require) {
      return Status::Unauthenticated(
          fmt::format("no org id: set the {} header (auth.require_tenant is on)", kTenantHeader));
    }
    return policy.default_tenant;
  }
  if (Status st = ValidateTenantId(*header); !st.ok()) {
    return Status::InvalidArgument(
        fmt::format("invalid {} header: {}", kTenantHeader, st.message()));
  }
  return std::string(*header);
}

}  // namespace strata
