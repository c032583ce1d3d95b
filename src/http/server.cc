#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <chrono>
#include <deque>
#include <iterator>
#include <optional>

namespace strata::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
// A connection's stream, its executor the connection's strand by type: with Beast's tcp_stream
// (a type-erased executor) every operation copied the strand into heap storage, about 20
// allocations per request.
using Strand = asio::strand<asio::io_context::executor_type>;
using Stream = beast::basic_stream<tcp, Strand>;

constexpr uint32_t kHeaderLimit = 64 << 10;
// Beast asks the socket for as many bytes as the read buffer has free (at least 512, at most
// 64 KiB). A body is read with this much free, so a 150 KiB remote write takes a few reads
// instead of dozens (+17% ingest per core); between requests a buffer grown larger goes
// back to kIdleReadBuffer, so idle connections stay small.
constexpr size_t kBodyReadBuffer = 64 << 10;
constexpr size_t kIdleReadBuffer = 4 << 10;
constexpr size_t kMaxWebSocketMessage = 1 << 20;  // what a peer may send us
constexpr size_t kMaxCloseReason = 123;           // RFC 6455 5.5: 125 bytes less the code

// One upgraded connection: a read loop that answers control frames and notices the peer
// leaving, and a queue of text messages written one at a time.
class WebSocketConn : public WebSocket, public std::enable_shared_from_this<WebSocketConn> {
 public:
  explicit WebSocketConn(Stream stream) : ws_(std::move(stream)) {}

  void Accept(const Request& req, std::function<void(std::shared_ptr<WebSocket>)> on_open) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(beast::websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(kMaxWebSocketMessage);
    ws_.async_accept(
        req, [self = shared_from_this(), on_open = std::move(on_open)](beast::error_code ec) {
          if (ec) {
            self->closed_ = true;
            return;
          }
          self->Read();
          on_open(self);
        });
  }

  void Send(std::string text) override {
    if (closed_) return;
    queued_ += text.size();
    asio::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      self->out_.push_back(std::move(text));
      if (self->out_.size() == 1) self->WriteNext();
    });
  }
  size_t queued_bytes() const override { return queued_.load(); }

  void Close(uint16_t code, std::string reason) override {
    // A close frame's reason holds 123 bytes: longer ones are cut at a UTF-8 character.
    if (reason.size() > kMaxCloseReason) {
      size_t n = kMaxCloseReason;
      while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
      reason.resize(n);
    }
    asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
      self->close_ =
          beast::websocket::close_reason(static_cast<beast::websocket::close_code>(code), reason);
      if (self->out_.empty()) self->SendClose();
    });
  }
  bool closed() const override { return closed_.load(); }

 private:
  void Read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->in_.consume(self->in_.size());  // what a tail client sends is not used
      if (ec) {
        self->closed_ = true;
        return;
      }
      self->Read();
    });
  }
  void WriteNext() {
    ws_.text(true);
    ws_.async_write(asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->queued_ -= self->out_.front().size();
                      self->out_.pop_front();
                      if (ec) {
                        self->closed_ = true;
                        self->out_.clear();
                        return;
                      }
                      if (!self->out_.empty()) return self->WriteNext();
                      if (self->close_) self->SendClose();
                    });
  }
  void SendClose() {
    if (closed_.exchange(true)) return;
    ws_.async_close(*close_, [self = shared_from_this()](beast::error_code) {});
  }

  beast::websocket::stream<Stream> ws_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;  // on the executor
  std::optional<beast::websocket::close_reason> close_;
  std::atomic<size_t> queued_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace

Response TextResponse(const Request& req, Status status, std::string body) {
  Response res(status, req.version());
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(req.keep_alive());
  if (!body.empty() && body.back() != '\n') body.push_back('\n');
  res.body() = std::move(body);
  return res;
}

Request HeadOf(const Request& req) {
  Request head;
  head.version(req.version());
  head.keep_alive(req.keep_alive());
  return head;
}

Response JsonResponse(const Request& req, Status status, std::string body) {
  Response res(status, req.version());
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  return res;
}

void AppendResponseHead(std::string& out, const Response& res) {
  fmt::format_to(std::back_inserter(out), "HTTP/{}.{} {} ", res.version() / 10, res.version() % 10,
                 res.result_int());
  auto put = [&out](beast::string_view s) { out.append(s.data(), s.size()); };
  put(res.reason());
  out.append("\r\n");
  for (const auto& f : res) {
    put(f.name_string());
    out.append(": ");
    put(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

// Session serves one connection: read a request, hand it to its handler, write the response,
// repeat while keep-alive holds. All I/O runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Stream::socket_type socket, Server& server)
      : stream_(std::move(socket)), server_(server) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  void Write(Response res) {
    res.prepare_payload();
    if (req_.method() == bhttp::verb::head) {
      // HEAD: the headers of a GET, Content-Length included, and no body.
      auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    if (server_.draining_) res.keep_alive(false);
    keep_alive_ = res.keep_alive();
    status_ = res.result_int();
    res_ = std::make_shared<Response>(std::move(res));
    awaiting_ = false;
    if (watching_) {
      watching_ = false;
      beast::error_code ignored;
      stream_.socket().cancel(ignored);  // ends WatchPeer's wait
    }
    head_.clear();
    AppendResponseHead(head_, *res_);
    // A client that stops reading must not hold the connection forever.
    stream_.expires_after(std::chrono::milliseconds(server_.opts_.idle_timeout_ms));
    // The head and the body in one gather write; Beast's serializer costs several times more.
    asio::async_write(
        stream_, std::array<asio::const_buffer, 2>{asio::buffer(head_), asio::buffer(res_->body())},
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  // Hands the connection over to a WebSocket (Responder::Upgrade); this session ends.
  void Upgrade(std::function<void(std::shared_ptr<WebSocket>)> on_open) {
    beast::error_code ignored;
    awaiting_ = watching_ = false;
    stream_.socket().cancel(ignored);  // ends WatchPeer's wait
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (server_.opts_.observe) server_.opts_.observe(route_, 101, secs);
    server_.in_flight_--;
    auto conn = std::make_shared<WebSocketConn>(std::move(stream_));
    conn->Accept(req_, std::move(on_open));
  }

  const std::string& route() const { return route_; }
  std::shared_ptr<const std::atomic<bool>> peer_gone() const { return peer_gone_; }
  void set_route(std::string r) { route_ = std::move(r); }
  Strand executor() { return stream_.get_executor(); }

 private:
  void Read() {
    if (buffer_.size() == 0 && buffer_.capacity() > kIdleReadBuffer) {
      buffer_.shrink_to_fit();
      buffer_.reserve(kIdleReadBuffer);
    }
    parser_.emplace();
    parser_->body_limit(server_.opts_.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(std::chrono::milliseconds(server_.opts_.idle_timeout_ms));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    if (auto length = parser_->content_length(); length && *length > buffer_.size()) {
      buffer_.reserve(std::min<size_t>(*length, kBodyReadBuffer));
    }
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec) {
      // The request cannot be read further: answer and close the connection.
      Request dummy;
      dummy.version(11);
      dummy.keep_alive(false);
      Response res;
      if (ec == bhttp::error::body_limit) {
        res = TextResponse(dummy, Status::payload_too_large,
                           fmt::format("request body is larger than the limit of {} bytes",
                                       server_.opts_.max_body_bytes));
      } else if (ec == bhttp::error::header_limit) {
        res = TextResponse(dummy, Status::request_header_fields_too_large,
                           fmt::format("request headers exceed {} bytes", kHeaderLimit));
      } else {
        res = TextResponse(dummy, Status::bad_request,
                           fmt::format("malformed HTTP request: {}", ec.message()));
      }
      res.keep_alive(false);
      route_ = "invalid";
      start_ = std::chrono::steady_clock::now();
      server_.in_flight_++;
      return Write(std::move(res));
    }
    req_ = parser_->release();
    start_ = std::chrono::steady_clock::now();
    stream_.expires_never();  // the handler may wait on fsync; the write has its own bound
    server_.in_flight_++;
    // The previous request's flag, unless a responder still holds it.
    if (peer_gone_.use_count() == 1) {
      peer_gone_->store(false);
    } else {
      peer_gone_ = std::make_shared<std::atomic<bool>>(false);
    }
    awaiting_ = true;
    server_.Dispatch(shared_from_this(), req_);
  }

 public:
  // While the handler works, notice a client that hangs up so long queries can stop. Started
  // when a handler asks (Responder::client_gone): a wait per request costs fast handlers
  // (ingest) about a tenth of their CPU. Runs on the connection's executor.
  void WatchPeer() {
    if (!awaiting_ || watching_) return;
    watching_ = true;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(),
                                                         gone = peer_gone_](beast::error_code ec) {
      if (ec) return;  // cancelled: the response is being written
      char c = 0;
      ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) gone->store(true);
    });
  }

 private:
  void OnWrite(beast::error_code ec) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (server_.opts_.observe) server_.opts_.observe(route_, status_, secs);
    server_.in_flight_--;
    res_.reset();
    if (ec || !keep_alive_) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  Stream stream_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request req_;
  std::shared_ptr<Response> res_;
  std::string head_;  // res_'s status line and fields, being written
  bool keep_alive_ = true;
  unsigned status_ = 0;
  std::string route_;
  std::chrono::steady_clock::time_point start_;
  std::shared_ptr<std::atomic<bool>> peer_gone_ = std::make_shared<std::atomic<bool>>(false);
  bool awaiting_ = false;  // a request is with its handler (on the executor, as below)
  bool watching_ = false;  // WatchPeer's wait is pending
};

struct Responder::State {
  explicit State(std::shared_ptr<Session> s) : session(std::move(s)), gone(session->peer_gone()) {}
  ~State() {
    if (sent.exchange(true)) return;
    try {
      Request req;
      req.version(11);
      Response res = TextResponse(req, Status::internal_server_error, "request was not answered");
      auto s = session;
      asio::post(s->executor(), [s, res = std::move(res)]() mutable { s->Write(std::move(res)); });
    } catch (const std::exception& e) {
      // No memory for the 500: the session closes the connection when it goes.
      spdlog::error("msg=\"cannot answer an unanswered request\" err=\"{}\"", e.what());
    }
  }
  std::shared_ptr<Session> session;
  std::shared_ptr<const std::atomic<bool>> gone;
  std::atomic<bool> sent{false};
  std::atomic<bool> watch_requested{false};
  std::vector<std::pair<std::string, std::string>> headers;  // AddHeader's, set before sharing
};

Responder::Responder(std::shared_ptr<Session> session)
    : state_(std::make_shared<State>(std::move(session))) {}

const std::atomic<bool>* Responder::client_gone() const {
  if (!state_->watch_requested.exchange(true)) {
    auto s = state_->session;
    asio::post(s->executor(), [s] { s->WatchPeer(); });
  }
  return state_->gone.get();
}

void Responder::Upgrade(std::function<void(std::shared_ptr<WebSocket>)> on_open) const {
  if (state_->sent.exchange(true)) return;
  auto s = state_->session;
  asio::post(s->executor(),
             [s, on_open = std::move(on_open)]() mutable { s->Upgrade(std::move(on_open)); });
}

void Responder::AddHeader(std::string name, std::string value) const {
  state_->headers.emplace_back(std::move(name), std::move(value));
}

void Responder::Send(Response res) const {
  if (state_->sent.exchange(true)) return;
  for (const auto& [name, value] : state_->headers) res.set(name, value);
  auto s = state_->session;
  asio::post(s->executor(), [s, res = std::move(res)]() mutable { s->Write(std::move(res)); });
}

Server::Server(ServerOptions opts) : opts_(std::move(opts)), acceptor_(ioc_) {}

Server::~Server() { Shutdown(0); }

void Server::Route(const std::string& path, std::vector<bhttp::verb> methods, Handler handler) {
  routes_[path] = RouteEntry{std::move(methods), std::move(handler)};
}

strata::Status Server::Start() {
  std::string host = "0.0.0.0";
  std::string port_str;
  auto colon = opts_.listen.rfind(':');
  if (colon == std::string::npos) {
    return strata::Status::InvalidArgument(
        fmt::format("listen address \"{}\" must be [host]:port", opts_.listen));
  }
  if (colon > 0) host = opts_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  port_str = opts_.listen.substr(colon + 1);
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host, port_str, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return strata::Status::InvalidArgument(
        fmt::format("cannot resolve listen address \"{}\": {}", opts_.listen, ec.message()));
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return strata::Status::IOError(
        fmt::format("cannot listen on {}: {}", opts_.listen, ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  int n = opts_.threads > 0 ? opts_.threads : static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { ioc_.run(); });
  return strata::Status::Ok();
}

void Server::Accept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [this](beast::error_code ec, Stream::socket_type socket) {
                           if (ec) {
                             if (ec == asio::error::operation_aborted || !acceptor_.is_open())
                               return;
                             spdlog::warn("msg=\"accept failed\" err=\"{}\"", ec.message());
                           } else {
                             socket.set_option(tcp::no_delay(true), ec);
                             std::make_shared<Session>(std::move(socket), *this)->Start();
                           }
                           Accept();
                         });
}

void Server::Dispatch(const std::shared_ptr<Session>& session, Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  std::string path(target.substr(0, target.find('?')));
  Responder responder(session);
  auto it = routes_.find(path);
  if (it == routes_.end()) {
    // Prefix routes end in '/': the longest one that starts the path.
    for (auto p = routes_.begin(); p != routes_.end(); ++p) {
      if (p->first.size() > 1 && p->first.back() == '/' && path.starts_with(p->first) &&
          (it == routes_.end() || p->first.size() > it->first.size())) {
        it = p;
      }
    }
  }
  if (it == routes_.end()) {
    session->set_route("not_found");
    return responder.Send(
        TextResponse(req, Status::not_found, fmt::format("no handler for {}", path)));
  }
  session->set_route(it->first);
  const auto& methods = it->second.methods;
  if (std::find(methods.begin(), methods.end(), req.method()) == methods.end()) {
    Response res = TextResponse(
        req, Status::method_not_allowed,
        fmt::format("method {} is not allowed on {}", std::string(req.method_string()), path));
    std::string allow;
    for (auto m : methods) allow += (allow.empty() ? "" : ", ") + std::string(bhttp::to_string(m));
    res.set(bhttp::field::allow, allow);
    return responder.Send(std::move(res));
  }
  it->second.handler(req, responder);
}

void Server::Shutdown(int64_t timeout_ms) {
  if (stopped_) return;
  stopped_ = true;
  draining_ = true;
  asio::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (in_flight_.load() > 0) {
    spdlog::warn("msg=\"shutdown timeout reached with requests in flight\" in_flight={}",
                 in_flight_.load());
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace strata::http
