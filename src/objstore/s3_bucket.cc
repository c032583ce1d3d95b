#include "objstore/s3_bucket.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "base/escape.h"
#include "base/file.h"
#include "base/mutex.h"
#include "objstore/xml.h"

namespace strata::objstore {
namespace {

std::string AmzDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Retryable(long code) { return code == 429 || code == 408 || code >= 500; }

// Reads the [profile] section of an AWS shared credentials file.
Result<Credentials> CredentialsFromFile(const std::string& path, const std::string& profile) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  Credentials c;
  bool in_profile = false;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = line;
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[') {
      in_profile = l == "[" + profile + "]";
      continue;
    }
    size_t eq = l.find('=');
    if (!in_profile || eq == std::string_view::npos) continue;
    std::string key(l.substr(0, eq));
    std::string_view val = l.substr(eq + 1);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    while (!val.empty() && val.front() == ' ') val.remove_prefix(1);
    if (key == "aws_access_key_id") c.access_key_id = val;
    if (key == "aws_secret_access_key") c.secret_access_key = val;
    if (key == "aws_session_token") c.session_token = val;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument(
        fmt::format("s3: no credentials for profile \"{}\" in {}", profile, path));
  }
  return c;
}

Result<Credentials> ResolveCredentials(const S3Options& o) {
  if (!o.access_key_id.empty() || !o.secret_access_key.empty()) {
    if (o.access_key_id.empty() || o.secret_access_key.empty()) {
      return Status::InvalidArgument("s3: access_key_id and secret_access_key go together");
    }
    return Credentials{o.access_key_id, o.secret_access_key, o.session_token};
  }
  const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
  const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (ak && sk && *ak && *sk) {
    const char* tok = std::getenv("AWS_SESSION_TOKEN");
    return Credentials{ak, sk, tok ? tok : ""};
  }
  std::string file = o.credentials_file;
  if (file.empty()) {
    const char* env_file = std::getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char* home = std::getenv("HOME");
    if (env_file && *env_file) {
      file = env_file;
    } else if (home) {
      file = std::string(home) + "/.aws/credentials";
    }
  }
  std::string profile = o.profile;
  if (profile.empty()) {
    const char* p = std::getenv("AWS_PROFILE");
    profile = p && *p ? p : "default";
  }
  if (file.empty()) {
    return Status::InvalidArgument(
        "s3: no credentials (set access_key_id/secret_access_key, the AWS_* environment or a "
        "credentials file)");
  }
  return CredentialsFromFile(file, profile);
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
      v.remove_suffix(1);
    }
    headers->emplace_back(Lower(line.substr(0, colon)), std::string(v));
  }
  return size * n;
}

struct Upload {
  std::string_view data;
  size_t off = 0;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  size_t len = std::min(size * n, up->data.size() - up->off);
  std::memcpy(buf, up->data.data() + up->off, len);
  up->off += len;
  return len;
}

}  // namespace

std::string S3Bucket::Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

namespace {

Status S3Error(std::string_view op, const std::string& key, long code, std::string_view body) {
  std::string s3code = XmlUnescape(XmlFirst(body, "Code"));
  std::string msg = XmlUnescape(XmlFirst(body, "Message"));
  std::string text = fmt::format("s3 {} {}: HTTP {}{}{}", op, key, code,
                                 s3code.empty() ? "" : " " + s3code, msg.empty() ? "" : ": " + msg);
  if (code == 404) return Status::NotFound(text);
  if (code == 401 || code == 403) return Status::Unauthenticated(text);
  if (Retryable(code)) return Status::Unavailable(text);
  return Status::IOError(text);
}

}  // namespace

Result<std::unique_ptr<S3Bucket>> S3Bucket::Open(S3Options opts) {
  if (opts.bucket.empty()) return Status::InvalidArgument("s3: bucket is required");
  if (opts.region.empty()) return Status::InvalidArgument("s3: region is required");
  if (opts.part_size < (5u << 20)) {
    return Status::InvalidArgument("s3: part_size must be at least 5MiB (S3's minimum)");
  }
  if (!opts.prefix.empty() && opts.prefix.back() != '/') opts.prefix += '/';
  ASSIGN_OR_RETURN(Credentials creds, ResolveCredentials(opts));
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<S3Bucket>(new S3Bucket(std::move(opts), std::move(creds)));
}

S3Bucket::S3Bucket(S3Options opts, Credentials creds)
    : opts_(std::move(opts)), creds_(std::move(creds)) {
  std::string endpoint = opts_.endpoint;
  if (endpoint.empty()) endpoint = fmt::format("https://s3.{}.amazonaws.com", opts_.region);
  while (endpoint.ends_with('/')) endpoint.pop_back();
  size_t scheme_end = endpoint.find("://");
  std::string scheme = scheme_end == std::string::npos ? "https" : endpoint.substr(0, scheme_end);
  std::string host = scheme_end == std::string::npos ? endpoint : endpoint.substr(scheme_end + 3);
  if (opts_.path_style) {
    host_ = host;
    path_prefix_ = "/" + opts_.bucket;
  } else {
    host_ = opts_.bucket + "." + host;
  }
  scheme_host_ = scheme + "://" + host_;
}

S3Bucket::~S3Bucket() {
  MutexLock lk(pool_mu_);
  for (CURL* c : pool_) curl_easy_cleanup(c);
}

CURL* S3Bucket::Acquire() {
  {
    MutexLock lk(pool_mu_);
    if (!pool_.empty()) {
      CURL* c = pool_.back();
      pool_.pop_back();
      return c;
    }
  }
  return curl_easy_init();
}

void S3Bucket::Release(CURL* curl) {
  MutexLock lk(pool_mu_);
  if (pool_.size() < 32) {
    pool_.push_back(curl);
  } else {
    curl_easy_cleanup(curl);
  }
}

Result<S3Bucket::Response> S3Bucket::Attempt(CURL* curl, const Request& req, int64_t timeout_ms) {
  curl_easy_reset(curl);
  std::string path = path_prefix_ + "/" + (req.key.empty() ? "" : opts_.prefix + req.key);
  std::string url = scheme_host_ + UriEncode(path, true);
  std::string query;
  for (const auto& [k, v] : req.query) {
    query += query.empty() ? '?' : '&';
    query += UriEncode(k, false);
    if (!v.empty() || k != "uploads") query += "=" + UriEncode(v, false);
  }
  url += query;

  SignRequest sign;
  sign.method = req.method;
  sign.path = path;
  sign.query = req.query;
  sign.payload_sha256_hex = Sha256Hex(req.body);
  std::string date = AmzDate();
  sign.headers = {
      {"host", host_}, {"x-amz-content-sha256", sign.payload_sha256_hex}, {"x-amz-date", date}};
  if (!creds_.session_token.empty()) {
    sign.headers.emplace_back("x-amz-security-token", creds_.session_token);
  }
  for (const auto& h : req.headers) sign.headers.push_back(h);
  std::string auth = SignV4(sign, creds_, opts_.region, date);

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : sign.headers) {
    if (k == "host") continue;
    headers = curl_slist_append(headers, fmt::format("{}: {}", k, v).c_str());
  }
  headers = curl_slist_append(headers, ("Authorization: " + auth).c_str());
  headers = curl_slist_append(headers, "Expect:");

  Response resp;
  Upload upload{req.body};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &resp.headers);
  if (req.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    // NOLINTNEXTLINE(bugprone-suspicious-stringview-data-usage): the size is set below
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return Status::Unavailable(
        fmt::format("s3 {} {}: {}", req.method, req.key, curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.code);
  return resp;
}

Result<S3Bucket::Response> S3Bucket::Do(const Request& req) {
  // Large bodies get time in proportion to their size (at least 1 MB/s).
  int64_t timeout_ms = opts_.request_timeout_ms + static_cast<int64_t>(req.body.size() / 1000);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  Status last;
  for (int attempt = 0; attempt <= opts_.max_retries; ++attempt) {
    if (attempt > 0) {
      int64_t cap = std::min(opts_.backoff_max_ms, opts_.backoff_base_ms << std::min(attempt, 20));
      std::uniform_int_distribution<int64_t> jitter(0, cap);
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    }
    CURL* curl = Acquire();
    auto resp = Attempt(curl, req, timeout_ms);
    Release(curl);
    if (resp.ok() && !Retryable(resp->code)) return resp;
    last = resp.ok() ? S3Error(req.method, req.key, resp->code, resp->body) : resp.status();
    spdlog::debug("msg=\"s3 request failed, retrying\" attempt={} err=\"{}\"", attempt + 1,
                  last.message());
  }
  return Status::Unavailable(
      fmt::format("{} (gave up after {} attempts)", last.message(), opts_.max_retries + 1));
}

Result<std::string> S3Bucket::Get(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Response r, Do({"GET", key, {}, {}, {}}));
  if (r.code != 200) return S3Error("GET", key, r.code, r.body);
  return std::move(r.body);
}

Result<std::string> S3Bucket::GetRange(const std::string& key, uint64_t offset, uint64_t length) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (length == 0) return std::string();
  std::string range = fmt::format("bytes={}-{}", offset, offset + length - 1);
  ASSIGN_OR_RETURN(Response r, Do({"GET", key, {}, {{"range", range}}, {}}));
  if (r.code == 416) return std::string();  // the range starts past the end
  if (r.code == 200) {
    // A server that ignores Range sends the whole object.
    return offset < r.body.size() ? r.body.substr(offset, length) : std::string();
  }
  if (r.code != 206) return S3Error("GET", key, r.code, r.body);
  if (r.body.size() > length) r.body.resize(length);
  return std::move(r.body);
}

Status S3Bucket::Put(const std::string& key, std::string_view data) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Response r, Do({"PUT", key, {}, {}, data}));
  if (r.code != 200) return S3Error("PUT", key, r.code, r.body);
  return Status::Ok();
}

Status S3Bucket::PutFile(const std::string& key, const std::string& path) {
  RETURN_IF_ERROR(ValidateKey(key));
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::IOError(fmt::format("stat {}: {}", path, ec.message()));
  if (size > opts_.multipart_threshold) return MultipartUpload(key, path, size);
  ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  return Put(key, data);
}

Status S3Bucket::MultipartUpload(const std::string& key, const std::string& path, uint64_t size) {
  ASSIGN_OR_RETURN(Response init, Do({"POST", key, {{"uploads", ""}}, {}, {}}));
  if (init.code != 200) return S3Error("CreateMultipartUpload", key, init.code, init.body);
  std::string upload_id = XmlUnescape(XmlFirst(init.body, "UploadId"));
  if (upload_id.empty()) return Status::IOError("s3: CreateMultipartUpload returned no UploadId");
  auto abort = [&](Status st) {
    auto r = Do({"DELETE", key, {{"uploadId", upload_id}}, {}, {}});
    if (!r.ok() || (r->code != 204 && r->code != 200)) {
      spdlog::warn("msg=\"s3 multipart abort failed\" key={} upload_id={}", key, upload_id);
    }
    return st;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return abort(ErrnoStatus("open", path, errno));
  std::string complete = "<CompleteMultipartUpload>";
  std::string part;
  int number = 0;
  for (uint64_t off = 0; off < size; off += opts_.part_size) {
    part.resize(std::min<uint64_t>(opts_.part_size, size - off));
    ssize_t n = ::pread(fd, part.data(), part.size(), static_cast<off_t>(off));
    if (n != static_cast<ssize_t>(part.size())) {
      ::close(fd);
      return abort(Status::IOError(fmt::format("short read of {}", path)));
    }
    ++number;
    auto r = Do(
        {"PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}}, {}, part});
    if (!r.ok() || r->code != 200) {
      ::close(fd);
      return abort(r.ok() ? S3Error("UploadPart", key, r->code, r->body) : r.status());
    }
    complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", number,
                            XmlEscape(r->Header("etag")));
  }
  ::close(fd);
  complete += "</CompleteMultipartUpload>";
  auto r = Do({"POST", key, {{"uploadId", upload_id}}, {}, complete});
  if (!r.ok()) return abort(r.status());
  // CompleteMultipartUpload can fail with 200 and an <Error> body.
  if (r->code != 200 || !XmlFirst(r->body, "Error").empty() ||
      XmlFirst(r->body, "CompleteMultipartUploadResult").empty()) {
    return abort(S3Error("CompleteMultipartUpload", key, r->code, r->body));
  }
  return Status::Ok();
}

Result<std::vector<ObjectInfo>> S3Bucket::List(const std::string& prefix, bool recursive) {
  std::vector<ObjectInfo> out;
  std::string token;
  while (true) {
    Request req{"GET", "", {{"list-type", "2"}, {"prefix", opts_.prefix + prefix}}, {}, {}};
    if (!recursive) req.query.emplace_back("delimiter", "/");
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(Response r, Do(req));
    if (r.code != 200) return S3Error("LIST", prefix, r.code, r.body);
    auto strip = [&](const std::string& key) {
      return key.starts_with(opts_.prefix) ? key.substr(opts_.prefix.size()) : key;
    };
    for (std::string_view c : XmlAll(r.body, "Contents")) {
      ObjectInfo info{strip(XmlUnescape(XmlFirst(c, "Key"))), 0};
      std::string size(XmlFirst(c, "Size"));
      info.size = std::strtoull(size.c_str(), nullptr, 10);
      out.push_back(std::move(info));
    }
    for (std::string_view c : XmlAll(r.body, "CommonPrefixes")) {
      out.push_back({strip(XmlUnescape(XmlFirst(c, "Prefix"))), 0});
    }
    if (XmlFirst(r.body, "IsTruncated") != "true") break;
    token = XmlUnescape(XmlFirst(r.body, "NextContinuationToken"));
    if (token.empty()) return Status::IOError("s3 LIST: truncated listing without a token");
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status S3Bucket::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Response r, Do({"DELETE", key, {}, {}, {}}));
  if (r.code != 204 && r.code != 200 && r.code != 404)
    return S3Error("DELETE", key, r.code, r.body);
  return Status::Ok();
}

Result<bool> S3Bucket::Exists(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Response r, Do({"HEAD", key, {}, {}, {}}));
  if (r.code == 200) return true;
  if (r.code == 404) return false;
  return S3Error("HEAD", key, r.code, r.body);
}

}  // namespace strata::objstore
