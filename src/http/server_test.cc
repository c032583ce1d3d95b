#include "http/server.h"

#include <gtest/gtest.h>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "http/client.h"

namespace strata::http {
namespace {
namespace bhttp = boost::beast::http;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions opts;
    opts.listen = "127.0.0.1:0";
    opts.threads = 2;
    opts.max_body_bytes = 1000;
    server_ = std::make_unique<Server>(opts);
    server_->Route("/echo", {bhttp::verb::post}, [](Request& req, const Responder& r) {
      r.Send(TextResponse(req, Status::ok, req.body()));
    });
    server_->Route("/later", {bhttp::verb::get, bhttp::verb::head},
                   [this](Request& req, const Responder& r) {
                     Response res = TextResponse(req, Status::accepted, "from another thread");
                     std::lock_guard lk(mu_);
                     repliers_.emplace_back([r, res]() mutable {
                       std::this_thread::sleep_for(std::chrono::milliseconds(20));
                       r.Send(std::move(res));
                     });
                   });
    server_->Route("/forgotten", {bhttp::verb::get}, [](Request&, const Responder&) {});
    // Watches for the client to hang up, then answers (to nobody) with what it saw.
    server_->Route("/watch", {bhttp::verb::get}, [this](Request& req, const Responder& r) {
      const std::atomic<bool>* gone = r.client_gone();
      std::lock_guard lk(mu_);
      repliers_.emplace_back([this, r, gone, res = TextResponse(req, Status::ok, "")]() mutable {
        for (int i = 0; i < 1000 && !gone->load(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        saw_gone_ = gone->load();
        r.Send(std::move(res));
      });
    });
    server_->Route("/headers", {bhttp::verb::get}, [](Request& req, const Responder& r) {
      r.AddHeader("Vary", "Origin");
      r.Send(TextResponse(req, Status::not_found, "any answer gets them"));
    });
    // Upgrades, then sends numbered messages from another thread and closes with 1011 and a
    // reason longer than a close frame holds.
    server_->Route("/ws", {bhttp::verb::get}, [this](Request&, const Responder& r) {
      r.Upgrade([this](const std::shared_ptr<WebSocket>& ws) {
        std::lock_guard lk(mu_);
        repliers_.emplace_back([ws] {
          for (int i = 0; i < 50; ++i) ws->Send("message " + std::to_string(i));
          ws->Close(1011, "done" + std::string(200, 'x'));  // cut to a close frame's 123
        });
      });
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    // Responders must be gone before the server is.
    for (auto& t : repliers_) t.join();
    server_->Shutdown(1000);
  }

  Request Make(bhttp::verb verb, const std::string& target, std::string body = "") {
    Request req(verb, target, 11);
    req.body() = std::move(body);
    return req;
  }

  std::unique_ptr<Server> server_;
  std::atomic<bool> saw_gone_{false};
  std::mutex mu_;
  std::vector<std::thread> repliers_;
};

TEST_F(ServerTest, RoutesMethodsAndKeepAlive) {
  Client c("127.0.0.1", std::to_string(server_->port()));
  for (int i = 0; i < 20; ++i) {
    auto res = c.Do(Make(bhttp::verb::post, "/echo?x=1", "hello " + std::to_string(i)));
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->result(), Status::ok);
    EXPECT_EQ(res->body(), "hello " + std::to_string(i) + "\n");
    EXPECT_TRUE(res->keep_alive());
  }
  auto head = c.Do(Make(bhttp::verb::head, "/later"));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_TRUE(head->body().empty());
  auto nf = c.Do(Make(bhttp::verb::get, "/nope"));
  ASSERT_TRUE(nf.ok());
  EXPECT_EQ(nf->result(), Status::not_found);
  auto bad_method = c.Do(Make(bhttp::verb::get, "/echo"));
  ASSERT_TRUE(bad_method.ok());
  EXPECT_EQ(bad_method->result(), Status::method_not_allowed);
  EXPECT_EQ((*bad_method)[bhttp::field::allow], "POST");
}

TEST_F(ServerTest, AsyncAndForgottenResponses) {
  Client c("127.0.0.1", std::to_string(server_->port()));
  auto later = c.Do(Make(bhttp::verb::get, "/later"));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->result(), Status::accepted);
  auto forgotten = c.Do(Make(bhttp::verb::get, "/forgotten"));
  ASSERT_TRUE(forgotten.ok());
  EXPECT_EQ(forgotten->result(), Status::internal_server_error);
}

TEST_F(ServerTest, HandlersThatAskLearnThatTheClientHungUp) {
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket sock(ioc);
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
    const std::string req = "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n";
    boost::asio::write(sock, boost::asio::buffer(req));
    for (int i = 0; i < 1000; ++i) {  // until the handler ran
      std::lock_guard lk(mu_);
      if (!repliers_.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }  // closed before any answer
  std::vector<std::thread> repliers;
  {
    std::lock_guard lk(mu_);
    repliers.swap(repliers_);
  }
  ASSERT_EQ(repliers.size(), 1u);
  repliers[0].join();
  EXPECT_TRUE(saw_gone_.load());
  // The connection still serves requests whose handlers never ask.
  Client c("127.0.0.1", std::to_string(server_->port()));
  auto res = c.Do(Make(bhttp::verb::get, "/headers"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->result(), Status::not_found);
  EXPECT_EQ((*res)[bhttp::field::vary], "Origin");
}

TEST_F(ServerTest, OversizedBodyGets413) {
  Client c("127.0.0.1", std::to_string(server_->port()));
  auto res = c.Do(Make(bhttp::verb::post, "/echo", std::string(5000, 'x')));
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->result(), Status::payload_too_large);
  // The next request works on a new connection.
  auto ok = c.Do(Make(bhttp::verb::post, "/echo", "small"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->result(), Status::ok);
}

// A body far larger than the idle read buffer, then a chunked one (no Content-Length), written
// back to back on one connection before either answer: both arrive whole.
TEST(ServerBodies, LargeThenChunkedBodiesOnOneConnection) {
  ServerOptions opts;
  opts.listen = "127.0.0.1:0";
  opts.threads = 1;
  opts.max_body_bytes = 1 << 20;
  Server server(opts);
  server.Route("/sum", {bhttp::verb::post}, [](Request& req, const Responder& r) {
    uint64_t sum = 0;
    for (unsigned char c : req.body()) sum += c;
    r.Send(TextResponse(req, Status::ok,
                        std::to_string(req.body().size()) + " " + std::to_string(sum)));
  });
  ASSERT_TRUE(server.Start().ok());
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket sock(io);
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
    std::string large(300'000, '\0');
    uint64_t want = 0;
    for (size_t i = 0; i < large.size(); ++i) {
      large[i] = static_cast<char>(i * 7 % 251);
      want += static_cast<unsigned char>(large[i]);
    }
    Request first(bhttp::verb::post, "/sum", 11);
    first.body() = large;
    first.prepare_payload();
    std::string wire;
    {
      std::ostringstream os;
      os << first;
      wire = os.str();
    }
    wire +=
        "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    boost::asio::write(sock, boost::asio::buffer(wire));
    boost::beast::flat_buffer buf;
    Response a, b;
    bhttp::read(sock, buf, a);
    bhttp::read(sock, buf, b);
    EXPECT_EQ(a.body(), "300000 " + std::to_string(want) + "\n");
    EXPECT_EQ(b.body(), "5 " + std::to_string('a' + 'b' + 'c' + 'd' + 'e') + "\n");
  }
  server.Shutdown(1000);
}

TEST_F(ServerTest, ManyConcurrentConnections) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  threads.reserve(16);
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      Client c("127.0.0.1", std::to_string(server_->port()));
      for (int i = 0; i < 25; ++i) {
        auto res = c.Do(Make(bhttp::verb::post, "/echo", "x"));
        if (res.ok() && res->result() == Status::ok) ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 16 * 25);
}

// The head Session writes is byte for byte what Beast's serializer writes for the response.
TEST(ResponseHead, AsBeastWritesIt) {
  std::vector<Response> cases;
  Request req;
  req.version(11);
  cases.push_back(TextResponse(req, Status::ok, "hello"));
  Response accepted(Status::accepted, 11);
  accepted.keep_alive(false);
  accepted.set(bhttp::field::access_control_allow_origin, "https://shop.example");
  accepted.insert(bhttp::field::vary, "Origin");
  accepted.insert(bhttp::field::vary, "Accept-Encoding");
  accepted.set("X-Custom", "a: b");
  cases.push_back(accepted);
  Response old(Status::no_content, 10);
  old.keep_alive(true);
  cases.push_back(old);
  Response custom(Status::not_found, 11);
  custom.reason("Nowhere To Be Found");
  custom.body() = "{}";
  cases.push_back(custom);
  Response unknown(static_cast<Status>(299), 11);
  cases.push_back(unknown);
  for (auto& res : cases) {
    res.prepare_payload();
    std::ostringstream beast;
    beast << res;
    std::string ours;
    AppendResponseHead(ours, res);
    ours += res.body();
    EXPECT_EQ(ours, beast.str());
  }
}

TEST(UrlTest, Parse) {
  auto u = ParseUrl("http://127.0.0.1:9009/api/v1/push").value();
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "9009");
  EXPECT_EQ(u.target, "/api/v1/push");
  EXPECT_EQ(ParseUrl("http://[::1]:80").value().host, "::1");
  EXPECT_EQ(ParseUrl("http://example").value().port, "80");
  EXPECT_FALSE(ParseUrl("https://x").ok());
}

}  // namespace
}  // namespace strata::http

namespace strata::http {
namespace {

// An upgraded connection gets every message sent, in order, then the close frame's code
// and reason; the server answers plain requests on other connections meanwhile.
TEST_F(ServerTest, UpgradesToAWebSocket) {
  namespace ws = boost::beast::websocket;
  boost::asio::io_context ioc;
  ws::stream<boost::beast::tcp_stream> conn(ioc);
  boost::beast::get_lowest_layer(conn).connect(
      {boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  conn.handshake("127.0.0.1", "/ws");
  boost::beast::flat_buffer buf;
  for (int i = 0; i < 50; ++i) {
    conn.read(buf);
    EXPECT_EQ(boost::beast::buffers_to_string(buf.data()), "message " + std::to_string(i));
    buf.consume(buf.size());
  }
  boost::beast::error_code ec;
  conn.read(buf, ec);
  EXPECT_EQ(ec, ws::error::closed);
  EXPECT_EQ(conn.reason().code, 1011);
  EXPECT_EQ(std::string_view(conn.reason().reason.data(), conn.reason().reason.size()),
            "done" + std::string(119, 'x'));
  Client c("127.0.0.1", std::to_string(server_->port()));
  auto res = c.Do(Make(bhttp::verb::post, "/echo", "still here"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body(), "still here\n");
}

}  // namespace
}  // namespace strata::http
