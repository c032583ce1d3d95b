#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>

#include "base/status.h"
#include "http/server.h"

namespace strata::http {

struct Url {
  std::string host;
  std::string port;
  std::string target;  // path and query
};
// Parses http://host[:port][/path]. https is not supported.
Result<Url> ParseUrl(const std::string& url);

// Client is a blocking HTTP/1.1 client holding one keep-alive connection, reconnecting when the
// server closed it. For tools and tests. Not thread-safe: use one per thread.
class Client {
 public:
  Client(std::string host, std::string port, int64_t timeout_ms = 30'000);
  ~Client();
  // Sends `req` (Host and Content-Length are filled in) and reads the response.
  Result<Response> Do(Request req);
  void Close();
  // Responses with larger bodies fail (default 1 GiB).
  void set_body_limit(uint64_t bytes) { body_limit_ = bytes; }

 private:
  strata::Status Connect();

  std::string host_;
  std::string port_;
  int64_t timeout_ms_;
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
  uint64_t body_limit_ = 1ULL << 30;
};

}  // namespace strata::http
