#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace strata {

inline constexpr std::string_view kMetricNameLabel = "__name__";

// A label pair borrowing its strings; the owner of the bytes must outlive it.
struct LabelView {
  std::string_view name;
  std::string_view value;
  bool operator==(const LabelView&) const = default;
};

// An owned label pair.
struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
  auto operator<=>(const Label&) const =
      default;  // NOLINT(modernize-use-nullptr): tidy misreads <=>
};

// An owned label set, sorted by name with unique names.
using Labels = std::vector<Label>;

// 64-bit fingerprint of a label set (XXH3 over name 0xff value 0xff ...). Callers pass labels
// sorted by name; equal sets always hash equally, unequal sets may collide.
uint64_t HashLabels(std::span<const LabelView> labels);

// Prometheus's text form: {__name__="up", job="node"} with Go-style escaping of values.
std::string FormatLabels(std::span<const LabelView> labels);
std::string FormatLabels(const Labels& labels);

// Decodes the UTF-8 sequence at s[i] into *cp; returns its length, or 0 if it is invalid
// (truncated, overlong, a surrogate or beyond U+10FFFF).
size_t DecodeRune(std::string_view s, size_t i, uint32_t* cp);

// The characters (code points) of UTF-8 text: its bytes that do not continue a character.
size_t Utf8Runes(std::string_view s);

// The most characters an exemplar's label names and values may hold together (Prometheus's
// ExemplarMaxLabelSetLength).
inline constexpr size_t kMaxExemplarLabelRunes = 128;

// Appends the UTF-8 encoding of code point cp (which must be <= U+10FFFF).
void AppendUtf8(std::string& out, uint32_t cp);

// Quotes s as Go's strconv.Quote does (Prometheus prints label values and strings this way).
std::string GoQuote(std::string_view s);
void AppendGoQuoted(std::string& out, std::string_view s);
// Decodes a Go string literal (with its quotes: "...", '...' or `...`), as strconv.Unquote.
Result<std::string> GoUnquote(std::string_view quoted);

std::vector<LabelView> ViewOf(const Labels& labels);
// Owned copies of `labels`, in their order.
Labels ToLabels(std::span<const LabelView> labels);

// The value of `name`, or empty if absent.
std::string_view GetLabel(std::span<const LabelView> labels, std::string_view name);
std::string_view GetLabel(const Labels& labels, std::string_view name);

// Name rules. Legacy is Prometheus's classic charset; UTF-8 mode (Prometheus 3) accepts any
// non-empty valid UTF-8 name.
bool IsValidLegacyMetricName(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidLegacyLabelName(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*
bool IsValidUtf8(std::string_view s);

}  // namespace strata
