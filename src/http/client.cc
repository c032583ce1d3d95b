#include "http/client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>

namespace strata::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

Result<Url> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return strata::Status::InvalidArgument(fmt::format("URL \"{}\" must start with http://", url));
  }
  std::string rest = url.substr(kScheme.size());
  Url u;
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  auto bracket = hostport.rfind(']');
  if (colon != std::string::npos && (bracket == std::string::npos || bracket < colon)) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  } else {
    u.host = hostport;
    u.port = "80";
  }
  if (u.host.size() >= 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty() || u.port.empty()) {
    return strata::Status::InvalidArgument(fmt::format("URL \"{}\" has no host or port", url));
  }
  return u;
}

Client::Client(std::string host, std::string port, int64_t timeout_ms)
    : host_(std::move(host)), port_(std::move(port)), timeout_ms_(timeout_ms) {}

Client::~Client() { Close(); }

void Client::Close() {
  if (stream_) {
    beast::error_code ec;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.reset();
  }
}

strata::Status Client::Connect() {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host_, port_, ec);
  if (ec) {
    return strata::Status::Unavailable(
        fmt::format("resolve {}:{}: {}", host_, port_, ec.message()));
  }
  stream_ = std::make_unique<beast::tcp_stream>(ioc_);
  stream_->expires_after(std::chrono::milliseconds(timeout_ms_));
  stream_->connect(results, ec);
  if (ec) {
    stream_.reset();
    return strata::Status::Unavailable(
        fmt::format("connect {}:{}: {}", host_, port_, ec.message()));
  }
  stream_->socket().set_option(tcp::no_delay(true), ec);
  return strata::Status::Ok();
}

Result<Response> Client::Do(Request req) {
  req.set(bhttp::field::host, host_ + ":" + port_);
  req.version(11);
  req.keep_alive(true);
  req.prepare_payload();
  // A reused connection may have been closed by the server; retry once on a fresh one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = stream_ != nullptr;
    if (!stream_) RETURN_IF_ERROR(Connect());
    beast::error_code ec;
    stream_->expires_after(std::chrono::milliseconds(timeout_ms_));
    bhttp::write(*stream_, req, ec);
    Response res;
    if (!ec) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(body_limit_);
      parser.skip(req.method() == bhttp::verb::head);  // its Content-Length has no body behind it
      bhttp::read(*stream_, buffer_, parser, ec);
      if (!ec) res = parser.release();
    }
    if (ec) {
      Close();
      buffer_.clear();
      // Only a stale keep-alive connection is worth a second try; a request that timed out
      // would just wait as long again.
      if (reused && ec != beast::error::timeout) continue;
      return strata::Status::Unavailable(fmt::format("{} {}:{}{}: {}",
                                                     std::string(req.method_string()), host_, port_,
                                                     std::string(req.target()), ec.message()));
    }
    if (!res.keep_alive()) Close();
    return res;
  }
  return strata::Status::Unavailable("connection closed by the server");
}

}  // namespace strata::http
