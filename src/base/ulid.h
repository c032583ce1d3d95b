#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

// A ULID (26 characters, Crockford base32): 48 bits of milliseconds since the epoch and 80
// random bits, so IDs sort by creation time. Names blocks, as in Prometheus and Thanos.
std::string NewUlid(int64_t ms);
// True if `s` is a well-formed ULID.
bool IsUlid(std::string_view s);
// The timestamp part of a well-formed ULID.
int64_t UlidTime(std::string_view s);

}  // namespace strata
