#pragma once

#include <string>
#include <string_view>

namespace strata {

// `s` with & < > " replaced by entities: safe as XML or HTML text and as a double-quoted
// attribute value (S3 request bodies, the status page).
std::string XmlEscape(std::string_view s);

}  // namespace strata
