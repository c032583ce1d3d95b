#include "agent/receive/sourcemaps.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <vector>

#include "base/encoding.h"
#include "base/file.h"
#include "base/units.h"

namespace strata::agent {
namespace {

constexpr size_t kMaxCachedFiles = 256;
constexpr int64_t kRetryFailuresMs = int64_t{60} * 60'000;
constexpr size_t kMaxFetchBytes = 16u << 20;

// The release as a directory name: no slashes, no leading dots (as Alloy cleans it).
std::string CleanRelease(std::string_view release) {
  std::string out;
  for (char c : release) {
    if (c != '/' && c != '\\') out += c;
  }
  out.erase(0, out.find_first_not_of('.'));
  return out;
}

std::string_view WithoutQuery(std::string_view url) { return url.substr(0, url.find('?')); }

// The sourceMappingURL of a script: the comment must end the file (one line break allowed).
std::string_view MapReference(std::string_view js) {
  if (js.ends_with("\n")) js.remove_suffix(1);
  if (js.ends_with("\r")) js.remove_suffix(1);
  size_t line = js.rfind('\n');
  std::string_view last = line == std::string_view::npos ? js : js.substr(line + 1);
  for (std::string_view key : {"sourceMappingURL=", "sourceURL="}) {
    for (std::string_view lead : {"//# ", "//@ ", "//#\t", "//@\t"}) {
      if (!last.starts_with(lead)) continue;
      std::string_view rest = last.substr(lead.size());
      if (!rest.starts_with(key)) continue;
      rest.remove_prefix(key.size());
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      if (rest.empty() || rest.find_first_of(" \t") != std::string_view::npos) return {};
      return rest;
    }
  }
  return {};
}

// A data: URL's content: base64 (";base64") or percent-encoded.
Result<std::string> DecodeDataUrl(std::string_view url) {
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) return Status::InvalidArgument("a data: URL without ','");
  std::string_view meta = url.substr(5, comma - 5), data = url.substr(comma + 1);
  std::string out;
  const bool ok = meta.ends_with(";base64") ? Base64Decode(data, &out)
                                            : PercentDecode(data, /*plus_as_space=*/false, &out);
  if (!ok) return Status::InvalidArgument("a data: URL that does not decode");
  return out;
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > kMaxFetchBytes) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

}  // namespace

SourceMapStore::SourceMapStore(FaroSourceMaps config, prometheus::Registry& registry)
    : config_(std::move(config)),
      loads_(prometheus::BuildCounter()
                 .Name("strata_agent_faro_sourcemap_loads_total")
                 .Help("Source maps looked for (not cached), by where (location, download) and "
                       "result (ok, not_found, error).")
                 .Register(registry)) {}

bool SourceMapStore::Resolve(proto::FaroFrame& frame, std::string_view release) {
  if (frame.filename.empty()) return false;
  auto map = Load(frame.filename, release);
  if (!map.ok() || !*map) return false;
  auto original = (*map)->Resolve(frame.lineno, frame.colno);
  if (!original) return false;
  frame.filename = std::move(original->source);
  frame.function = std::move(original->function);
  frame.lineno = original->line;
  frame.colno = original->column;
  frame.module.clear();
  return true;
}

Result<std::shared_ptr<const proto::SourceMap>> SourceMapStore::Load(const std::string& file,
                                                                     std::string_view release) {
  const std::string key = file + "__" + std::string(release);
  const int64_t now = NowMillis();
  {
    MutexLock lk(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && (it->second.map || now - it->second.loaded_ms < kRetryFailuresMs)) {
      it->second.used_ms = now;
      return it->second.map;
    }
  }
  // Looked for outside the lock: a slow origin holds up only the requests that need it.
  std::shared_ptr<const proto::SourceMap> map;
  auto local = FromLocations(file, release);
  if (local.ok() && *local) {
    map = *local;
  } else if (local.ok()) {
    auto downloaded = Download(file);
    if (downloaded.ok()) map = *downloaded;
  }
  MutexLock lk(mu_);
  if (cache_.size() >= kMaxCachedFiles && !cache_.count(key)) {
    auto lru = std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
      return a.second.used_ms < b.second.used_ms;
    });
    cache_.erase(lru);
  }
  cache_[key] = Entry{map, now, now};
  return map;
}

Result<std::shared_ptr<const proto::SourceMap>> SourceMapStore::FromLocations(
    const std::string& file, std::string_view release) {
  for (const auto& loc : config_.locations) {
    std::string_view rest = WithoutQuery(file);
    if (!rest.starts_with(loc.minified_path_prefix) || rest.ends_with('/')) continue;
    rest.remove_prefix(loc.minified_path_prefix.size());
    std::string relative;
    size_t pos = 0;
    while (pos <= rest.size()) {
      size_t slash = rest.find('/', pos);
      std::string_view seg =
          rest.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
      if (seg == "..") {
        loads_.Add({{"where", "location"}, {"result", "error"}}).Increment();
        return Status::InvalidArgument(fmt::format("source map path of {} leaves its root", file));
      }
      if (!seg.empty() && seg != ".") relative += (relative.empty() ? "" : "/") + std::string(seg);
      if (slash == std::string_view::npos) break;
      pos = slash + 1;
    }
    std::string root = loc.path;
    for (size_t at; (at = root.find("{{ .Release }}")) != std::string::npos;) {
      root.replace(at, std::string_view("{{ .Release }}").size(), CleanRelease(release));
    }
    const std::string path = fmt::format("{}/{}.map", root, relative);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    auto text = ReadFile(path);
    if (text.ok() && text->size() <= kMaxFetchBytes) {
      auto parsed = proto::SourceMap::Parse(*text, file);
      if (parsed.ok()) {
        loads_.Add({{"where", "location"}, {"result", "ok"}}).Increment();
        return std::make_shared<const proto::SourceMap>(std::move(*parsed));
      }
      text = parsed.status();
    } else if (text.ok()) {
      text = Status::TooLarge(fmt::format("{} is over 16 MiB", path));
    }
    loads_.Add({{"where", "location"}, {"result", "error"}}).Increment();
    spdlog::warn("msg=\"source map cannot be read\" path={} err=\"{}\"", path,
                 text.status().message());
    return text.status();
  }
  return std::shared_ptr<const proto::SourceMap>();
}

Result<std::shared_ptr<const proto::SourceMap>> SourceMapStore::Download(const std::string& file) {
  if (!config_.download || !(file.starts_with("http://") || file.starts_with("https://"))) {
    return std::shared_ptr<const proto::SourceMap>();
  }
  const bool allowed = std::any_of(
      config_.download_from_origins.begin(), config_.download_from_origins.end(),
      [&](const std::string& origin) { return origin == "*" || file.starts_with(origin); });
  if (!allowed) return std::shared_ptr<const proto::SourceMap>();
  auto result = [&]() -> Result<std::shared_ptr<const proto::SourceMap>> {
    ASSIGN_OR_RETURN(std::string js, Fetch(file));
    const std::string_view ref = MapReference(js);
    if (ref.empty()) return std::shared_ptr<const proto::SourceMap>();
    std::string map_json, map_url;
    if (ref.starts_with("data:")) {
      ASSIGN_OR_RETURN(map_json, DecodeDataUrl(ref));
      map_url = file + ".map";
    } else {
      map_url = proto::ResolveReference(file, ref);
      if (!map_url.starts_with("http://") && !map_url.starts_with("https://")) {
        return Status::InvalidArgument(fmt::format("sourceMappingURL {} is not http", map_url));
      }
      ASSIGN_OR_RETURN(map_json, Fetch(map_url));
    }
    ASSIGN_OR_RETURN(proto::SourceMap map, proto::SourceMap::Parse(map_json, map_url));
    return std::make_shared<const proto::SourceMap>(std::move(map));
  }();
  if (!result.ok()) {
    loads_.Add({{"where", "download"}, {"result", "error"}}).Increment();
    spdlog::warn("msg=\"source map cannot be downloaded\" file={} err=\"{}\"", file,
                 result.status().message());
  } else {
    loads_.Add({{"where", "download"}, {"result", *result ? "ok" : "not_found"}}).Increment();
  }
  return result;
}

Result<std::string> SourceMapStore::Fetch(const std::string& url) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::ResourceExhausted("curl_easy_init failed");
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(config_.download_timeout_ms));
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return Status::Unavailable(fmt::format("GET {}: {}", url, curl_easy_strerror(rc)));
  }
  long code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) return Status::NotFound(fmt::format("GET {}: status {}", url, code));
  return body;
}

}  // namespace strata::agent
