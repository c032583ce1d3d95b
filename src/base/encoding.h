#pragma once

// Byte encodings used across wire formats: hex, base64, percent-encoding.

#include <string>
#include <string_view>

namespace strata {

// Lowercase hex of the bytes ("0aff").
std::string HexEncode(std::string_view bytes);
// `s` with A-Z lowered, other bytes as they are (Go's strings.ToLower on ASCII).
std::string AsciiLower(std::string_view s);
// Two hex digits per byte, either case; false on odd length or a non-hex digit.
bool HexDecode(std::string_view s, std::string* out);

// Standard base64 with padding, as Go's base64.StdEncoding writes it.
std::string Base64Encode(std::string_view bytes);
// Standard or URL-safe base64, padding optional; false on a character outside them or a
// trailing lone character.
bool Base64Decode(std::string_view s, std::string* out);

// Percent-encoding of everything but A-Z a-z 0-9 - _ . ~; a space is "+" when `space_as_plus`
// (Go's url.QueryEscape), "%20" otherwise (url.PathEscape-like).
std::string PercentEncode(std::string_view s, bool space_as_plus);
// The inverse: "%XX" sequences, and "+" as a space when `plus_as_space`; false on a broken
// "%" sequence.
bool PercentDecode(std::string_view s, bool plus_as_space, std::string* out);

}  // namespace strata
