#include "proto/faro.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <memory_resource>
#include <tuple>

#include "base/json.h"
#include "base/swar.h"
#include "base/units.h"
#include "proto/loki.h"

namespace strata::proto {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Status InvalidPayload(std::string_view what) {
  return Status::InvalidArgument(fmt::format("invalid Faro payload: {}", what));
}

// Go's encoding/json matches object keys to fields without regard to (ASCII) case.
bool KeyIs(std::string_view key, std::string_view field) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  if (key.size() != field.size()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    if (lower(key[i]) != lower(field[i])) return false;
  }
  return true;
}

// Where a member is, for error messages ("logs[0].timestamp"): made into text only when one
// is needed. A Path refers to its parent, so it lives no longer than the parent's expression.
struct Path {
  Path(const char* root) : name(root) {}  // NOLINT(google-explicit-constructor): "logs"
  Path(const Path* p, std::string_view n, int64_t i) : parent(p), name(n), index(i) {}
  const Path* parent = nullptr;
  std::string_view name;  // a member's name; empty with index >= 0 for an array's item
  int64_t index = -1;
  Path operator/(std::string_view member) const { return {this, member, -1}; }
  Path operator[](int64_t i) const { return {this, {}, i}; }
  std::string str() const {
    std::string out = parent ? parent->str() : std::string();
    if (index >= 0) return out + fmt::format("[{}]", index);
    if (!out.empty()) out += '.';
    return out.append(name);
  }
};

bool IsNull(element e) { return e.type() == element_type::NULL_VALUE; }

Status String(element e, const Path& path, std::string& out) {
  if (IsNull(e)) return Status::Ok();
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    return InvalidPayload(fmt::format("{} must be a string", path.str()));
  }
  out.assign(v);
  return Status::Ok();
}

Status Bool(element e, const Path& path, bool& out) {
  if (IsNull(e)) return Status::Ok();
  if (e.get_bool().get(out) != simdjson::SUCCESS) {
    return InvalidPayload(fmt::format("{} must be true or false", path.str()));
  }
  return Status::Ok();
}

// A JSON number that Go decodes into an int: integral, within int64.
Status Int(element e, const Path& path, int64_t& out) {
  if (IsNull(e)) return Status::Ok();
  if (e.type() == element_type::INT64) {
    out = e.get_int64().value_unsafe();
    return Status::Ok();
  }
  return InvalidPayload(fmt::format("{} must be an integer", path.str()));
}

// Calls f(key, value) for each member of an object (null: none); anything else is an error.
template <typename F>
Status Members(element e, const Path& path, F&& f) {
  if (IsNull(e)) return Status::Ok();
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidPayload(fmt::format("{} must be an object", path.str()));
  }
  for (auto [k, v] : obj) RETURN_IF_ERROR(f(k, v));
  return Status::Ok();
}

template <typename F>
Status Items(element e, const Path& path, F&& f) {
  if (IsNull(e)) return Status::Ok();
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return InvalidPayload(fmt::format("{} must be an array", path.str()));
  }
  int64_t i = 0;
  for (element item : arr) RETURN_IF_ERROR(f(item, path[i++]));
  return Status::Ok();
}

// A map of strings: sorted by key, the last of duplicate keys kept.
Status StringMap(element e, const Path& path, FaroKeyVals& out) {
  std::map<std::string, std::string> m;
  RETURN_IF_ERROR(Members(e, path, [&](std::string_view k, element v) {
    return String(v, path / k, m[std::string(k)]);
  }));
  out.assign(m.begin(), m.end());
  return Status::Ok();
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

Status Timestamp(element e, const Path& path, FaroTime& out) {
  if (IsNull(e)) return Status::Ok();
  std::string_view v;
  Rfc3339Time t;
  if (e.get_string().get(v) != simdjson::SUCCESS || !ParseRfc3339(v, &t)) {
    return InvalidPayload(fmt::format("{} must be an RFC 3339 time", path.str()));
  }
  out = {t.unix_s, t.nanos, t.offset_s, t.utc, false};
  return Status::Ok();
}

Status TraceContext(element e, const Path& path, FaroTraceContext& out) {
  return Members(e, path, [&](std::string_view k, element v) {
    if (KeyIs(k, "trace_id")) return String(v, path / "trace_id", out.trace_id);
    if (KeyIs(k, "span_id")) return String(v, path / "span_id", out.span_id);
    return Status::Ok();
  });
}

Status DecodeLog(element e, const Path& path, FaroLog& l) {
  return Members(e, path, [&](std::string_view k, element v) {
    if (KeyIs(k, "message")) return String(v, path / "message", l.message);
    if (KeyIs(k, "level")) return String(v, path / "level", l.level);
    if (KeyIs(k, "context")) return StringMap(v, path / "context", l.context);
    if (KeyIs(k, "timestamp")) return Timestamp(v, path / "timestamp", l.timestamp);
    if (KeyIs(k, "trace")) return TraceContext(v, path / "trace", l.trace);
    return Status::Ok();
  });
}

Status DecodeFrame(element e, const Path& path, FaroFrame& f) {
  return Members(e, path, [&](std::string_view k, element v) {
    if (KeyIs(k, "function")) return String(v, path / "function", f.function);
    if (KeyIs(k, "module")) return String(v, path / "module", f.module);
    if (KeyIs(k, "filename")) return String(v, path / "filename", f.filename);
    if (KeyIs(k, "lineno")) return Int(v, path / "lineno", f.lineno);
    if (KeyIs(k, "colno")) return Int(v, path / "colno", f.colno);
    return Status::Ok();
  });
}

Status DecodeException(element e, const Path& path, FaroException& x) {
  return Members(e, path, [&](std::string_view k, element v) {
    if (KeyIs(k, "type")) return String(v, path / "type", x.type);
    if (KeyIs(k, "value")) return String(v, path / "value", x.value);
    if (KeyIs(k, "context")) return StringMap(v, path / "context", x.context);
    if (KeyIs(k, "timestamp")) return Timestamp(v, path / "timestamp", x.timestamp);
    if (KeyIs(k, "trace")) return TraceContext(v, path / "trace", x.trace);
    if (KeyIs(k, "stacktrace")) {
      if (IsNull(v)) {
        x.frames.reset();
        return Status::Ok();
      }
      x.frames.emplace();
      return Members(v, path / "stacktrace", [&](std::string_view fk, element fv) {
        if (!KeyIs(fk, "frames")) return Status::Ok();
        x.frames->clear();
        return Items(fv, path / "stacktrace" / "frames", [&](element fe, const Path& fp) {
          RETURN_IF_ERROR(DecodeFrame(fe, fp, x.frames->emplace_back()));
          return Status::Ok();
        });
      });
    }
    return Status::Ok();
  });
}

Status DecodeMeasurement(element e, const Path& path, FaroMeasurement& m) {
  return Members(e, path, [&](std::string_view k, element v) {
    if (KeyIs(k, "type")) return String(v, path / "type", m.type);
    if (KeyIs(k, "context")) return StringMap(v, path / "context", m.context);
    if (KeyIs(k, "timestamp")) return Timestamp(v, path / "timestamp", m.timestamp);
    if (KeyIs(k, "trace")) return TraceContext(v, path / "trace", m.trace);
    if (KeyIs(k, "values")) {
      std::map<std::string, double> values;
      RETURN_IF_ERROR(Members(v, path / "values", [&](std::string_view name, element num) {
        double d = 0;
        if (!IsNull(num) && num.get_double().get(d) != simdjson::SUCCESS) {
          return InvalidPayload(fmt::format("{} must be a number", (path / "values" / name).str()));
        }
        values[std::string(name)] = d;
        return Status::Ok();
      }));
      m.values.assign(values.begin(), values.end());
    }
    return Status::Ok();
  });
}

Status DecodeEvent(element e, const Path& path, FaroEvent& ev) {
  return Members(e, path, [&](std::string_view k, element v) {
    if (KeyIs(k, "name")) return String(v, path / "name", ev.name);
    if (KeyIs(k, "domain")) return String(v, path / "domain", ev.domain);
    if (KeyIs(k, "timestamp")) return Timestamp(v, path / "timestamp", ev.timestamp);
    if (KeyIs(k, "trace")) return TraceContext(v, path / "trace", ev.trace);
    if (KeyIs(k, "attributes")) {
      if (IsNull(v)) {
        ev.attributes.reset();
        return Status::Ok();
      }
      ev.attributes.emplace();
      return StringMap(v, path / "attributes", *ev.attributes);
    }
    return Status::Ok();
  });
}

// Reads the listed string members of an object; `maps` takes the `attributes` member.
Status Fields(element e, const Path& path,
              std::initializer_list<std::pair<std::string_view, std::string*>> fields,
              FaroKeyVals* attributes = nullptr) {
  return Members(e, path, [&](std::string_view k, element v) {
    for (auto [name, out] : fields) {
      if (KeyIs(k, name)) return String(v, path / name, *out);
    }
    if (attributes && KeyIs(k, "attributes")) {
      return StringMap(v, path / "attributes", *attributes);
    }
    return Status::Ok();
  });
}

Status DecodeMeta(element e, FaroMeta& m) {
  return Members(e, "meta", [&](std::string_view k, element v) {
    if (KeyIs(k, "sdk")) {
      return Members(v, "meta.sdk", [&](std::string_view sk, element sv) {
        if (KeyIs(sk, "name")) return String(sv, "meta.sdk.name", m.sdk_name);
        if (KeyIs(sk, "version")) return String(sv, "meta.sdk.version", m.sdk_version);
        if (!KeyIs(sk, "integrations")) return Status::Ok();
        m.sdk_integrations.clear();
        return Items(sv, "meta.sdk.integrations", [&](element ie, const Path& ip) {
          auto& [name, version] = m.sdk_integrations.emplace_back();
          return Fields(ie, ip, {{"name", &name}, {"version", &version}});
        });
      });
    }
    if (KeyIs(k, "app")) {
      return Fields(v, "meta.app",
                    {{"name", &m.app_name},
                     {"namespace", &m.app_namespace},
                     {"release", &m.app_release},
                     {"version", &m.app_version},
                     {"environment", &m.app_environment}});
    }
    if (KeyIs(k, "user")) {
      return Fields(v, "meta.user",
                    {{"email", &m.user_email}, {"id", &m.user_id}, {"username", &m.user_username}},
                    &m.user_attributes);
    }
    if (KeyIs(k, "session")) {
      return Fields(v, "meta.session", {{"id", &m.session_id}}, &m.session_attributes);
    }
    if (KeyIs(k, "page")) {
      return Fields(v, "meta.page", {{"id", &m.page_id}, {"url", &m.page_url}}, &m.page_attributes);
    }
    if (KeyIs(k, "browser")) {
      return Members(v, "meta.browser", [&](std::string_view bk, element bv) {
        if (KeyIs(bk, "mobile")) return Bool(bv, "meta.browser.mobile", m.browser_mobile);
        for (auto [name, out] :
             {std::pair{"name", &m.browser_name}, std::pair{"version", &m.browser_version},
              std::pair{"os", &m.browser_os}, std::pair{"userAgent", &m.browser_user_agent},
              std::pair{"language", &m.browser_language},
              std::pair{"viewportWidth", &m.browser_viewport_width},
              std::pair{"viewportHeight", &m.browser_viewport_height}}) {
          if (KeyIs(bk, name)) return String(bv, Path("meta.browser") / name, *out);
        }
        return Status::Ok();
      });
    }
    if (KeyIs(k, "view")) return Fields(v, "meta.view", {{"name", &m.view_name}});
    return Status::Ok();
  });
}

// Go's encoding/json of a float64: Prometheus's sample format (exponent form only below
// 1e-6 or from 1e21), with the exponent's leading zero dropped (1e-07 -> 1e-7).
void AppendJsonFloat(std::string& out, double v) {
  std::string s = FormatSampleValue(v);
  size_t e = s.find('e');
  if (e != std::string::npos && s.size() - e == 4 && s[e + 2] == '0') s.erase(e + 2, 1);
  out += s;
}

// Go's time.Time.String() of t ("2021-09-30 10:46:17.68 +0000 UTC"), written into `buf`.
std::string_view GoTimeString(const FaroTime& t, char (&buf)[64]) {
  if (t.zero) return "0001-01-01 00:00:00 +0000 UTC";
  const int64_t local = t.unix_s + t.offset_s;
  int64_t days = local / 86400, secs = local % 86400;
  if (secs < 0) secs += 86400, --days;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  // Called for every line: written by hand rather than through a format string (at most 27
  // characters of date and time, 10 of fraction, 15 of zone).
  size_t n = 0;
  auto put = [&](char c) { buf[n++] = c; };
  auto digits = [&](int64_t v, int width) {
    char rev[20];
    int k = 0;
    for (; k < width || v > 0; ++k, v /= 10) rev[k] = static_cast<char>('0' + v % 10);
    while (k > 0) put(rev[--k]);
  };
  if (y < 0) put('-');
  digits(y < 0 ? -y : y, 4);
  put('-');
  digits(m, 2);
  put('-');
  digits(d, 2);
  put(' ');
  digits(secs / 3600, 2);
  put(':');
  digits(secs / 60 % 60, 2);
  put(':');
  digits(secs % 60, 2);
  if (t.nanos != 0) {
    int64_t frac = t.nanos;
    int width = 9;
    while (frac % 10 == 0) frac /= 10, --width;
    put('.');
    digits(frac, width);
  }
  const size_t zone = n + 1;
  put(' ');
  put(t.offset_s < 0 ? '-' : '+');
  const int32_t off = std::abs(t.offset_s) / 60;
  digits(off / 60, 2);
  digits(off % 60, 2);
  put(' ');
  if (t.utc) {
    for (char c : {'U', 'T', 'C'}) put(c);
  } else {
    for (size_t i = 0; i < 5; ++i) put(buf[zone + i]);
  }
  return {buf, n};
}

// The strings a payload's lines make (timestamps, numbers, prefixed keys, stack traces),
// kept for as long as the lines: one arena per payload rather than an allocation per string.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  std::string_view Keep(std::string_view a, std::string_view b = {}) {
    auto* p = static_cast<char*>(mem_.allocate(a.size() + b.size(), 1));
    // An empty view may have no data pointer, which memcpy must not be given.
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    if (!b.empty()) std::memcpy(p + a.size(), b.data(), b.size());
    return {p, a.size() + b.size()};
  }
  std::pmr::memory_resource* resource() { return &mem_; }

 private:
  alignas(std::max_align_t) char first_[8192];  // enough for a usual payload's lines
  std::pmr::monotonic_buffer_resource mem_{first_, sizeof first_};
};

// Whether an item's key can be one of the meta's: only a measurement's value names are free,
// and every meta key starts with one of these.
bool MayBeMetaKey(std::string_view key) {
  for (std::string_view prefix :
       {"sdk_", "app_", "user_", "session_", "page_", "browser_", "view_"}) {
    if (key.starts_with(prefix)) return true;
  }
  return false;
}

// One key of a line: a string, or a number (measurement values_*). Views into the payload,
// the arena or string literals.
struct KeyVal {
  std::string_view key;
  std::string_view text;  // the string, or the number as %v prints it
  bool number = false;
  double num = 0;
};

// Alloy's ordered key/value map: a key set again keeps its place and takes the new value;
// empty strings are not added. Holds views: the payload and the arena outlive it.
class Line {
 public:
  explicit Line(Arena& arena) : arena_(&arena), kvs_(arena.resource()) {}
  Line(Arena& arena, const FaroTime& timestamp, const char* kind) : Line(arena) {
    kind_ = kind;
    char buf[64];
    Add("timestamp", arena.Keep(GoTimeString(timestamp, buf)));
    Add("kind", kind);
  }
  const char* kind() const { return kind_; }
  void Add(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    Set(key, value, false, 0);
  }
  // Add for a value made here, which the arena keeps.
  void AddMade(std::string_view key, std::string_view value) { Add(key, arena_->Keep(value)); }
  void AddNumber(std::string_view key, double v) {
    Set(key, arena_->Keep(FormatFloatG(v)), true, v);
  }
  void AddMap(std::string_view prefix, const FaroKeyVals& m) {
    for (const auto& [k, v] : m) {
      if (!v.empty()) Add(arena_->Keep(prefix, k), v);
    }
  }
  // Appends `other`'s keys in order, as Alloy merges meta into an item's keys.
  void Merge(const Line& other) {
    for (const auto& kv : other.kvs_) Set(kv.key, kv.text, kv.number, kv.num);
  }
  const KeyVal* Find(std::string_view key) const {
    for (const auto& kv : kvs_) {
      if (kv.key == key) return &kv;
    }
    return nullptr;
  }
  void AddTrace(const FaroTraceContext& t) {
    Add("traceID", t.trace_id);
    Add("spanID", t.span_id);
  }
  // Adds a key the payload named freely (a measurement's value names), which may be one of
  // the meta's: the other keys of a line are fixed or prefixed apart from them.
  void AddFree(std::string_view key, std::string_view value) {
    if (MayBeMetaKey(key)) may_shadow_meta_ = true;
    AddMade(key, value);
  }
  // Whether the line may have a key the meta has too (then the meta cannot be shared).
  bool may_shadow_meta() const { return may_shadow_meta_; }
  const std::pmr::vector<KeyVal>& kvs() const { return kvs_; }

 private:
  void Set(std::string_view key, std::string_view text, bool number, double num) {
    for (auto& kv : kvs_) {
      if (kv.key == key) {
        kv.text = text, kv.number = number, kv.num = num;
        return;
      }
    }
    kvs_.push_back({key, text, number, num});
  }
  Arena* arena_;
  const char* kind_ = "";
  bool may_shadow_meta_ = false;
  std::pmr::vector<KeyVal> kvs_;
};

Line MetaLine(Arena& arena, const FaroMeta& m) {
  Line l(arena);
  l.Add("sdk_name", m.sdk_name);
  l.Add("sdk_version", m.sdk_version);
  if (!m.sdk_integrations.empty()) {
    std::string joined;
    for (const auto& [name, version] : m.sdk_integrations) {
      if (!joined.empty()) joined += ',';
      joined.append(name).append(1, ':').append(version);
    }
    l.AddMade("sdk_integrations", joined);
  }
  l.Add("app_name", m.app_name);
  l.Add("app_namespace", m.app_namespace);
  l.Add("app_release", m.app_release);
  l.Add("app_version", m.app_version);
  l.Add("app_environment", m.app_environment);
  l.Add("user_email", m.user_email);
  l.Add("user_id", m.user_id);
  l.Add("user_username", m.user_username);
  l.AddMap("user_attr_", m.user_attributes);
  l.Add("session_id", m.session_id);
  l.AddMap("session_attr_", m.session_attributes);
  l.Add("page_id", m.page_id);
  l.Add("page_url", m.page_url);
  l.AddMap("page_attr_", m.page_attributes);
  l.Add("browser_name", m.browser_name);
  l.Add("browser_version", m.browser_version);
  l.Add("browser_os", m.browser_os);
  l.Add("browser_mobile", m.browser_mobile ? "true" : "false");
  l.Add("browser_userAgent", m.browser_user_agent);
  l.Add("browser_language", m.browser_language);
  l.Add("browser_viewportWidth", m.browser_viewport_width);
  l.Add("browser_viewportHeight", m.browser_viewport_height);
  l.Add("view_name", m.view_name);
  return l;
}

// go-logfmt: a key loses the characters a key cannot hold (space and controls, '=', '"',
// DEL, and U+FFFD, which invalid UTF-8 reads as).
std::string LogfmtKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size();) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      if (c > ' ' && c != '=' && c != '"' && c != 0x7f) out += static_cast<char>(c);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t n = DecodeRune(key, i, &cp);
    if (n == 0) {
      ++i;
      continue;
    }
    if (cp > ' ' && cp != '=' && cp != '"' && cp != 0x7f && cp != 0xfffd) {
      out.append(key.substr(i, n));
    }
    i += n;
  }
  return out;
}

// Whether any of the 8 bytes in `w` is below 0x21 (space, controls), at least 0x7f (DEL,
// non-ASCII), '=' or '"': the bytes LogfmtNeedsQuotes looks at one by one.
bool MayNeedQuotes(uint64_t w) {
  return swar::HasByteBelow(w, 0x21) || swar::HasHighByte(w) || swar::HasByte(w, 0x7f) ||
         swar::HasByte(w, '=') || swar::HasByte(w, '"');
}

bool LogfmtNeedsQuotes(std::string_view v) {
  if (v == "null") return true;
  // Keys and values are nearly always plain ASCII: clear 8 bytes at a time.
  size_t i = 0;
  for (uint64_t w; i + 8 <= v.size(); i += 8) {
    std::memcpy(&w, v.data() + i, 8);
    if (MayNeedQuotes(w)) break;
  }
  while (i < v.size()) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      if (c <= ' ' || c == '=' || c == '"' || c == 0x7f) return true;
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t n = DecodeRune(v, i, &cp);
    if (n == 0 || cp <= ' ' || cp == '=' || cp == '"' || cp == 0x7f || cp == 0xfffd) return true;
    i += n;
  }
  return false;
}

// Appends the line's keys in logfmt (after a space when `out` is not empty); false when a key
// is left empty.
bool AppendLogfmt(std::string& out, const Line& l) {
  for (const auto& kv : l.kvs()) {
    if (!out.empty()) out += ' ';
    // Keys are nearly always clean: written as they are unless something must go (a key
    // loses exactly the characters that make a value need quotes).
    if (!kv.key.empty() && !LogfmtNeedsQuotes(kv.key)) {
      out += kv.key;
    } else {
      std::string key = LogfmtKey(kv.key);
      if (key.empty()) return false;
      out += key;
    }
    out += '=';
    if (!kv.number && LogfmtNeedsQuotes(kv.text)) {
      AppendJsonString(out, kv.text, /*html_safe=*/false);
    } else {
      out += kv.text;
    }
  }
  return true;
}

// About the bytes AppendLogfmt writes for `l` (more if values need escaping).
size_t LogfmtSizeHint(const Line& l) {
  size_t n = 0;
  for (const auto& kv : l.kvs()) n += kv.key.size() + kv.text.size() + 4;  // ' ', '=', quotes
  return n;
}

// The line as Go's json.Marshal of a map writes it: keys sorted, numbers as numbers.
std::string Json(const Line& l) {
  std::vector<const KeyVal*> sorted;
  for (const auto& kv : l.kvs()) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(),
            [](const KeyVal* a, const KeyVal* b) { return a->key < b->key; });
  std::string out = "{";
  for (const KeyVal* kv : sorted) {
    if (out.size() > 1) out += ',';
    AppendJsonString(out, kv->key);
    out += ':';
    if (kv->number) {
      AppendJsonFloat(out, kv->num);
    } else {
      AppendJsonString(out, kv->text);
    }
  }
  out += '}';
  return out;
}

Line LogLine(Arena& arena, const FaroLog& x) {
  Line l(arena, x.timestamp, "log");
  l.Add("message", x.message);
  l.Add("level", x.level);
  l.AddMap("context_", x.context);
  l.AddTrace(x.trace);
  return l;
}

Line ExceptionLine(Arena& arena, const FaroException& x) {
  Line l(arena, x.timestamp, "exception");
  l.Add("type", x.type);
  l.Add("value", x.value);
  std::string stack = x.type + ": " + x.value;
  if (x.frames) {
    for (const auto& f : *x.frames) {
      stack += fmt::format("\n  at {} ({}{}{}:{}:{})", f.function, f.module,
                           f.module.empty() ? "" : "|", f.filename, f.lineno, f.colno);
    }
  }
  l.AddMade("stacktrace", stack);
  l.AddMade("hash", std::to_string(XXH3_64bits(x.value.data(), x.value.size())));
  l.AddMap("context_", x.context);
  l.AddTrace(x.trace);
  return l;
}

Line MeasurementLine(Arena& arena, const FaroMeasurement& x) {
  Line l(arena, x.timestamp, "measurement");
  l.Add("type", x.type);
  for (const auto& [name, v] : x.values) {
    char buf[400];  // %f of any double fits
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 6);
    l.AddFree(name, std::string_view(buf, r.ptr - buf));
  }
  l.AddTrace(x.trace);
  l.AddMap("context_", x.context);
  for (const auto& [name, v] : x.values) l.AddNumber(arena.Keep("value_", name), v);
  return l;
}

Line EventLine(Arena& arena, const FaroEvent& x) {
  Line l(arena, x.timestamp, "event");
  l.Add("event_name", x.name);
  l.Add("event_domain", x.domain);
  if (x.attributes) l.AddMap("event_data_", *x.attributes);
  l.AddTrace(x.trace);
  return l;
}

}  // namespace

Result<FaroPayload> DecodeFaro(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err != simdjson::SUCCESS) {
    return InvalidPayload(simdjson::error_message(err));
  }
  if (doc.type() != element_type::OBJECT) return InvalidPayload("the body must be a JSON object");
  FaroPayload p;
  RETURN_IF_ERROR(Members(doc, "payload", [&](std::string_view k, element v) {
    if (KeyIs(k, "meta")) return DecodeMeta(v, p.meta);
    if (KeyIs(k, "logs")) {
      p.logs.clear();
      return Items(v, "logs", [&](element e, const Path& path) {
        return DecodeLog(e, path, p.logs.emplace_back());
      });
    }
    if (KeyIs(k, "exceptions")) {
      p.exceptions.clear();
      return Items(v, "exceptions", [&](element e, const Path& path) {
        return DecodeException(e, path, p.exceptions.emplace_back());
      });
    }
    if (KeyIs(k, "measurements")) {
      p.measurements.clear();
      return Items(v, "measurements", [&](element e, const Path& path) {
        return DecodeMeasurement(e, path, p.measurements.emplace_back());
      });
    }
    if (KeyIs(k, "events")) {
      p.events.clear();
      return Items(v, "events", [&](element e, const Path& path) {
        return DecodeEvent(e, path, p.events.emplace_back());
      });
    }
    if (KeyIs(k, "traces")) {
      if (IsNull(v)) {
        p.traces_json.clear();
        return Status::Ok();
      }
      if (v.type() != element_type::OBJECT) return InvalidPayload("traces must be an object");
      p.traces_json = simdjson::minify(v);
    }
    return Status::Ok();
  }));
  return p;
}

FaroLogs FaroToLoki(const FaroPayload& payload, const FaroLogOptions& options) {
  Arena arena;
  // Exceptions with their frames resolved: the lines' views point into them, as into the
  // payload, so they live as long.
  std::vector<FaroException> resolved;
  std::vector<Line> lines;
  lines.reserve(payload.logs.size() + payload.exceptions.size() + payload.measurements.size() +
                payload.events.size());
  for (const auto& x : payload.logs) lines.push_back(LogLine(arena, x));
  for (const auto& x : payload.exceptions) {
    if (options.resolve_frame && x.frames) {
      if (resolved.empty()) resolved.reserve(payload.exceptions.size());  // never reallocates
      FaroException& r = resolved.emplace_back(x);
      for (auto& f : *r.frames) options.resolve_frame(f, payload.meta.app_release);
      lines.push_back(ExceptionLine(arena, r));
    } else {
      lines.push_back(ExceptionLine(arena, x));
    }
  }
  for (const auto& x : payload.measurements) lines.push_back(MeasurementLine(arena, x));
  for (const auto& x : payload.events) lines.push_back(EventLine(arena, x));

  FaroLogs out;
  // The meta's keys follow every line's: rendered once, unless a line has one of them too.
  const Line meta = MetaLine(arena, payload.meta);
  std::string meta_logfmt;
  meta_logfmt.reserve(LogfmtSizeHint(meta));
  const bool meta_ok = AppendLogfmt(meta_logfmt, meta);
  // Streams in order of their first line, entries in payload order.
  std::vector<std::pair<Labels, std::vector<std::string>>> streams;
  std::vector<LabelView> labels;
  for (Line& l : lines) {
    const bool shared = meta_ok && options.format == FaroLogFormat::kLogfmt &&
                        (!l.may_shadow_meta() ||
                         std::none_of(l.kvs().begin(), l.kvs().end(), [&](const KeyVal& kv) {
                           return MayBeMetaKey(kv.key) && meta.Find(kv.key);
                         }));
    std::string text;
    text.reserve(LogfmtSizeHint(l) + (shared ? meta_logfmt.size() + 1 : LogfmtSizeHint(meta)));
    if (shared) {
      if (!AppendLogfmt(text, l)) {
        ++out.dropped;
        continue;
      }
      text.append(1, ' ').append(meta_logfmt);
    } else {
      l.Merge(meta);
      if (options.format == FaroLogFormat::kJson) {
        text = Json(l);
      } else if (!AppendLogfmt(text, l)) {
        ++out.dropped;
        continue;
      }
    }
    // The line's labels as views, made into a stream's own only for a new stream.
    labels.clear();
    for (const auto& [name, value] : options.labels) {
      if (!value.empty()) {
        labels.push_back({name, value});
      } else if (const KeyVal* kv = l.Find(name)) {
        labels.push_back({name, kv->text});
      } else if (const KeyVal* m = shared ? meta.Find(name) : nullptr) {
        labels.push_back({name, m->text});
      }
    }
    // Loki needs a label: a line whose configured labels all came out empty gets its kind.
    if (labels.empty()) labels.push_back({"kind", l.kind()});
    std::sort(labels.begin(), labels.end(), [](const LabelView& a, const LabelView& b) {
      return std::tie(a.name, a.value) < std::tie(b.name, b.value);
    });
    auto it = std::find_if(streams.begin(), streams.end(), [&](const auto& s) {
      return std::equal(s.first.begin(), s.first.end(), labels.begin(), labels.end(),
                        [](const Label& a, const LabelView& b) {
                          return a.name == b.name && a.value == b.value;
                        });
    });
    if (it == streams.end()) {
      Labels owned;
      owned.reserve(labels.size());
      for (const auto& [name, value] : labels)
        owned.push_back({std::string(name), std::string(value)});
      streams.emplace_back(std::move(owned), std::vector<std::string>());
      it = streams.end() - 1;
    }
    ++out.entries;
    out.line_bytes += text.size();
    it->second.push_back(std::move(text));
  }
  if (out.entries == 0) return out;
  LokiPushBuilder push;
  for (const auto& [labels, entries] : streams) {
    push.BeginStream(labels);
    for (const auto& e : entries) push.AddEntry(options.entry_ns, e);
  }
  out.push = push.Finish();
  return out;
}

}  // namespace strata::proto
