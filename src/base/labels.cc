#include "base/labels.h"

#include <fmt/format.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/swar.h"

namespace strata {

uint64_t HashLabels(std::span<const LabelView> labels) {
  static constexpr char kSep = '\xff';
  std::array<char, 1024> stack;
  size_t total = 0;
  for (const auto& l : labels) total += l.name.size() + l.value.size() + 2;
  if (total <= stack.size()) {
    char* p = stack.data();
    // An absent protobuf field decodes to a null, empty view: memcpy must not see it.
    auto put = [&p](std::string_view s) {
      if (!s.empty()) std::memcpy(p, s.data(), s.size());
      p += s.size();
      *p++ = kSep;
    };
    for (const auto& l : labels) {
      put(l.name);
      put(l.value);
    }
    return XXH3_64bits(stack.data(), total);
  }
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (const auto& l : labels) {
    XXH3_64bits_update(&state, l.name.data(), l.name.size());
    XXH3_64bits_update(&state, &kSep, 1);
    XXH3_64bits_update(&state, l.value.data(), l.value.size());
    XXH3_64bits_update(&state, &kSep, 1);
  }
  return XXH3_64bits_digest(&state);
}

size_t Utf8Runes(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xC0) != 0x80; }));
}

size_t DecodeRune(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  uint8_t c = b(0);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  if (len == 1) {
    *cp = c;
    return 1;
  }
  uint32_t v = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

void AppendGoQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t len = DecodeRune(s, i, &cp);
    if (len == 0) {
      auto byte = static_cast<uint8_t>(s[i]);
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
      ++i;
      continue;
    }
    if (len > 1) {
      // Non-printing code points (C1 controls, soft hyphen, line/paragraph separators, BOM).
      bool printable = !(cp < 0xA0 || cp == 0xAD || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF);
      if (printable) {
        out.append(s.substr(i, len));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
      i += len;
      continue;
    }
    char c = s[i++];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string GoQuote(std::string_view s) {
  std::string out;
  AppendGoQuoted(out, s);
  return out;
}

std::string FormatLabels(std::span<const LabelView> labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    if (IsValidLegacyLabelName(labels[i].name)) {
      out += labels[i].name;
    } else {
      AppendGoQuoted(out, labels[i].name);
    }
    out.push_back('=');
    AppendGoQuoted(out, labels[i].value);
  }
  out.push_back('}');
  return out;
}

std::string FormatLabels(const Labels& labels) { return FormatLabels(ViewOf(labels)); }

std::vector<LabelView> ViewOf(const Labels& labels) {
  std::vector<LabelView> out;
  out.reserve(labels.size());
  for (const auto& l : labels) out.push_back({l.name, l.value});
  return out;
}

Labels ToLabels(std::span<const LabelView> labels) {
  Labels out;
  out.reserve(labels.size());
  for (const auto& l : labels) out.push_back({std::string(l.name), std::string(l.value)});
  return out;
}

std::string_view GetLabel(std::span<const LabelView> labels, std::string_view name) {
  for (const auto& l : labels) {
    if (l.name == name) return l.value;
  }
  return {};
}

std::string_view GetLabel(const Labels& labels, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  return it != labels.end() && it->name == name ? std::string_view(it->value) : std::string_view();
}

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidLegacyMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(IsAlpha(c) || c == ':' || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

bool IsValidLegacyLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(IsAlpha(c) || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Label names and values are nearly always ASCII: skip 8 such bytes at a time.
    if (s.size() - i >= 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!swar::HasHighByte(w)) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // the short tail, byte by byte
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = DecodeRune(s, i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

Result<std::string> GoUnquote(std::string_view q) {
  if (q.size() < 2 || q.front() != q.back()) return Status::InvalidArgument("invalid string");
  char quote = q.front();
  std::string_view s = q.substr(1, q.size() - 2);
  if (quote == '`') return std::string(s);
  std::string out;
  out.reserve(s.size());
  auto append_utf8 = [&](uint32_t cp) -> bool {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    AppendUtf8(out, cp);
    return true;
  };
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\') {
      if (c == quote) return Status::InvalidArgument("invalid syntax");
      out.push_back(c);
      continue;
    }
    if (++i >= s.size()) return Status::InvalidArgument("invalid syntax");
    char e = s[i];
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
      case '"':
        if (e != quote) return Status::InvalidArgument("unknown escape sequence");
        out.push_back(e);
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (size_t k = 1; k <= len; ++k) {
          int h = i + k < s.size() ? hex(s[i + k]) : -1;
          if (h < 0) return Status::InvalidArgument("invalid syntax");
          v = v * 16 + static_cast<uint32_t>(h);
        }
        i += len;
        if (e == 'x') {
          out.push_back(static_cast<char>(v));
        } else if (!append_utf8(v)) {
          return Status::InvalidArgument("invalid syntax");
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = 0;
          for (size_t k = 0; k < 3; ++k) {
            if (i + k >= s.size() || s[i + k] < '0' || s[i + k] > '7') {
              return Status::InvalidArgument("invalid syntax");
            }
            v = v * 8 + static_cast<uint32_t>(s[i + k] - '0');
          }
          if (v > 255) return Status::InvalidArgument("invalid syntax");
          i += 2;
          out.push_back(static_cast<char>(v));
          break;
        }
        return Status::InvalidArgument("unknown escape sequence");
    }
  }
  return out;
}

}  // namespace strata
