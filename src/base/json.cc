#include "base/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/labels.h"
#include "base/swar.h"

namespace strata {

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  Separate();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_.push_back('}');
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Separate();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_.push_back(']');
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view k) {
  Separate();
  AppendJsonString(out_, k);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view s) {
  Separate();
  AppendJsonString(out_, s);
  return *this;
}
JsonWriter& JsonWriter::Bool(bool b) {
  Separate();
  out_ += b ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  out_ += std::to_string(v);
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Separate();
  out_ += "null";
  return *this;
}
JsonWriter& JsonWriter::Number(double v) {
  Separate();
  std::string s = std::isfinite(v) ? FormatSampleValue(v) : "0";
  // Go writes a one-digit negative exponent without its 0: 1e-7, not 1e-07.
  if (const size_t n = s.size(); n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
    s.erase(n - 2, 1);
  }
  out_ += s;
  return *this;
}
JsonWriter& JsonWriter::SampleValue(double v) {
  Separate();
  out_.push_back('"');
  out_ += FormatSampleValue(v);
  out_.push_back('"');
  return *this;
}
JsonWriter& JsonWriter::Timestamp(int64_t ms) {
  Separate();
  if (ms < 0) {
    out_.push_back('-');
    ms = -ms;
  }
  out_ += std::to_string(ms / 1000);
  int64_t frac = ms % 1000;
  if (frac != 0) {
    out_.push_back('.');
    if (frac < 100) out_.push_back('0');
    if (frac < 10) out_.push_back('0');
    out_ += std::to_string(frac);
  }
  return *this;
}

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  double a = std::fabs(v);
  auto fmt =
      a != 0 && (a < 1e-6 || a >= 1e21) ? std::chars_format::scientific : std::chars_format::fixed;
  auto r = std::to_chars(buf, buf + sizeof(buf), v, fmt);
  return std::string(buf, r.ptr);
}

namespace {

// Whether `c` is copied as it is: ASCII from space on, except '"', '\\' and, html_safe, the
// characters HTML gives meaning to.
bool CopiedAsIs(unsigned char c, bool html_safe) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' &&
         !(html_safe && (c == '<' || c == '>' || c == '&'));
}

// Whether any of the 8 bytes in `w` may not be CopiedAsIs (never false when one is not).
bool MayNeedEscaping(uint64_t w, bool html_safe) {
  if (swar::HasByteBelow(w, 0x20) || swar::HasHighByte(w) || swar::HasByte(w, '"') ||
      swar::HasByte(w, '\\')) {
    return true;
  }
  return html_safe && (swar::HasByte(w, '<') || swar::HasByte(w, '>') || swar::HasByte(w, '&'));
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s, bool html_safe) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Strings are mostly plain ASCII: copy each run of it at once, checking 8 bytes at a time.
    size_t end = i;
    for (uint64_t w; end + 8 <= s.size(); end += 8) {
      std::memcpy(&w, s.data() + end, 8);
      if (MayNeedEscaping(w, html_safe)) break;
    }
    while (end < s.size() && CopiedAsIs(static_cast<unsigned char>(s[end]), html_safe)) ++end;
    out.append(s.data() + i, end - i);
    i = end;
    if (i == s.size()) break;
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
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
        default:
          if (c < 0x20 || (html_safe && (c == '<' || c == '>' || c == '&'))) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Invalid UTF-8 bytes become U+FFFD, as in Go.
    uint32_t cp = 0;
    size_t len = DecodeRune(s, i, &cp);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (html_safe && (cp == 0x2028 || cp == 0x2029)) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out.push_back('"');
}

}  // namespace strata
