#include "objstore/xml.h"

#include <charconv>

#include "base/labels.h"

namespace strata::objstore {
namespace {

// Finds the next <tag> or <tag attr...> at or after `from`; returns the position just past
// its '>' and sets `self_closing`, or npos.
size_t FindOpen(std::string_view xml, std::string_view tag, size_t from, bool* self_closing) {
  while (true) {
    size_t p = xml.find('<', from);
    if (p == std::string_view::npos) return p;
    size_t name_end = p + 1 + tag.size();
    if (xml.substr(p + 1, tag.size()) == tag && name_end < xml.size() &&
        (xml[name_end] == '>' || xml[name_end] == ' ' || xml[name_end] == '/')) {
      size_t gt = xml.find('>', name_end);
      if (gt == std::string_view::npos) return gt;
      *self_closing = xml[gt - 1] == '/';
      return gt + 1;
    }
    from = p + 1;
  }
}

}  // namespace

std::vector<std::string_view> XmlAll(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while (true) {
    bool self_closing = false;
    size_t start = FindOpen(xml, tag, pos, &self_closing);
    if (start == std::string_view::npos) break;
    if (self_closing) {
      out.emplace_back();
      pos = start;
      continue;
    }
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    pos = end + close.size();
  }
  return out;
}

std::string_view XmlFirst(std::string_view xml, std::string_view tag) {
  bool self_closing = false;
  size_t start = FindOpen(xml, tag, 0, &self_closing);
  if (start == std::string_view::npos || self_closing) return {};
  size_t end = xml.find("</" + std::string(tag) + ">", start);
  return end == std::string_view::npos ? std::string_view() : xml.substr(start, end - start);
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back(s[i]);
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() > 1 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      unsigned cp = 0;
      auto [p, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || cp > 0x10FFFF) {
        out.push_back(s[i]);
        continue;
      }
      AppendUtf8(out, cp);
    } else {
      out.push_back(s[i]);
      continue;
    }
    i = semi;
  }
  return out;
}

}  // namespace strata::objstore
