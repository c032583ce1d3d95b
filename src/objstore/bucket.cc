#include "objstore/bucket.h"

#include <fmt/format.h>

namespace strata::objstore {

std::string_view ComponentName(Component c) {
  switch (c) {
    case Component::kIngest:
      return "ingest";
    case Component::kStoreGateway:
      return "store_gateway";
    case Component::kCompactor:
      return "compactor";
  }
  return "unknown";
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("object key is empty");
  if (key.size() > 1024) return Status::InvalidArgument("object key longer than 1024 bytes");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return Status::InvalidArgument(fmt::format("object key \"{}\" has an invalid segment", key));
    }
    start = end + 1;
  }
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("object key contains a control character");
    }
  }
  return Status::Ok();
}

}  // namespace strata::objstore
