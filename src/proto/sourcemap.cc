#include "proto/sourcemap.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

namespace strata::proto {
namespace {

Status InvalidMap(std::string_view what) {
  return Status::InvalidArgument(fmt::format("invalid source map: {}", what));
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// One Base64 VLQ value of a mapping segment, starting at s[*i].
bool ReadVlq(std::string_view s, size_t* i, int64_t* out) {
  uint64_t v = 0;
  int shift = 0;
  while (true) {
    if (*i >= s.size() || shift > 60) return false;
    int digit = Base64Value(s[(*i)++]);
    if (digit < 0) return false;
    v |= static_cast<uint64_t>(digit & 31) << shift;
    shift += 5;
    if ((digit & 32) == 0) break;
  }
  const auto magnitude = static_cast<int64_t>(v >> 1);
  *out = (v & 1) ? -magnitude : magnitude;
  return true;
}

bool HasScheme(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  return std::all_of(s.begin(), s.begin() + static_cast<ptrdiff_t>(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// RFC 3986 5.2.4: removes "." and ".." segments of an absolute path.
std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    const bool last = slash == std::string_view::npos;
    if (seg == "..") {
      // An absolute path stops at its root (""); a relative one keeps the ".." it cannot undo.
      if (!out.empty() && out.back() != ".." && !(out.size() == 1 && out[0].empty())) {
        out.pop_back();
      } else if (out.empty() || out.back() == "..") {
        out.push_back(seg);
      }
      if (last) out.emplace_back();
    } else if (seg == ".") {
      if (last) out.emplace_back();
    } else {
      out.push_back(seg);
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string joined;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) joined += '/';
    joined.append(out[i]);
  }
  return joined;
}

}  // namespace

std::string ResolveReference(std::string_view base, std::string_view ref) {
  if (HasScheme(ref)) return std::string(ref);
  // base = scheme "://" authority path; a path without a scheme is treated alike.
  size_t path_start = 0;
  if (HasScheme(base)) {
    size_t colon = base.find(':');
    if (ref.starts_with("//")) return fmt::format("{}:{}", base.substr(0, colon), ref);
    path_start = colon + 1;
    if (base.substr(path_start).starts_with("//")) {
      size_t end = base.find('/', path_start + 2);
      path_start = end == std::string_view::npos ? base.size() : end;
    }
  }
  const std::string_view prefix = base.substr(0, path_start);
  std::string_view base_path = base.substr(path_start);
  base_path = base_path.substr(0, base_path.find_first_of("?#"));
  if (ref.starts_with('/')) return fmt::format("{}{}", prefix, RemoveDotSegments(ref));
  size_t dir = base_path.rfind('/');
  std::string merged = dir == std::string_view::npos
                           ? (prefix.empty() ? std::string(ref) : "/" + std::string(ref))
                           : fmt::format("{}{}", base_path.substr(0, dir + 1), ref);
  return fmt::format("{}{}", prefix, RemoveDotSegments(merged));
}

Result<SourceMap> SourceMap::Parse(std::string_view json, std::string_view map_url) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err != simdjson::SUCCESS) {
    return InvalidMap(simdjson::error_message(err));
  }
  int64_t version = 0;
  if (doc["version"].get_int64().get(version) != simdjson::SUCCESS || version != 3) {
    return InvalidMap("version must be 3");
  }
  SourceMap m;
  simdjson::dom::array sections;
  if (auto sec = doc["sections"]; sec.error() == simdjson::SUCCESS) {
    if (sec.get_array().get(sections) != simdjson::SUCCESS) {
      return InvalidMap("sections must be an array");
    }
    for (auto entry : sections) {
      Section& section = m.sections_.emplace_back();
      simdjson::dom::element map;
      if (entry["offset"]["line"].get_int64().get(section.line) != simdjson::SUCCESS ||
          entry["offset"]["column"].get_int64().get(section.column) != simdjson::SUCCESS) {
        return InvalidMap("a section's offset must have an integer line and column");
      }
      if (entry["map"].get(map) != simdjson::SUCCESS || !map.is_object()) {
        return InvalidMap("a section must hold its map (url sections are not supported)");
      }
      RETURN_IF_ERROR(ParseSection(map, map_url, section));
    }
    return m;
  }
  RETURN_IF_ERROR(ParseSection(doc, map_url, m.sections_.emplace_back()));
  return m;
}

Status SourceMap::ParseSection(const simdjson::dom::element& doc, std::string_view map_url,
                               Section& m) {
  std::string_view root;
  if (auto r = doc["sourceRoot"]; r.error() == simdjson::SUCCESS && !r.is_null()) {
    if (r.get_string().get(root) != simdjson::SUCCESS) return InvalidMap("sourceRoot not a string");
  }
  simdjson::dom::array sources;
  if (doc["sources"].get_array().get(sources) != simdjson::SUCCESS) {
    return InvalidMap("sources must be an array");
  }
  for (auto s : sources) {
    std::string_view src;
    if (!s.is_null() && s.get_string().get(src) != simdjson::SUCCESS) {
      return InvalidMap("sources must be strings");
    }
    // Kept as they are: absolute paths and URLs, and relative sources with nothing to resolve
    // them against.
    std::string abs(src);
    const bool relative = !src.starts_with('/') && !HasScheme(src);
    if (relative && !root.empty() && HasScheme(root)) {
      abs =
          ResolveReference(root.ends_with('/') ? std::string(root) : std::string(root) + "/", src);
    } else if (relative && !root.empty()) {
      abs = RemoveDotSegments(fmt::format("{}{}{}", root, root.ends_with('/') ? "" : "/", src));
    } else if (relative && HasScheme(map_url)) {
      abs = ResolveReference(map_url, src);
    }
    m.sources.push_back(std::move(abs));
  }
  if (auto names = doc["names"]; names.error() == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (names.get_array().get(arr) != simdjson::SUCCESS)
      return InvalidMap("names must be an array");
    for (auto n : arr) {
      std::string_view name;
      if (n.get_string().get(name) != simdjson::SUCCESS) return InvalidMap("names must be strings");
      m.names.emplace_back(name);
    }
  }
  std::string_view mappings;
  if (doc["mappings"].get_string().get(mappings) != simdjson::SUCCESS) {
    return InvalidMap("mappings must be a string");
  }
  int64_t line = 1, column = 0, source = 0, src_line = 0, src_column = 0, name = 0;
  size_t i = 0;
  while (i < mappings.size()) {
    const char c = mappings[i];
    if (c == ';') {
      ++line, column = 0, ++i;
      continue;
    }
    if (c == ',') {
      ++i;
      continue;
    }
    int64_t fields[5];
    int n = 0;
    while (n < 5 && i < mappings.size() && mappings[i] != ',' && mappings[i] != ';') {
      if (!ReadVlq(mappings, &i, &fields[n++])) {
        return InvalidMap(fmt::format("mappings: a malformed value on generated line {}", line));
      }
    }
    if (n != 1 && n != 4 && n != 5) {
      return InvalidMap(
          fmt::format("mappings: a segment of {} fields on generated line {}", n, line));
    }
    column += fields[0];
    Mapping mp{line, column};
    if (n >= 4) {
      source += fields[1], src_line += fields[2], src_column += fields[3];
      if (source < 0 || static_cast<size_t>(source) >= m.sources.size() || src_line < 0 ||
          src_column < 0 || column < 0) {
        return InvalidMap(fmt::format("mappings: out of range on generated line {}", line));
      }
      mp.source = static_cast<int32_t>(source);
      mp.src_line = src_line;
      mp.src_column = src_column;
    }
    if (n == 5) {
      name += fields[4];
      if (name < 0 || static_cast<size_t>(name) >= m.names.size()) {
        return InvalidMap(fmt::format("mappings: a name out of range on generated line {}", line));
      }
      mp.name = static_cast<int32_t>(name);
    }
    if (mp.source >= 0) m.mappings.push_back(mp);
  }
  std::stable_sort(m.mappings.begin(), m.mappings.end(), [](const Mapping& a, const Mapping& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return Status::Ok();
}

size_t SourceMap::mappings() const {
  size_t n = 0;
  for (const auto& s : sections_) n += s.mappings.size();
  return n;
}

std::optional<SourceMap::Original> SourceMap::Resolve(int64_t line, int64_t column) const {
  // go-sourcemap's choice of section: the last whose offset line (0-based) is before the
  // 1-based line, with both offsets taken off the position.
  for (auto s = sections_.rbegin(); s != sections_.rend(); ++s) {
    if (s->line < line) return Resolve(*s, line - s->line, column - s->column);
  }
  return std::nullopt;
}

std::optional<SourceMap::Original> SourceMap::Resolve(const Section& s, int64_t line,
                                                      int64_t column) {
  const std::vector<Mapping>& mappings = s.mappings;
  auto it =
      std::lower_bound(mappings.begin(), mappings.end(), std::pair{line, column},
                       [](const Mapping& m, const std::pair<int64_t, int64_t>& pos) {
                         return m.line != pos.first ? m.line < pos.first : m.column < pos.second;
                       });
  const Mapping* match = nullptr;
  if (it == mappings.end()) {
    if (mappings.empty() || mappings.back().line != line) return std::nullopt;
    match = &mappings.back();
  } else if (it->line == line && it->column == column) {
    match = &*it;
  } else {
    if (it == mappings.begin()) return std::nullopt;
    match = &*(it - 1);
  }
  Original o;
  o.source = s.sources[static_cast<size_t>(match->source)];
  o.function = match->name >= 0 && !s.names[static_cast<size_t>(match->name)].empty()
                   ? s.names[static_cast<size_t>(match->name)]
                   : "?";
  o.line = match->src_line + 1;
  o.column = match->src_column;
  return o;
}

}  // namespace strata::proto
