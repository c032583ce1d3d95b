#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata::objstore {

// Just enough XML for S3 responses: element contents found by tag name (no attributes, no
// nesting of the same tag) and entity decoding; encoding is base/escape.h's.

// Contents of the first <tag>...</tag> (or <tag .../> as empty) in `xml`; empty if absent.
std::string_view XmlFirst(std::string_view xml, std::string_view tag);
// Contents of every <tag>...</tag>, in order.
std::vector<std::string_view> XmlAll(std::string_view xml, std::string_view tag);
std::string XmlUnescape(std::string_view s);

}  // namespace strata::objstore
