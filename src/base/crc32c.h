#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata {

// CRC-32C (Castagnoli), as used by the WAL and every checksummed format. Uses the SSE4.2
// instruction when the CPU has it. `Extend` continues a checksum over more bytes.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32c(s.data(), s.size()); }

}  // namespace strata
