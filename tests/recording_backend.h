#pragma once

// The OTLP/HTTP and Loki endpoint the agent's integration tests export logs and spans to.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "http/server.h"
#include "proto/remote_write.h"

namespace strata {

// It records the sequence
// numbers in the lines ("log-<n>", "loki-<n>") and span names ("span-<n>") it accepts, and
// answers 503 while "down".
class RecordingBackend {
 public:
  explicit RecordingBackend(int port) {
    http::ServerOptions opts;
    opts.listen = "127.0.0.1:" + std::to_string(port);
    server_ = std::make_unique<http::Server>(opts);
    for (const char* path : {"/v1/logs", "/v1/traces", "/loki/api/v1/push"}) {
      server_->Route(
          path, {boost::beast::http::verb::post},
          [this, path](http::Request& req, const http::Responder& r) {
            if (down_) {
              return r.Send(http::TextResponse(req, http::Status::service_unavailable, "down"));
            }
            std::string body;
            if (std::string_view(path).starts_with("/loki")) {
              EXPECT_TRUE(proto::SnappyDecompress(req.body(), 1 << 30, body).ok());
            } else {
              body = req.body();
            }
            Record(body);
            r.Send(http::TextResponse(req, http::Status::ok, ""));
          });
    }
    EXPECT_TRUE(server_->Start().ok());
  }
  ~RecordingBackend() { server_->Shutdown(1000); }
  void SetDown(bool down) { down_ = down; }
  std::set<int64_t> Seen(const std::string& prefix) {
    std::lock_guard lk(mu_);
    return seen_[prefix];
  }
  uint64_t duplicates() {
    std::lock_guard lk(mu_);
    return duplicates_;
  }

 private:
  void Record(const std::string& body) {
    std::lock_guard lk(mu_);
    for (const char* prefix : {"log-", "loki-", "span-"}) {
      size_t pos = 0;
      while ((pos = body.find(prefix, pos)) != std::string::npos) {
        pos += std::strlen(prefix);
        int64_t n = 0;
        size_t digits = 0;
        while (pos < body.size() && std::isdigit(static_cast<unsigned char>(body[pos]))) {
          n = n * 10 + (body[pos++] - '0');
          ++digits;
        }
        if (digits > 0 && !seen_[prefix].insert(n).second) ++duplicates_;
      }
    }
  }

  std::unique_ptr<http::Server> server_;
  std::atomic<bool> down_{false};
  std::mutex mu_;
  std::map<std::string, std::set<int64_t>> seen_;
  uint64_t duplicates_ = 0;
};

}  // namespace strata
