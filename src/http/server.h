#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"

namespace strata::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Status = boost::beast::http::status;

class Session;

// A server-side WebSocket connection that a request was upgraded to (Responder::Upgrade).
// Thread-safe: Send and Close post to the connection's executor, messages go out in order.
// Control frames (ping, pong, close) are answered by the connection; a peer that stops
// answering pings is dropped. Every copy must be gone before the Server is destroyed.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Sends a text message; dropped once the connection is closed.
  virtual void Send(std::string text) = 0;
  // What waits to be written: a sender must not outrun a slow reader.
  virtual size_t queued_bytes() const = 0;
  // Sends a close frame with `code` (RFC 6455: 1000 normal, 1011 server error) and `reason`.
  virtual void Close(uint16_t code, std::string reason) = 0;
  // Whether the connection is closed (by either side) or failed.
  virtual bool closed() const = 0;
};

// Responder sends the one response to one request. Copyable; call Send exactly once, from any
// thread (the write is posted to the connection's executor). Dropping every copy without
// sending answers 500, so a lost callback cannot hang a client. Every copy must be gone before
// the Server is destroyed: it keeps the connection, which belongs to the Server's io_context.
class Responder {
 public:
  explicit Responder(std::shared_ptr<Session> session);
  void Send(Response res) const;
  // Adds a header to whatever response is sent (CORS headers on every answer of a route).
  // Call it before the responder is shared with other threads.
  void AddHeader(std::string name, std::string value) const;
  // Instead of a response: upgrades the connection to a WebSocket and, once the handshake is
  // done, calls `on_open` with it (on the connection's executor; never if the handshake
  // fails). The request must be a WebSocket upgrade (boost::beast::websocket::is_upgrade).
  void Upgrade(std::function<void(std::shared_ptr<WebSocket>)> on_open) const;
  // Becomes true when the client closes the connection before the response is sent; valid
  // as long as a copy of this Responder lives.
  const std::atomic<bool>* client_gone() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(Request& req, const Responder& respond)>;

// A plain-text response with the given status, keep-alive taken from the request.
Response TextResponse(const Request& req, Status status, std::string body);
Response JsonResponse(const Request& req, Status status, std::string body);
// Appends the bytes a response is written with before its body: status line, fields and the
// blank line, as Beast's serializer writes them. Every response carries a Content-Length
// (Session::Write prepares it), so the body follows as it is.
void AppendResponseHead(std::string& out, const Response& res);
// A body-less copy of what a response needs of its request (version, keep-alive), for answers
// sent after the request is gone (once data is durable, from a query thread).
Request HeadOf(const Request& req);

struct ServerOptions {
  std::string listen = ":9009";  // [host]:port; an empty host listens on all interfaces
  int threads = 0;               // 0 = one per core
  uint64_t max_body_bytes = 10u << 20;
  int64_t idle_timeout_ms = 120'000;
  // Called when a response has been written: route pattern, status code, seconds taken.
  std::function<void(const std::string&, unsigned, double)> observe;
};

// Server is an asynchronous HTTP/1.1 server (Boost.Beast) with keep-alive, bounded request
// sizes and graceful draining: connections are served by a fixed pool of threads, never a
// thread per connection. Routes are registered before Start. Thread-safe after Start.
class Server {
 public:
  explicit Server(ServerOptions opts);
  ~Server();

  // Registers `handler` for an exact path, for the listed methods (others get 405). A path
  // ending in '/' is a prefix route: it serves every path below it without an exact route.
  // "/" itself is exact (the root page), never a prefix of every path.
  void Route(const std::string& path, std::vector<boost::beast::http::verb> methods,
             Handler handler);

  strata::Status Start();
  // The port actually bound (useful with port 0).
  uint16_t port() const { return port_; }
  // Stops accepting, lets in-flight requests finish for up to `timeout_ms`, then closes.
  void Shutdown(int64_t timeout_ms);

 private:
  friend class Session;
  struct RouteEntry {
    std::vector<boost::beast::http::verb> methods;
    Handler handler;
  };
  void Accept();
  void Dispatch(const std::shared_ptr<Session>& session, Request& req);

  ServerOptions opts_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::map<std::string, RouteEntry> routes_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
  bool stopped_ = false;
};

}  // namespace strata::http
