#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace strata::http {

// Decompresses a gzip (RFC 1952) body into `out`, refusing output beyond `max_bytes`
// (kTooLarge) and malformed input (kInvalidArgument). Concatenated members are read in full.
strata::Status Gunzip(std::string_view body, size_t max_bytes, std::string& out);

// Decompresses `body` by its Content-Encoding ("", "identity" or "gzip"); other encodings are
// kInvalidArgument naming them. With no encoding `out` is a copy of `body`.
strata::Status DecodeContent(std::string_view encoding, std::string_view body, size_t max_bytes,
                     std::string& out);

}  // namespace strata::http
