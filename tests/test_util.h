#pragma once

// Helpers of the tests that start real processes; the generic ones are in src/testing/.
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/compression.h"
#include "proto/loki.h"
#include "proto/remote_write.h"
#include "testing/temp_dir.h"

namespace strata::testing {

// A loopback port that was free a moment ago.
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  int error = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::system_error(error, std::generic_category(), "FreePort");
  return ntohs(addr.sin_port);
}

// A child process, killed (SIGKILL) when the object goes away.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      std::vector<char*> args;
      args.reserve(argv.size() + 1);
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Process() { Kill(SIGKILL); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Sends `sig` and reaps the child; returns its wait status.
  int Kill(int sig) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Polls GET path until it answers 200 or the timeout passes.
inline bool WaitForHttp(int port, const std::string& path, int timeout_ms = 20000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    http::Client c("127.0.0.1", std::to_string(port), 1000);
    auto res = c.Do(http::Request(boost::beast::http::verb::get, path, 11));
    if (res.ok() && res->result_int() == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The body of a GET answered 200; empty otherwise.
inline std::string HttpGet(int port, const std::string& target) {
  http::Client c("127.0.0.1", std::to_string(port), 10'000);
  auto res = c.Do(http::Request(boost::beast::http::verb::get, target, 11));
  return res.ok() && res->result_int() == 200 ? res->body() : "";
}

// A metric's value in an exposition text, summed over its label sets; -1 if absent.
inline double MetricValue(const std::string& text, const std::string& name) {
  double sum = -1;
  size_t pos = 0;
  while ((pos = text.find("\n" + name, pos)) != std::string::npos) {
    size_t eol = text.find('\n', pos + 1);
    std::string line = text.substr(pos + 1, eol - pos - 1);
    char next = line[name.size()];
    if (next == '{' || next == ' ')
      sum = std::max(sum, 0.0) + std::stod(line.substr(line.rfind(' ')));
    pos = eol;
  }
  return sum;
}

// A remote-write request with snappy body and the usual headers.
inline http::Request PushRequest(const proto::WriteRequest& wr, const std::string& tenant = "",
                                 const std::string& target = "/api/v1/push") {
  http::Request req(boost::beast::http::verb::post, target, 11);
  req.set(boost::beast::http::field::content_type, "application/x-protobuf");
  req.set(boost::beast::http::field::content_encoding, "snappy");
  req.set("X-Prometheus-Remote-Write-Version", "0.1.0");
  if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
  req.body() = proto::SnappyCompress(proto::EncodeWriteRequest(wr));
  return req;
}

// Starts s3rver (path from CMake) serving bucket "strata" from `dir`; credentials S3RVER.
// s3rver encrypts its listings' continuation tokens with DES, which Node 17+ gives only with
// OpenSSL's legacy provider: without it a listing of over 1,000 keys answers 500.
inline std::unique_ptr<Process> StartS3rver(const std::string& script, const std::string& dir,
                                            int port) {
  std::filesystem::create_directories(dir + "/s3");
  return std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/env", "node", "--openssl-legacy-provider", script, "-d",
                               dir + "/s3", "-a", "127.0.0.1", "-p", std::to_string(port),
                               "--configure-bucket", "strata", "--silent"},
      dir + "/s3rver.log");
}

// Starts tests/fault_proxy.py in front of 127.0.0.1:`upstream`; sets *port to its port.
inline std::unique_ptr<Process> StartFaultProxy(const std::string& script, int upstream,
                                                double fault_rate, const std::string& log,
                                                int* port) {
  std::filesystem::remove(log);
  auto p = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/env", "python3", script, "--upstream",
                               "127.0.0.1:" + std::to_string(upstream), "--fault-rate",
                               std::to_string(fault_rate)},
      log);
  *port = 0;
  for (int i = 0; i < 200 && *port == 0; ++i) {
    std::ifstream in(log);
    if (!(in >> *port)) *port = 0;
    if (*port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return p;
}

// Switches the fault proxy to failing every request ("down") or back ("up").
inline bool SetProxyMode(int port, const std::string& mode) {
  http::Client c("127.0.0.1", std::to_string(port));
  http::Request req(boost::beast::http::verb::post, "/-/mode", 11);
  req.body() = mode;
  req.prepare_payload();
  return c.Do(std::move(req)).ok();
}

// A Loki push: `json` as the JSON form, or transcoded to protobuf and snappy-compressed.
inline http::Request LokiPush(const std::string& json, bool as_json,
                              const std::string& tenant = "") {
  http::Request req(boost::beast::http::verb::post, "/loki/api/v1/push", 11);
  if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
  if (as_json) {
    req.set(boost::beast::http::field::content_type, "application/json");
    req.set(boost::beast::http::field::content_encoding, "gzip");
    req.body() = http::Gzip(json);
  } else {
    req.set(boost::beast::http::field::content_type, "application/x-protobuf");
    req.body() = proto::SnappyCompress(*proto::LokiJsonToProtobuf(json));
  }
  return req;
}

// A gzip body inflated by zlib (a reference independent of Strata's own gzip code), up to
// 64 KiB; nullopt when it is not one whole gzip stream.
inline std::optional<std::string> ZlibGunzip(std::string body) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  std::string out(64 << 10, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(body.data());
  zs.avail_in = static_cast<uInt>(body.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

// `lines` entries of stream {app=<app>} at `ns` + i, with structured metadata on odd ones.
inline std::string LokiJson(const std::string& app, int64_t ns, int lines) {
  std::string values;
  for (int i = 0; i < lines; ++i) {
    values += fmt::format(R"({}["{}","line {} \u00e9\t\"q\""{}])", i ? "," : "", ns + i, i,
                          i % 2 ? R"(,{"trace_id":"t)" + std::to_string(i) + R"("})" : "");
  }
  return fmt::format(R"({{"streams":[{{"stream":{{"app":"{}","env":"test"}},"values":[{}]}}]}})",
                     app, values);
}

}  // namespace strata::testing
