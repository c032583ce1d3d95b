#include "logql/pipeline.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <re2/re2.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <utility>

#include "logql/lexer.h"
#include "logql/template.h"

namespace strata::logql {

namespace {

constexpr std::string_view kExtractedSuffix = "_extracted";
constexpr std::string_view kErrJson = "JSONParserErr";
constexpr std::string_view kErrLogfmt = "LogfmtParserErr";
constexpr std::string_view kErrLabelFilter = "LabelFilterErr";

// The parsed name of a key, with the `_extracted` suffix when a stream label or structured
// metadata has the name; empty when the first parser already set it (it wins).
std::string ParsedKey(std::string key, const LabelsBuilder& lbs) {
  if (key.empty()) return key;
  if (lbs.BaseHas(key)) key += kExtractedSuffix;
  if (lbs.HasParsed(key)) return {};
  return key;
}

// --- IP addresses, ranges and CIDRs (ip() filters) ---

struct IpAddr {
  std::array<uint8_t, 16> b{};  // IPv4 as IPv4-mapped IPv6
  bool v4 = false;
};

bool ParseIp(std::string_view s, IpAddr* out) {
  if (s.empty() || s.size() > 45) return false;
  std::string z(s);
  in_addr a4{};
  if (inet_pton(AF_INET, z.c_str(), &a4) == 1) {
    out->b = {};
    out->b[10] = out->b[11] = 0xff;
    std::memcpy(&out->b[12], &a4, 4);
    out->v4 = true;
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, z.c_str(), &a6) == 1) {
    std::memcpy(out->b.data(), &a6, 16);
    out->v4 = false;
    return true;
  }
  return false;
}

// An ip() pattern: one address, a range "a-b", or a CIDR "a/n".
class IpPattern {
 public:
  static Result<IpPattern> Parse(std::string_view p) {
    IpPattern out;
    if (auto dash = p.find('-'); dash != std::string_view::npos) {
      if (!ParseIp(p.substr(0, dash), &out.lo_) || !ParseIp(p.substr(dash + 1), &out.hi_) ||
          out.lo_.v4 != out.hi_.v4 || out.hi_.b < out.lo_.b) {
        return Status::InvalidArgument(fmt::format("invalid ip range: {}", p));
      }
      return out;
    }
    if (auto slash = p.find('/'); slash != std::string_view::npos) {
      IpAddr base;
      int bits = -1;
      std::string_view n = p.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), bits);
      if (!ParseIp(p.substr(0, slash), &base) || ec != std::errc() || ptr != n.data() + n.size() ||
          bits < 0 || bits > (base.v4 ? 32 : 128)) {
        return Status::InvalidArgument(fmt::format("invalid ip cidr: {}", p));
      }
      int total = bits + (base.v4 ? 96 : 0);
      out.lo_ = out.hi_ = base;
      for (int i = 0; i < 128; ++i) {
        if (i < total) continue;
        auto byte = static_cast<size_t>(i / 8);
        auto mask = static_cast<uint8_t>(0x80 >> (i % 8));
        out.lo_.b[byte] &= static_cast<uint8_t>(~mask);
        out.hi_.b[byte] |= mask;
      }
      return out;
    }
    if (!ParseIp(p, &out.lo_)) return Status::InvalidArgument(fmt::format("invalid ip: {}", p));
    out.hi_ = out.lo_;
    return out;
  }

  bool Contains(const IpAddr& a) const { return a.v4 == lo_.v4 && lo_.b <= a.b && a.b <= hi_.b; }
  // Whether `text` holds an address in the pattern, as Loki scans: at every position that
  // looks like the start of an IPv4 (digits and dots) or IPv6 (hex, colons, dots) address, the
  // longest run of such characters is tried.
  bool InText(std::string_view text) const {
    auto v4 = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.'; };
    auto v6 = [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ':';
    };
    for (size_t i = 0; i < text.size(); ++i) {
      for (bool ipv4 : {true, false}) {
        size_t j = i;
        while (j < text.size() && (ipv4 ? v4(text[j]) : v6(text[j]))) ++j;
        IpAddr a;
        if (j > i && ParseIp(text.substr(i, j - i), &a) && Contains(a)) return true;
      }
    }
    return false;
  }

 private:
  IpAddr lo_, hi_;
};

// --- patterns (`pattern` parser, `|>` filter) ---

// Loki's pattern matching (pkg/logql/log/pattern): a leading literal must start the line;
// each capture runs to the next occurrence of the literal after it; when a literal is
// missing the capture takes the rest of the line; `fn(name, value)` gets the named captures.
template <typename Fn>
void ExtractPattern(const std::vector<PatternNode>& nodes, std::string_view in, Fn&& fn) {
  if (in.empty() || nodes.empty()) return;
  size_t i = 0;
  if (!nodes[0].capture) {
    if (!in.starts_with(nodes[0].text)) return;
    in.remove_prefix(nodes[0].text.size());
    i = 1;
  }
  while (i < nodes.size()) {
    const PatternNode& c = nodes[i];
    if (i + 1 == nodes.size()) {  // ending on a capture
      if (c.text != "_") fn(c.text, in);
      return;
    }
    const std::string& lit = nodes[i + 1].text;
    size_t at = in.find(lit);
    if (at == std::string_view::npos) {
      if (c.text != "_") fn(c.text, in);
      return;
    }
    if (c.text != "_") fn(c.text, in.substr(0, at));
    in.remove_prefix(at + lit.size());
    i += 2;
  }
}

// Loki's pattern line filter: the literals appear in order, each capture holds something,
// and the line ends where the pattern does (after a trailing literal, or inside a capture).
bool TestPattern(const std::vector<PatternNode>& nodes, std::string_view in) {
  if (in.empty() || nodes.empty()) return in.empty() && nodes.empty();
  size_t off = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].capture) continue;
    size_t j = in.substr(off).find(nodes[i].text);
    if (j == std::string_view::npos) return false;
    if (i != 0 && j == 0) return false;
    off += j + nodes[i].text.size();
  }
  bool ends_in_capture = nodes.back().capture;
  bool has_rest = off != in.size();
  return ends_in_capture == has_rest;
}

// --- line filters ---

class LineFilterStep : public Step {
 public:
  struct Arg {
    std::string text;
    std::shared_ptr<RE2> re;
    std::vector<PatternNode> pattern;
    std::optional<IpPattern> ip;
  };
  struct Filter {
    LineMatch match;
    std::vector<Arg> any;
  };

  bool KeepsLabels() const override { return true; }

  static Result<std::shared_ptr<const Step>> Make(const std::vector<LineFilter>& filters) {
    auto step = std::make_shared<LineFilterStep>();
    for (const auto& f : filters) {
      Filter out{f.match, {}};
      for (const auto& a : f.any) {
        Arg arg;
        arg.text = a.value;
        if (a.ip) {
          if (f.match != LineMatch::kContains && f.match != LineMatch::kNotContains) {
            return Status::InvalidArgument("ip filter is supported only with |= and !=");
          }
          ASSIGN_OR_RETURN(arg.ip, IpPattern::Parse(a.value));
        } else if (f.match == LineMatch::kRegex || f.match == LineMatch::kNotRegex) {
          ASSIGN_OR_RETURN(arg.re, CompileLineRegex(a.value));
        } else if (f.match == LineMatch::kPattern || f.match == LineMatch::kNotPattern) {
          ASSIGN_OR_RETURN(arg.pattern, ParsePattern(a.value, PatternUse::kLineFilter));
        }
        out.any.push_back(std::move(arg));
      }
      step->filters_.push_back(std::move(out));
    }
    return std::shared_ptr<const Step>(std::move(step));
  }

  bool Process(int64_t, std::string& line, LabelsBuilder&) const override {
    for (const auto& f : filters_) {
      bool any = false;
      for (const auto& a : f.any) {
        if (Matches(f.match, a, line)) {
          any = true;
          break;
        }
      }
      if (any == IsNegative(f.match)) return false;
    }
    return true;
  }

 private:
  static bool Matches(LineMatch m, const Arg& a, std::string_view line) {
    if (a.ip) return a.ip->InText(line);
    switch (m) {
      case LineMatch::kContains:
      case LineMatch::kNotContains:
        return line.find(a.text) != std::string_view::npos;
      case LineMatch::kRegex:
      case LineMatch::kNotRegex:
        return RE2::PartialMatch(line, *a.re);
      case LineMatch::kPattern:
      case LineMatch::kNotPattern:
        return TestPattern(a.pattern, line);
    }
    return false;
  }

  std::vector<Filter> filters_;
};

// --- parsers ---

std::string JsonValue(simdjson::ondemand::value v, simdjson::ondemand::json_type t) {
  switch (t) {
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
      return {};
    }
    case simdjson::ondemand::json_type::null:
      return {};
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object o;
      std::string_view raw;
      if (v.get_object().get(o) == simdjson::SUCCESS &&
          o.raw_json().get(raw) == simdjson::SUCCESS) {
        return std::string(raw);
      }
      return {};
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array a;
      std::string_view raw;
      if (v.get_array().get(a) == simdjson::SUCCESS && a.raw_json().get(raw) == simdjson::SUCCESS) {
        return std::string(raw);
      }
      return {};
    }
    default: {
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back())) != 0) {
        raw.remove_suffix(1);
      }
      return std::string(raw);
    }
  }
}

class JsonStep : public Step {
 public:
  bool Process(int64_t, std::string& line, LabelsBuilder& lbs) const override {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(obj) != simdjson::SUCCESS) {
      lbs.SetError(kErrJson, "Value looks like object, but can't find closing '}' symbol");
      return true;
    }
    std::vector<std::string> path;
    auto err = Walk(obj, "", lbs, path, 0);
    if (err != simdjson::SUCCESS) {
      lbs.SetError(kErrJson, simdjson::error_message(err));
    }
    return true;
  }

 private:
  // Flattens nested objects into labels joined by '_'; arrays are not extracted. `path`
  // holds the keys of the enclosing objects when the labels builder records JSON paths.
  static simdjson::error_code Walk(simdjson::ondemand::object obj, const std::string& prefix,
                                   LabelsBuilder& lbs, std::vector<std::string>& path, int depth) {
    for (auto field : obj) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key); e != simdjson::SUCCESS) return e;
      std::string name = SanitizeLabelKey(key);
      if (!prefix.empty()) name.insert(0, prefix + "_");
      simdjson::ondemand::value v;
      if (auto e = field.value().get(v); e != simdjson::SUCCESS) return e;
      simdjson::ondemand::json_type t;
      if (auto e = v.type().get(t); e != simdjson::SUCCESS) return e;
      if (t == simdjson::ondemand::json_type::object) {
        if (depth > 64) continue;
        simdjson::ondemand::object inner;
        if (auto e = v.get_object().get(inner); e != simdjson::SUCCESS) return e;
        // A nested key's prefix gets the suffix when the prefix itself collides.
        std::string p = lbs.BaseHas(name) ? name + std::string(kExtractedSuffix) : name;
        const bool record = lbs.recording_json_paths();
        if (record) path.emplace_back(key);
        auto e = Walk(inner, p, lbs, path, depth + 1);
        if (record) path.pop_back();
        if (e != simdjson::SUCCESS) return e;
        continue;
      }
      if (t == simdjson::ondemand::json_type::array) continue;  // arrays are not extracted
      std::string k = ParsedKey(name, lbs);
      std::string value = JsonValue(v, t);
      if (k.empty()) continue;
      lbs.SetParsed(k, value);
      if (lbs.recording_json_paths()) {
        std::vector<std::string> at = path;
        at.emplace_back(key);
        lbs.SetJsonPath(k, std::move(at));
      }
    }
    return simdjson::SUCCESS;
  }
};

// `| json a="b.c[0]", d`: the values at JSON paths.
class JsonExpressionStep : public Step {
 public:
  static Result<std::shared_ptr<const Step>> Make(const std::vector<Extraction>& xs) {
    auto step = std::make_shared<JsonExpressionStep>();
    for (const auto& x : xs) {
      ASSIGN_OR_RETURN(std::string pointer, ToPointer(x.expr));
      step->paths_.push_back({x.label, std::move(pointer)});
    }
    return std::shared_ptr<const Step>(std::move(step));
  }

  bool Process(int64_t, std::string& line, LabelsBuilder& lbs) const override {
    // As Loki: a line that does not start like JSON is marked, not parsed.
    size_t first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || (line[first] != '{' && line[first] != '[')) {
      lbs.SetError(kErrJson, "Value looks like object, but can't find closing '}' symbol");
      return true;
    }
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(line);
    for (const auto& [label, pointer] : paths_) {
      simdjson::ondemand::document doc;
      if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) {
        lbs.SetError(kErrJson, "invalid JSON");
        return true;
      }
      std::string key = ParsedKey(label, lbs);
      if (key.empty()) continue;
      simdjson::ondemand::value v;
      simdjson::ondemand::json_type t;
      if (doc.at_pointer(pointer).get(v) != simdjson::SUCCESS ||
          v.type().get(t) != simdjson::SUCCESS) {
        lbs.SetParsed(key, "");
        continue;
      }
      lbs.SetParsed(key, JsonValue(v, t));
    }
    return true;
  }

 private:
  // Loki's JSON expressions (`a.b`, `a[0]`, `["a b"]`) as JSON pointers.
  static Result<std::string> ToPointer(std::string_view expr) {
    std::string out;
    auto bad = [&] {
      return Status::InvalidArgument(fmt::format("invalid JSON expression: {}", expr));
    };
    auto append = [&](std::string_view part) {
      out.push_back('/');
      for (char c : part) {
        if (c == '~') {
          out += "~0";
        } else if (c == '/') {
          out += "~1";
        } else {
          out.push_back(c);
        }
      }
    };
    size_t i = 0;
    bool expect_field = true;
    while (i < expr.size()) {
      if (expr[i] == '[') {
        size_t end = expr.find(']', i);
        if (end == std::string_view::npos) return bad();
        std::string_view inner = expr.substr(i + 1, end - i - 1);
        if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"') {
          append(inner.substr(1, inner.size() - 2));
        } else if (!inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
                     return std::isdigit(static_cast<unsigned char>(c)) != 0;
                   })) {
          append(inner);
        } else {
          return bad();
        }
        i = end + 1;
        expect_field = false;
        continue;
      }
      if (expr[i] == '.') {
        if (expect_field) return bad();
        ++i;
        expect_field = true;
        continue;
      }
      size_t j = i;
      while (j < expr.size() && expr[j] != '.' && expr[j] != '[') ++j;
      append(expr.substr(i, j - i));
      i = j;
      expect_field = false;
    }
    if (out.empty()) return bad();
    return out;
  }

  std::vector<std::pair<std::string, std::string>> paths_;
};

// `| unpack`: the string values of a JSON object as labels; `_entry` becomes the line.
class UnpackStep : public Step {
 public:
  bool Process(int64_t, std::string& line, LabelsBuilder& lbs) const override {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(obj) != simdjson::SUCCESS) {
      lbs.SetError(kErrJson, "Value looks like object, but can't find closing '}' symbol");
      return true;
    }
    std::optional<std::string> entry;
    for (auto field : obj) {
      std::string_view key;
      simdjson::ondemand::value v;
      simdjson::ondemand::json_type t;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
          field.value().get(v) != simdjson::SUCCESS || v.type().get(t) != simdjson::SUCCESS) {
        lbs.SetError(kErrJson, "invalid JSON");
        return true;
      }
      if (t != simdjson::ondemand::json_type::string) continue;
      std::string value = JsonValue(v, t);
      if (key == "_entry") {
        entry = std::move(value);
        continue;
      }
      std::string k = ParsedKey(std::string(key), lbs);
      if (!k.empty()) lbs.SetParsed(k, value);
    }
    if (entry) line = std::move(*entry);
    return true;
  }
};

// go-logfmt's rules: key=value pairs separated by spaces, values bare or double-quoted with
// escapes, a key alone has an empty value.
class LogfmtStep : public Step {
 public:
  LogfmtStep(bool strict, bool keep_empty, std::vector<Extraction> only)
      : strict_(strict), keep_empty_(keep_empty), only_(std::move(only)) {}

  bool Process(int64_t, std::string& line, LabelsBuilder& lbs) const override {
    std::string_view s = line;
    size_t i = 0;
    while (true) {
      while (i < s.size() && static_cast<unsigned char>(s[i]) <= ' ') ++i;
      if (i >= s.size()) break;
      std::string_view key;
      std::string value;
      std::string err;
      if (!ScanPair(s, i, &key, &value, &err)) {
        if (strict_) {
          lbs.SetError(kErrLogfmt, err);
          return true;
        }
        while (i < s.size() && static_cast<unsigned char>(s[i]) > ' ') ++i;  // skip the junk
        continue;
      }
      if (!only_.empty()) {
        for (const auto& x : only_) {
          if (x.expr == key) Set(x.label, value, lbs);
        }
        continue;
      }
      if (value.empty() && !keep_empty_) continue;
      Set(SanitizeLabelKey(key), value, lbs);
    }
    return true;
  }

 private:
  static void Set(const std::string& name, const std::string& value, LabelsBuilder& lbs) {
    std::string k = ParsedKey(name, lbs);
    if (!k.empty()) lbs.SetParsed(k, value);
  }

  static bool ScanPair(std::string_view s, size_t& i, std::string_view* key, std::string* value,
                       std::string* err) {
    size_t start = i;
    while (i < s.size() && static_cast<unsigned char>(s[i]) > ' ' && s[i] != '=' && s[i] != '"') {
      ++i;
    }
    if (i < s.size() && s[i] == '"') {
      *err = fmt::format("logfmt syntax error at pos {} : unexpected '\"'", i + 1);
      return false;
    }
    *key = s.substr(start, i - start);
    if (key->empty()) {
      *err = fmt::format("logfmt syntax error at pos {} : unexpected '='", i + 1);
      return false;
    }
    if (i >= s.size() || s[i] != '=') return true;  // a key alone
    ++i;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        char c = s[i++];
        if (c != '\\') {
          value->push_back(c);
          continue;
        }
        if (i >= s.size()) break;
        char e = s[i++];
        switch (e) {
          case 'n':
            value->push_back('\n');
            break;
          case 't':
            value->push_back('\t');
            break;
          case 'r':
            value->push_back('\r');
            break;
          case 'b':
            value->push_back('\b');
            break;
          case 'f':
            value->push_back('\f');
            break;
          default:
            value->push_back(e);
            break;
        }
      }
      if (i >= s.size()) {
        *err = fmt::format("logfmt syntax error at pos {} : unterminated quoted value", i + 1);
        return false;
      }
      ++i;  // closing quote
      return true;
    }
    size_t vstart = i;
    while (i < s.size() && static_cast<unsigned char>(s[i]) > ' ') {
      if (s[i] == '=' || s[i] == '"') {
        *err = fmt::format("logfmt syntax error at pos {} : unexpected '{}'", i + 1, s[i]);
        return false;
      }
      ++i;
    }
    *value = std::string(s.substr(vstart, i - vstart));
    return true;
  }

  bool strict_, keep_empty_;
  std::vector<Extraction> only_;
};

class RegexpStep : public Step {
 public:
  explicit RegexpStep(std::shared_ptr<RE2> re) : re_(std::move(re)) {
    for (const auto& [name, idx] : re_->NamedCapturingGroups()) {
      names_.emplace_back(idx, SanitizeLabelKey(name));
    }
  }
  bool Process(int64_t, std::string& line, LabelsBuilder& lbs) const override {
    int n = re_->NumberOfCapturingGroups() + 1;
    std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
    if (!re_->Match(line, 0, line.size(), RE2::UNANCHORED, groups.data(), n)) return true;
    for (const auto& [idx, name] : names_) {
      std::string_view g(groups[static_cast<size_t>(idx)].data(),
                         groups[static_cast<size_t>(idx)].size());
      if (g.data() == nullptr) continue;
      std::string k = ParsedKey(name, lbs);
      if (!k.empty()) lbs.SetParsed(k, g);
    }
    return true;
  }

 private:
  std::shared_ptr<RE2> re_;
  std::vector<std::pair<int, std::string>> names_;
};

class PatternStep : public Step {
 public:
  explicit PatternStep(std::vector<PatternNode> nodes) : nodes_(std::move(nodes)) {}
  bool Process(int64_t, std::string& line, LabelsBuilder& lbs) const override {
    std::vector<std::pair<std::string_view, std::string_view>> caps;
    ExtractPattern(nodes_, line,
                   [&](std::string_view name, std::string_view v) { caps.emplace_back(name, v); });
    for (const auto& [name, v] : caps) {
      std::string k = ParsedKey(std::string(name), lbs);
      if (!k.empty()) lbs.SetParsed(k, v);
    }
    return true;
  }

 private:
  std::vector<PatternNode> nodes_;
};

class DecolorizeStep : public Step {
 public:
  DecolorizeStep()
      : re_("[\\x{1b}\\x{9b}][\\[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\\x{07})|"
            "(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))") {}
  bool KeepsLabels() const override { return true; }
  bool Process(int64_t, std::string& line, LabelsBuilder&) const override {
    if (line.find('\x1b') != std::string::npos || line.find("\xc2\x9b") != std::string::npos) {
      RE2::GlobalReplace(&line, re_, "");
    }
    return true;
  }

 private:
  RE2 re_;
};

class DropKeepStep : public Step {
 public:
  DropKeepStep(bool keep, const std::vector<NamedMatcher>& named) : keep_(keep), named_(named) {}
  bool Process(int64_t, std::string&, LabelsBuilder& lbs) const override {
    std::vector<std::string> remove;
    lbs.ForEach([&](std::string_view name, std::string_view value) {
      // Listed: named, or named by a matcher that its value matches.
      bool listed = std::any_of(named_.begin(), named_.end(), [&](const NamedMatcher& n) {
        return n.matcher ? n.matcher->name() == name && n.matcher->Matches(value) : n.name == name;
      });
      // keep leaves the error labels alone, as Loki's does.
      bool special = name == kErrorLabel || name == kErrorDetailsLabel;
      if (keep_ ? !listed && !special : listed) remove.emplace_back(name);
    });
    for (const auto& n : remove) lbs.Delete(n);
    return true;
  }

 private:
  bool keep_;
  std::vector<NamedMatcher> named_;
};

// --- line_format, label_format ---

constexpr std::string_view kErrTemplate = "TemplateFormatErr";

TemplateInput InputOf(int64_t ts, const std::string& line, const LabelsBuilder& lbs) {
  return TemplateInput{[&lbs](std::string_view name) { return lbs.Get(name); }, line, ts};
}

class LineFormatStep : public Step {
 public:
  explicit LineFormatStep(Template t) : t_(std::move(t)) {}
  bool Process(int64_t ts, std::string& line, LabelsBuilder& lbs) const override {
    if (const auto& simple = t_.simple_label()) {
      line = std::string(lbs.Get(*simple).value_or(""));
      return true;
    }
    auto out = t_.Execute(InputOf(ts, line, lbs));
    if (!out.ok()) {
      lbs.SetError(kErrTemplate, out.status().message());
      return true;
    }
    line = std::move(*out);
    return true;
  }

 private:
  Template t_;
};

class LabelFormatStep : public Step {
 public:
  struct Format {
    std::string dst;
    std::string src;  // a rename
    std::optional<Template> template_;
  };
  static Result<std::shared_ptr<const Step>> Make(const std::vector<LabelFmt>& fmts) {
    auto step = std::make_shared<LabelFormatStep>();
    for (const auto& f : fmts) {
      if (f.dst == kErrorLabel) {
        return Status::InvalidArgument(fmt::format("{} cannot be formatted", f.dst));
      }
      for (const auto& other : step->formats_) {
        if (other.dst == f.dst) {
          return Status::InvalidArgument(fmt::format(
              "multiple label name '{}' not allowed in a single format operation", f.dst));
        }
      }
      Format out{f.dst, f.rename ? f.value : std::string(), std::nullopt};
      if (!f.rename) {
        auto t = Template::Parse(f.value, "label");
        if (!t.ok()) {
          return Status::InvalidArgument(
              fmt::format("invalid template for label '{}': {}", f.dst, t.status().message()));
        }
        out.template_ = std::move(*t);
      }
      step->formats_.push_back(std::move(out));
    }
    return std::shared_ptr<const Step>(std::move(step));
  }

  bool Process(int64_t ts, std::string& line, LabelsBuilder& lbs) const override {
    // As Loki's: every template of the stage sees the labels as they were before it.
    std::optional<Labels> before;
    auto input = [&] {
      if (!before) before = lbs.All();
      return TemplateInput{[&](std::string_view name) -> std::optional<std::string_view> {
                             for (const auto& l : *before) {
                               if (l.name == name) return std::string_view(l.value);
                             }
                             return std::nullopt;
                           },
                           line, ts};
    };
    for (const auto& f : formats_) {
      if (!f.template_) {
        if (auto v = lbs.Get(f.src)) {
          std::string value(*v);
          lbs.SetParsed(f.dst, value);
          lbs.Delete(f.src);
        }
        continue;
      }
      auto out = f.template_->Execute(input());
      if (!out.ok()) {
        lbs.SetError(kErrTemplate, out.status().message());
        continue;
      }
      lbs.SetParsed(f.dst, *out);
    }
    return true;
  }

 private:
  std::vector<Format> formats_;
};

// --- label filters ---

bool Compare(Cmp c, double l, double r) {
  switch (c) {
    case Cmp::kEq:
      return l == r;
    case Cmp::kNeq:
      return l != r;
    case Cmp::kGt:
      return l > r;
    case Cmp::kGte:
      return l >= r;
    case Cmp::kLt:
      return l < r;
    case Cmp::kLte:
      return l <= r;
  }
  return false;
}

class LabelFilterStep : public Step {
 public:
  static Result<std::shared_ptr<const Step>> Make(const LabelFilter& f) {
    auto step = std::make_shared<LabelFilterStep>();
    ASSIGN_OR_RETURN(step->root_, Compile(f));
    return std::shared_ptr<const Step>(std::move(step));
  }
  bool Process(int64_t, std::string&, LabelsBuilder& lbs) const override {
    return Eval(*root_, lbs);
  }

 private:
  struct Node {
    const LabelFilter* f;
    std::unique_ptr<Node> lhs, rhs;
    std::optional<IpPattern> ip;
  };

  static Result<std::unique_ptr<Node>> Compile(const LabelFilter& f) {
    auto n = std::make_unique<Node>();
    n->f = &f;
    if (f.kind == LabelFilter::Kind::kAnd || f.kind == LabelFilter::Kind::kOr) {
      ASSIGN_OR_RETURN(n->lhs, Compile(*f.lhs));
      ASSIGN_OR_RETURN(n->rhs, Compile(*f.rhs));
    }
    if (f.kind == LabelFilter::Kind::kIp) {
      ASSIGN_OR_RETURN(n->ip, IpPattern::Parse(f.ip));
    }
    return n;
  }

  static bool Eval(const Node& n, LabelsBuilder& lbs) {
    const LabelFilter& f = *n.f;
    switch (f.kind) {
      case LabelFilter::Kind::kAnd:
        return Eval(*n.lhs, lbs) && Eval(*n.rhs, lbs);
      case LabelFilter::Kind::kOr:
        return Eval(*n.lhs, lbs) || Eval(*n.rhs, lbs);
      case LabelFilter::Kind::kString:
        return f.matcher->Matches(lbs.Get(f.matcher->name()).value_or(""));
      case LabelFilter::Kind::kIp: {
        if (lbs.HasError()) return true;  // as Loki: a failed entry is not judged
        auto v = lbs.Get(f.name);
        if (!v) return false;
        bool in = n.ip->InText(*v);
        return f.cmp == Cmp::kNeq ? !in : in;
      }
      default:
        break;
    }
    auto v = lbs.Get(f.name);
    if (!v) return false;  // a missing label filters the entry out
    double value = 0;
    double want = 0;
    bool ok = false;
    std::string err;
    if (f.kind == LabelFilter::Kind::kNumber) {
      ok = ParseGoFloat(*v, &value, &err);
      want = f.number;
    } else if (f.kind == LabelFilter::Kind::kDuration) {
      int64_t ns = 0;
      ok = ParseGoDuration(*v, &ns);
      value = static_cast<double>(ns);
      want = static_cast<double>(f.duration_ns);
      if (!ok) err = fmt::format("time: invalid duration {}", GoQuote(*v));
    } else {
      uint64_t b = 0;
      ok = ParseHumanBytes(*v, &b);
      value = static_cast<double>(b);
      want = static_cast<double>(f.bytes);
      if (!ok) err = fmt::format("strconv.ParseFloat: parsing {}: invalid syntax", GoQuote(*v));
    }
    if (!ok) {
      // Loki keeps the entry, marked.
      lbs.SetError(kErrLabelFilter, err);
      return true;
    }
    return Compare(f.cmp, value, want);
  }

  std::unique_ptr<Node> root_;
};

}  // namespace

std::string SanitizeLabelKey(std::string_view key) {
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front())) != 0) {
    key.remove_prefix(1);
  }
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back())) != 0) {
    key.remove_suffix(1);
  }
  std::string out;
  if (key.empty()) return out;
  if (std::isdigit(static_cast<unsigned char>(key[0])) != 0) out.push_back('_');
  for (char c : key) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ? c : '_');
  }
  return out;
}

void LabelsBuilder::Reset(const Labels& stream, const Labels& metadata) {
  Reset(stream, std::span<const LabelView>{});
  for (const auto& l : metadata) labels_.push_back({l.name, l.value, Category::kMetadata});
}

void LabelsBuilder::Reset(const Labels& stream, std::span<const LabelView> metadata) {
  labels_.clear();
  for (const auto& l : stream) labels_.push_back({l.name, l.value, Category::kStream});
  for (const auto& l : metadata) {
    labels_.push_back({std::string(l.name), std::string(l.value), Category::kMetadata});
  }
  parsed_.clear();
  error_.clear();
  error_details_.clear();
  json_paths_.clear();
}

const LabelsBuilder::Entry* LabelsBuilder::Find(std::string_view name, Category c) const {
  if (c == Category::kParsed) {
    auto it = parsed_.find(std::string(name));
    if (it == parsed_.end() || labels_[it->second].deleted) return nullptr;
    return &labels_[it->second];
  }
  for (const auto& l : labels_) {
    if (!l.deleted && l.category == c && l.name == name) return &l;
  }
  return nullptr;
}

std::optional<std::string_view> LabelsBuilder::Get(std::string_view name) const {
  if (name == kErrorLabel) return std::string_view(error_);
  if (name == kErrorDetailsLabel) return std::string_view(error_details_);
  for (Category c : {Category::kParsed, Category::kMetadata, Category::kStream}) {
    if (const Entry* e = Find(name, c)) return std::string_view(e->value);
  }
  return std::nullopt;
}

bool LabelsBuilder::BaseHas(std::string_view name) const {
  return Find(name, Category::kStream) != nullptr || Find(name, Category::kMetadata) != nullptr;
}

bool LabelsBuilder::HasParsed(std::string_view name) const {
  return Find(name, Category::kParsed) != nullptr;
}

void LabelsBuilder::SetParsed(std::string_view name, std::string_view value) {
  auto [it, fresh] = parsed_.try_emplace(std::string(name), labels_.size());
  if (!fresh) {
    Entry& e = labels_[it->second];
    e.value = std::string(value);
    e.deleted = false;
    return;
  }
  labels_.push_back({std::string(name), std::string(value), Category::kParsed});
}

void LabelsBuilder::Delete(std::string_view name) {
  if (name == kErrorLabel) {
    error_.clear();
    return;
  }
  if (name == kErrorDetailsLabel) {
    error_details_.clear();
    return;
  }
  for (auto& l : labels_) {
    if (l.name == name) l.deleted = true;
  }
}

void LabelsBuilder::SetError(std::string_view error, std::string_view details) {
  if (!error_.empty()) return;
  error_ = std::string(error);
  error_details_ = std::string(details);
}

Labels LabelsBuilder::All() const {
  Labels out;
  // Parsed labels stay with empty values (logfmt --keep-empty, JSON null), as in Loki.
  for (Category c : {Category::kParsed, Category::kMetadata, Category::kStream}) {
    for (const auto& l : labels_) {
      if (l.deleted || l.category != c || (l.value.empty() && c != Category::kParsed)) continue;
      bool seen =
          std::any_of(out.begin(), out.end(), [&](const Label& o) { return o.name == l.name; });
      if (!seen) out.push_back({l.name, l.value});
    }
  }
  if (!error_.empty()) out.push_back({std::string(kErrorLabel), error_});
  if (!error_details_.empty()) out.push_back({std::string(kErrorDetailsLabel), error_details_});
  std::sort(out.begin(), out.end());
  return out;
}

Labels LabelsBuilder::InCategory(Category c) const {
  Labels out;
  for (const auto& l : labels_) {
    if (!l.deleted && l.category == c && (!l.value.empty() || c == Category::kParsed)) {
      out.push_back({l.name, l.value});
    }
  }
  if (c == Category::kParsed) {
    if (!error_.empty()) out.push_back({std::string(kErrorLabel), error_});
    if (!error_details_.empty()) out.push_back({std::string(kErrorDetailsLabel), error_details_});
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::shared_ptr<RE2>> CompileLineRegex(const std::string& re) {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto r = std::make_shared<RE2>(re, opts);
  if (!r->ok()) return Status::InvalidArgument("error parsing regexp: " + r->error());
  return r;
}

Result<std::vector<PatternNode>> ParsePattern(std::string_view p, PatternUse use) {
  std::vector<PatternNode> nodes;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '<') {
      size_t end = p.find('>', i);
      if (end != std::string_view::npos) {
        std::string_view name = p.substr(i + 1, end - i - 1);
        bool valid = !name.empty() &&
                     (std::isalpha(static_cast<unsigned char>(name[0])) != 0 || name[0] == '_') &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
                     });
        if (valid) {
          nodes.push_back({true, std::string(name)});
          i = end + 1;
          continue;
        }
      }
    }
    if (nodes.empty() || nodes.back().capture) nodes.push_back({false, ""});
    nodes.back().text.push_back(p[i]);
    ++i;
  }
  std::vector<std::string> names;
  for (size_t k = 0; k < nodes.size(); ++k) {
    const PatternNode& n = nodes[k];
    if (!n.capture) continue;
    if (k + 1 < nodes.size() && nodes[k + 1].capture) {
      return Status::InvalidArgument(fmt::format(
          "found consecutive capture '<{}><{}>': invalid expression", n.text, nodes[k + 1].text));
    }
    if (n.text == "_") continue;
    if (use == PatternUse::kLineFilter) {
      return Status::InvalidArgument(
          fmt::format("named captures are not allowed: found '<{}>'", n.text));
    }
    if (std::find(names.begin(), names.end(), n.text) != names.end()) {
      return Status::InvalidArgument(
          fmt::format("duplicate capture name ({}): invalid expression", n.text));
    }
    names.push_back(n.text);
  }
  if (use == PatternUse::kParser && names.empty()) {
    return Status::InvalidArgument("at least one capture is required");
  }
  return nodes;
}

Result<std::shared_ptr<const Step>> MakeLabelFilterStep(const LabelFilter& f) {
  return LabelFilterStep::Make(f);
}

Result<Pipeline> Pipeline::Make(const std::vector<Stage>& stages) {
  Pipeline p;
  for (const auto& st : stages) {
    std::shared_ptr<const Step> step;
    switch (st.kind) {
      case StageKind::kLineFilter: {
        ASSIGN_OR_RETURN(step, LineFilterStep::Make(st.filters));
        break;
      }
      case StageKind::kJson:
        if (st.extractions.empty()) {
          step = std::make_shared<JsonStep>();
        } else {
          ASSIGN_OR_RETURN(step, JsonExpressionStep::Make(st.extractions));
        }
        break;
      case StageKind::kLogfmt:
        step = std::make_shared<LogfmtStep>(st.strict, st.keep_empty, st.extractions);
        break;
      case StageKind::kRegexp: {
        ASSIGN_OR_RETURN(auto re, CompileLineRegex(st.param));
        step = std::make_shared<RegexpStep>(std::move(re));
        break;
      }
      case StageKind::kPattern: {
        ASSIGN_OR_RETURN(auto nodes, ParsePattern(st.param, PatternUse::kParser));
        step = std::make_shared<PatternStep>(std::move(nodes));
        break;
      }
      case StageKind::kUnpack:
        step = std::make_shared<UnpackStep>();
        break;
      case StageKind::kLabelFilter: {
        ASSIGN_OR_RETURN(step, LabelFilterStep::Make(*st.label_filter));
        break;
      }
      case StageKind::kDecolorize:
        step = std::make_shared<DecolorizeStep>();
        break;
      case StageKind::kDrop:
      case StageKind::kKeep:
        step = std::make_shared<DropKeepStep>(st.kind == StageKind::kKeep, st.named);
        break;
      case StageKind::kLineFormat: {
        auto t = Template::Parse(st.param, "line");
        if (!t.ok()) {
          return Status::InvalidArgument("invalid line template: " +
                                         std::string(t.status().message()));
        }
        step = std::make_shared<LineFormatStep>(std::move(*t));
        break;
      }
      case StageKind::kLabelFormat: {
        ASSIGN_OR_RETURN(step, LabelFormatStep::Make(st.label_fmts));
        break;
      }
    }
    p.steps_.push_back(std::move(step));
  }
  return p;
}

std::vector<std::string> RequiredSubstrings(const std::vector<Stage>& stages) {
  std::vector<std::string> out;
  for (const Stage& st : stages) {
    if (st.kind == StageKind::kLineFormat || st.kind == StageKind::kDecolorize ||
        st.kind == StageKind::kUnpack) {
      break;
    }
    if (st.kind != StageKind::kLineFilter) continue;
    for (const LineFilter& f : st.filters) {
      if (f.match == LineMatch::kContains && f.any.size() == 1 && !f.any[0].ip &&
          !f.any[0].value.empty()) {
        out.push_back(f.any[0].value);
      }
    }
  }
  return out;
}

}  // namespace strata::logql
