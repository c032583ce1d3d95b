#include "testing/synthetic_traces.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "base/coding.h"
#include "proto/wire.h"

namespace strata::testing {
namespace {

using proto::PutBytesField;
using proto::PutFixed32Field;
using proto::PutFixed64Field;
using proto::PutVarintField;

// OTLP field numbers (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto).
enum SpanKind : int { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };

std::string AnyString(std::string_view v) {
  std::string any;
  PutBytesField(any, 1, v);
  return any;
}
std::string AnyInt(int64_t v) {
  std::string any;
  PutVarintField(any, 3, static_cast<uint64_t>(v));
  return any;
}
std::string AnyBool(bool v) {
  std::string any;
  PutVarintField(any, 2, v ? 1 : 0);
  return any;
}
std::string AnyDouble(double v) {
  std::string any;
  proto::PutDoubleField(any, 4, v);
  return any;
}

// Appends a KeyValue as field `field` of the message in `out`.
void PutAttr(std::string& out, uint32_t field, std::string_view key, std::string_view any) {
  std::string kv;
  PutBytesField(kv, 1, key);
  PutBytesField(kv, 2, any);
  PutBytesField(out, field, kv);
}

// Instrumentation libraries, as the demo's SDKs name them.
enum Scope : int { kHttp, kGrpc, kRedis, kKafka, kManual, kScopes };

constexpr std::array<std::string_view, 10> kProducts = {
    "OLJCESPC7Z", "66VCHSJNUP", "1YMWWN1N4O", "L9ECAV7KIM", "2ZYFJ3GM2N",
    "0PUK6V6EV0", "LS4PSXUNUM", "9SIQT8TOJO", "6E92ZMYYFZ", "HQTGWGPNH4"};
constexpr std::array<std::string_view, 6> kCurrencies = {"USD", "EUR", "CAD", "JPY", "GBP", "TRY"};
constexpr std::array<std::string_view, 4> kAgents = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "python-requests/2.31.0"};

enum Svc : size_t {
  kProxy,
  kFrontend,
  kProductCatalog,
  kRecommendation,
  kAd,
  kCart,
  kCheckout,
  kCurrency,
  kPayment,
  kShipping,
  kQuote,
  kEmail,
  kAccounting,
  kFraud,
  kServices
};

}  // namespace

struct SyntheticTraces::Impl {
  struct Service {
    std::string name, language, version;
    std::array<std::string, kScopes> scopes;  // instrumentation scope names by Scope
    std::string scope_version;
    std::vector<std::string> resources;  // serialized Resource, one per instance
  };

  struct SpanRec {
    size_t service = 0, instance = 0;
    int scope = kManual;  // a Scope
    std::string id, parent;
    std::string name;
    int kind = kInternal;
    int64_t start = 0, end = 0;
    std::string attrs, events;  // serialized Span fields 9 and 11
    bool error = false;
    std::string status_message;
    bool remote_parent = false;
  };

  Impl(uint64_t seed, uint64_t stream) : rng(seed) {
    MakeServices();
    if (stream != 0) rng.seed(seed ^ (stream * 0x9E3779B97F4A7C15));
  }

  std::mt19937_64 rng;
  std::vector<Service> services;
  std::vector<std::string> sessions;  // user IDs, reused across traces as real users return
  // This trace's state.
  std::vector<SpanRec> spans;
  std::array<size_t, kServices> instance{};
  std::string trace_id;
  bool failing = false;  // the checkout's payment fails in this trace

  std::string RandomBytes(size_t n) {
    std::string out(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = rng();
      for (size_t j = i; j < n && j < i + 8; ++j) out[j] = static_cast<char>(r >> (8 * (j - i)));
    }
    return out;
  }
  std::string Hex(size_t bytes) {
    std::string raw = RandomBytes(bytes), out;
    for (unsigned char c : raw) out += fmt::format("{:02x}", c);
    return out;
  }
  std::string Uuid() {
    std::string h = Hex(16);
    return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                       h.substr(16, 4), h.substr(20));
  }
  uint64_t Below(uint64_t n) { return rng() % n; }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  // A log-normal duration in ns with this median (µs).
  int64_t Latency(double median_us, double sigma = 0.6) {
    double us = median_us * std::exp(sigma * std::normal_distribution<double>(0, 1)(rng));
    return static_cast<int64_t>(us * 1000) + 1000;
  }

  void AddService(Svc svc, std::string name, std::string language, const std::string& sdk_version,
                  std::array<std::string, kScopes> scopes, std::string scope_version,
                  int instances) {
    Service s{std::move(name),   std::move(language),      "2.0.2",
              std::move(scopes), std::move(scope_version), {}};
    for (int i = 0; i < instances; ++i) {
      std::string r;
      std::string pod = fmt::format("{}-{}-{}", s.name, Hex(5).substr(0, 10), Hex(3).substr(0, 5));
      PutAttr(r, 1, "service.name", AnyString(s.name));
      PutAttr(r, 1, "service.namespace", AnyString("opentelemetry-demo"));
      PutAttr(r, 1, "service.version", AnyString(s.version));
      PutAttr(r, 1, "service.instance.id", AnyString(Uuid()));
      PutAttr(r, 1, "deployment.environment.name", AnyString("production"));
      PutAttr(r, 1, "telemetry.sdk.language", AnyString(s.language));
      PutAttr(r, 1, "telemetry.sdk.name", AnyString("opentelemetry"));
      PutAttr(r, 1, "telemetry.sdk.version", AnyString(sdk_version));
      PutAttr(r, 1, "host.name", AnyString(pod));
      PutAttr(r, 1, "host.arch", AnyString("amd64"));
      PutAttr(r, 1, "os.type", AnyString("linux"));
      PutAttr(r, 1, "process.pid", AnyInt(1 + static_cast<int64_t>(Below(30))));
      PutAttr(r, 1, "container.id", AnyString(Hex(32)));
      PutAttr(r, 1, "k8s.namespace.name", AnyString("otel-demo"));
      PutAttr(r, 1, "k8s.deployment.name", AnyString(s.name));
      PutAttr(r, 1, "k8s.pod.name", AnyString(pod));
      PutAttr(r, 1, "k8s.pod.uid", AnyString(Uuid()));
      PutAttr(r, 1, "k8s.node.name", AnyString(fmt::format("node-{}", Below(6))));
      s.resources.push_back(std::move(r));
    }
    services[svc] = std::move(s);
  }

  void MakeServices() {
    services.resize(kServices);
    const std::string otel_js = "@opentelemetry/instrumentation-";
    AddService(kProxy, "frontend-proxy", "cpp", "1.31.0",
               {"envoy", "envoy", "envoy", "envoy", "envoy"}, "", 2);
    AddService(
        kFrontend, "frontend", "nodejs", "1.25.1",
        {otel_js + "http", otel_js + "grpc", otel_js + "ioredis", otel_js + "kafkajs", "frontend"},
        "0.52.1", 3);
    AddService(kProductCatalog, "product-catalog", "go", "1.32.0",
               {"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "",
                "", "product-catalog"},
               "0.57.0", 2);
    AddService(kRecommendation, "recommendation", "python", "1.29.0",
               {"opentelemetry.instrumentation.flask", "opentelemetry.instrumentation.grpc", "", "",
                "recommendation"},
               "0.50b0", 2);
    AddService(kAd, "ad", "java", "1.45.0",
               {"io.opentelemetry.http-url-connection", "io.opentelemetry.grpc-1.6", "", "", "ad"},
               "2.11.0-alpha", 1);
    AddService(kCart, "cart", "dotnet", "1.10.0",
               {"Microsoft.AspNetCore", "Grpc.Net.Client",
                "OpenTelemetry.Instrumentation.StackExchangeRedis", "", "cart"},
               "1.0.0-rc9.15", 2);
    AddService(kCheckout, "checkout", "go", "1.32.0",
               {"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "",
                "github.com/IBM/sarama/otelsarama", "checkout"},
               "0.57.0", 2);
    AddService(kCurrency, "currency", "cpp", "1.18.0",
               {"", "opentelemetry-cpp-grpc", "", "", "currency"}, "1.18.0", 1);
    AddService(kPayment, "payment", "nodejs", "1.25.1",
               {otel_js + "http", otel_js + "grpc", "", "", "payment"}, "0.52.1", 2);
    AddService(kShipping, "shipping", "rust", "0.27.0",
               {"opentelemetry-http", "opentelemetry-tonic", "", "", "shipping"}, "0.27.0", 1);
    AddService(kQuote, "quote", "php", "1.1.0",
               {"io.opentelemetry.contrib.php.slim", "", "", "", "quote"}, "1.1.0", 1);
    AddService(kEmail, "email", "ruby", "1.4.0",
               {"OpenTelemetry::Instrumentation::Sinatra", "", "", "", "email"}, "0.24.0", 1);
    AddService(kAccounting, "accounting", "dotnet", "1.10.0",
               {"", "", "", "Confluent.Kafka.Extensions.Diagnostics", "accounting"}, "1.0.0", 1);
    AddService(kFraud, "fraud-detection", "java", "1.45.0",
               {"", "", "", "io.opentelemetry.kafka-clients-0.11", "fraud-detection"},
               "2.11.0-alpha", 1);
    for (int i = 0; i < 1000; ++i) sessions.push_back(Uuid());
  }

  size_t Begin(Svc svc, Scope scope, int64_t parent, std::string name, int kind, int64_t start) {
    SpanRec s;
    s.service = svc;
    s.instance = instance[svc];
    s.scope = scope;
    s.id = RandomBytes(8);
    if (parent >= 0) {
      s.parent = spans[static_cast<size_t>(parent)].id;
      s.remote_parent = spans[static_cast<size_t>(parent)].service != svc;
    }
    s.name = std::move(name);
    s.kind = kind;
    s.start = start;
    s.end = start;
    spans.push_back(std::move(s));
    return spans.size() - 1;
  }
  SpanRec& At(size_t i) { return spans[i]; }

  void Fail(size_t i, std::string_view type, std::string_view message) {
    SpanRec& s = spans[i];
    s.error = true;
    s.status_message = std::string(message);
    std::string ev;
    PutFixed64Field(ev, 1, static_cast<uint64_t>(s.end));
    PutBytesField(ev, 2, "exception");
    PutAttr(ev, 3, "exception.type", AnyString(type));
    PutAttr(ev, 3, "exception.message", AnyString(message));
    PutAttr(ev, 3, "exception.stacktrace",
            AnyString(fmt::format("{}: {}\n    at Charge (/usr/src/app/charge.js:37:13)\n    at "
                                  "Object.chargeServiceHandler [as charge] "
                                  "(/usr/src/app/index.js:21:28)\n    at "
                                  "/usr/src/app/node_modules/@grpc/grpc-js/build/src/"
                                  "server.js:1391:13",
                                  type, message)));
    PutBytesField(s.events, 11, ev);
  }

  // A gRPC call from `caller` (a span of `from`) to `method` of `to`; `body` does the server's
  // work from its start and returns when it ends. Returns the client span's end.
  template <typename Body>
  int64_t Grpc(int64_t caller, Svc from, Svc to, std::string_view rpc_service,
               std::string_view method, int64_t start, Body body) {
    std::string name = fmt::format("oteldemo.{}/{}", rpc_service, method);
    size_t client = Begin(from, kGrpc, caller, name, kClient, start);
    int64_t server_start = start + Latency(150, 0.4);
    size_t server = Begin(to, kGrpc, static_cast<int64_t>(client), name, kServer, server_start);
    int64_t server_end = body(server, server_start + Latency(20));
    bool failed = At(server).error;
    At(server).end = server_end;
    At(client).end = server_end + Latency(120, 0.4);
    for (size_t i : {client, server}) {
      std::string& a = At(i).attrs;
      PutAttr(a, 9, "rpc.system", AnyString("grpc"));
      PutAttr(a, 9, "rpc.service", AnyString(fmt::format("oteldemo.{}", rpc_service)));
      PutAttr(a, 9, "rpc.method", AnyString(method));
      PutAttr(a, 9, "rpc.grpc.status_code", AnyInt(failed ? 2 : 0));
    }
    PutAttr(At(client).attrs, 9, "server.address", AnyString(services[to].name));
    PutAttr(At(client).attrs, 9, "server.port", AnyInt(8080));
    PutAttr(At(server).attrs, 9, "client.address",
            AnyString(fmt::format("10.42.{}.{}", Below(4), 2 + Below(250))));
    if (failed) {
      At(client).error = true;
      At(client).status_message = At(server).status_message;
    }
    return At(client).end;
  }

  // An HTTP call from `caller` to `route` of `to`, as the grpc call above.
  template <typename Body>
  int64_t Http(int64_t caller, Svc from, Svc to, std::string_view method, std::string_view route,
               std::string_view path, int64_t start, Body body) {
    size_t client = Begin(from, kHttp, caller, std::string(method), kClient, start);
    int64_t server_start = start + Latency(300, 0.4);
    size_t server = Begin(to, kHttp, static_cast<int64_t>(client),
                          fmt::format("{} {}", method, route), kServer, server_start);
    int64_t server_end = body(server, server_start + Latency(40));
    At(server).end = server_end;
    At(client).end = server_end + Latency(200, 0.4);
    int status = At(server).error ? 500 : 200;
    std::string url = fmt::format("http://{}:8080{}", services[to].name, path);
    std::string& c = At(client).attrs;
    PutAttr(c, 9, "http.request.method", AnyString(method));
    PutAttr(c, 9, "url.full", AnyString(url));
    PutAttr(c, 9, "server.address", AnyString(services[to].name));
    PutAttr(c, 9, "server.port", AnyInt(8080));
    PutAttr(c, 9, "network.protocol.version", AnyString("1.1"));
    PutAttr(c, 9, "http.response.status_code", AnyInt(status));
    std::string& s = At(server).attrs;
    PutAttr(s, 9, "http.request.method", AnyString(method));
    PutAttr(s, 9, "http.route", AnyString(route));
    PutAttr(s, 9, "url.path", AnyString(path));
    PutAttr(s, 9, "url.scheme", AnyString("http"));
    PutAttr(s, 9, "http.response.status_code", AnyInt(status));
    PutAttr(s, 9, "network.peer.address",
            AnyString(fmt::format("10.42.{}.{}", Below(4), 2 + Below(250))));
    PutAttr(s, 9, "user_agent.original", AnyString("node-fetch/1.0"));
    if (status == 500) At(client).error = true;
    return At(client).end;
  }

  int64_t Redis(int64_t caller, std::string_view command, std::string_view key, int64_t start) {
    size_t i = Begin(kCart, kRedis, caller, std::string(command), kClient, start);
    At(i).end = start + Latency(300, 0.5);
    std::string& a = At(i).attrs;
    PutAttr(a, 9, "db.system", AnyString("redis"));
    PutAttr(a, 9, "db.query.text", AnyString(fmt::format("{} {} ?", command, key)));
    PutAttr(a, 9, "db.namespace", AnyString("0"));
    PutAttr(a, 9, "server.address", AnyString("valkey-cart"));
    PutAttr(a, 9, "server.port", AnyInt(6379));
    return At(i).end;
  }

  int64_t GetProduct(int64_t caller, Svc from, std::string_view product, int64_t start) {
    return Grpc(caller, from, kProductCatalog, "ProductCatalogService", "GetProduct", start,
                [&](size_t server, int64_t t) {
                  PutAttr(At(server).attrs, 9, "app.product.id", AnyString(product));
                  PutAttr(At(server).attrs, 9, "app.product.name",
                          AnyString(fmt::format("Product {}", product.substr(0, 4))));
                  return t + Latency(400);
                });
  }

  int64_t Convert(int64_t caller, std::string_view to_currency, int64_t start) {
    return Grpc(caller, kCheckout, kCurrency, "CurrencyService", "Convert", start,
                [&](size_t server, int64_t t) {
                  PutAttr(At(server).attrs, 9, "app.currency.conversion.from", AnyString("USD"));
                  PutAttr(At(server).attrs, 9, "app.currency.conversion.to",
                          AnyString(to_currency));
                  return t + Latency(80);
                });
  }

  // Browsing: a product page with its recommendations and ads.
  int64_t Browse(size_t root, int64_t t) {
    std::string_view product = kProducts[Below(kProducts.size())];
    t = GetProduct(static_cast<int64_t>(root), kFrontend, product, t);
    t = Grpc(static_cast<int64_t>(root), kFrontend, kRecommendation, "RecommendationService",
             "ListRecommendations", t, [&](size_t server, int64_t s) {
               int64_t end =
                   Grpc(static_cast<int64_t>(server), kRecommendation, kProductCatalog,
                        "ProductCatalogService", "ListProducts", s, [&](size_t inner, int64_t u) {
                          PutAttr(At(inner).attrs, 9, "app.products.count",
                                  AnyInt(static_cast<int64_t>(kProducts.size())));
                          return u + Latency(900);
                        });
               PutAttr(At(server).attrs, 9, "app.products_recommended.count",
                       AnyInt(static_cast<int64_t>(1 + Below(5))));
               return end + Latency(200);
             });
    t = Grpc(static_cast<int64_t>(root), kFrontend, kAd, "AdService", "GetAds", t,
             [&](size_t server, int64_t s) {
               PutAttr(At(server).attrs, 9, "app.ads.contextKeys",
                       AnyString(Chance(0.5) ? "[binoculars]" : "[telescopes, accessories]"));
               PutAttr(At(server).attrs, 9, "app.ads.count", AnyInt(1));
               PutAttr(At(server).attrs, 9, "app.ads.ad_request_type",
                       AnyString(Chance(0.7) ? "TARGETED" : "NOT_TARGETED"));
               return s + Latency(1500);
             });
    return t;
  }

  // Adding to the cart: the product, then the cart's Redis hash.
  int64_t AddToCart(size_t root, int64_t t, std::string_view user) {
    std::string_view product = kProducts[Below(kProducts.size())];
    t = GetProduct(static_cast<int64_t>(root), kFrontend, product, t);
    return Grpc(static_cast<int64_t>(root), kFrontend, kCart, "CartService", "AddItem", t,
                [&](size_t server, int64_t s) {
                  PutAttr(At(server).attrs, 9, "app.user.id", AnyString(user));
                  PutAttr(At(server).attrs, 9, "app.product.id", AnyString(product));
                  PutAttr(At(server).attrs, 9, "app.product.quantity",
                          AnyInt(static_cast<int64_t>(1 + Below(5))));
                  s = Redis(static_cast<int64_t>(server), "HGET", user, s);
                  s = Redis(static_cast<int64_t>(server), "HSET", user, s + Latency(30));
                  s = Redis(static_cast<int64_t>(server), "EXPIRE", user, s + Latency(30));
                  return s + Latency(100);
                });
  }

  // A checkout: the cart, prices, a shipping quote, the payment, shipping, the confirmation
  // mail, and the order published to Kafka for accounting and fraud detection.
  int64_t Checkout(size_t root, int64_t t, std::string_view user) {
    std::string currency(kCurrencies[Below(kCurrencies.size())]);
    int items = 1 + static_cast<int>(Below(4));
    std::string order = Uuid();
    return Grpc(
        static_cast<int64_t>(root), kFrontend, kCheckout, "CheckoutService", "PlaceOrder", t,
        [&](size_t po, int64_t s) {
          const auto at = static_cast<int64_t>(po);
          PutAttr(At(po).attrs, 9, "app.user.id", AnyString(user));
          PutAttr(At(po).attrs, 9, "app.user.currency", AnyString(currency));
          size_t prep = Begin(kCheckout, kManual, at, "prepareOrderItemsAndShippingQuoteFromCart",
                              kInternal, s);
          const auto in = static_cast<int64_t>(prep);
          s = Grpc(in, kCheckout, kCart, "CartService", "GetCart", s, [&](size_t c, int64_t u) {
            PutAttr(At(c).attrs, 9, "app.user.id", AnyString(user));
            PutAttr(At(c).attrs, 9, "app.cart.items.count", AnyInt(items));
            return Redis(static_cast<int64_t>(c), "HGET", user, u) + Latency(60);
          });
          for (int i = 0; i < items; ++i) {
            s = GetProduct(in, kCheckout, kProducts[Below(kProducts.size())], s);
            s = Convert(in, currency, s);
          }
          s = Grpc(in, kCheckout, kShipping, "ShippingService", "GetQuote", s,
                   [&](size_t q, int64_t u) {
                     u = Http(static_cast<int64_t>(q), kShipping, kQuote, "POST", "/getquote",
                              "/getquote", u, [&](size_t h, int64_t v) {
                                PutAttr(At(h).attrs, 9, "app.quote.items.count", AnyInt(items));
                                PutAttr(At(h).attrs, 9, "app.quote.cost.total",
                                        AnyDouble(static_cast<double>(Below(10000)) / 100));
                                return v + Latency(2000);
                              });
                     PutAttr(At(q).attrs, 9, "app.shipping.items.count", AnyInt(items));
                     return u + Latency(100);
                   });
          At(prep).end = s + Latency(30);
          s = At(prep).end;
          s = Grpc(at, kCheckout, kPayment, "PaymentService", "Charge", s,
                   [&](size_t p, int64_t u) {
                     PutAttr(At(p).attrs, 9, "app.payment.card_type",
                             AnyString(Chance(0.5) ? "visa" : "mastercard"));
                     PutAttr(At(p).attrs, 9, "app.payment.card_valid", AnyBool(true));
                     PutAttr(At(p).attrs, 9, "app.loyalty.level",
                             AnyString(Chance(0.2) ? "gold" : "silver"));
                     At(p).end = u + Latency(3000);
                     if (failing) {
                       Fail(p, "Error",
                            "Payment request failed. Invalid token. "
                            "app.loyalty.level=gold");
                     } else {
                       PutAttr(At(p).attrs, 9, "app.payment.charged", AnyBool(true));
                     }
                     return At(p).end;
                   });
          if (failing) {
            At(po).end = s + Latency(50);
            Fail(po, "Error", "failed to charge card: could not charge the card");
            return At(po).end;
          }
          s = Grpc(at, kCheckout, kShipping, "ShippingService", "ShipOrder", s,
                   [&](size_t q, int64_t u) {
                     PutAttr(At(q).attrs, 9, "app.shipping.tracking.id", AnyString(Uuid()));
                     return u + Latency(300);
                   });
          s = Grpc(at, kCheckout, kCart, "CartService", "EmptyCart", s, [&](size_t c, int64_t u) {
            PutAttr(At(c).attrs, 9, "app.user.id", AnyString(user));
            return Redis(static_cast<int64_t>(c), "DEL", user, u) + Latency(40);
          });
          s = Http(at, kCheckout, kEmail, "POST", "/send_order_confirmation",
                   "/send_order_confirmation", s, [&](size_t h, int64_t v) {
                     PutAttr(At(h).attrs, 9, "app.order.id", AnyString(order));
                     return v + Latency(5000);
                   });
          size_t pub = Begin(kCheckout, kKafka, at, "orders publish", kProducer, s);
          At(pub).end = s + Latency(400);
          for (size_t i : {pub}) {
            PutAttr(At(i).attrs, 9, "messaging.system", AnyString("kafka"));
            PutAttr(At(i).attrs, 9, "messaging.destination.name", AnyString("orders"));
            PutAttr(At(i).attrs, 9, "messaging.operation.type", AnyString("publish"));
          }
          for (Svc consumer : {kAccounting, kFraud}) {
            int64_t start = At(pub).end + Latency(20000, 1.0);
            size_t c = Begin(consumer, kKafka, static_cast<int64_t>(pub), "orders process",
                             kConsumer, start);
            At(c).end = start + Latency(1500);
            PutAttr(At(c).attrs, 9, "messaging.system", AnyString("kafka"));
            PutAttr(At(c).attrs, 9, "messaging.destination.name", AnyString("orders"));
            PutAttr(At(c).attrs, 9, "messaging.operation.type", AnyString("process"));
            PutAttr(At(c).attrs, 9, "messaging.kafka.message.offset",
                    AnyInt(static_cast<int64_t>(rng() % 10'000'000)));
            PutAttr(At(c).attrs, 9, "app.order.id", AnyString(order));
          }
          PutAttr(At(po).attrs, 9, "app.order.id", AnyString(order));
          PutAttr(At(po).attrs, 9, "app.order.items.count", AnyInt(items));
          return At(pub).end + Latency(100);
        });
  }

  SyntheticTrace Next(int64_t start_ns) {
    spans.clear();
    trace_id = RandomBytes(16);
    for (size_t s = 0; s < kServices; ++s) instance[s] = Below(services[s].resources.size());
    std::string user = sessions[Below(sessions.size())];
    uint64_t flow = Below(10);
    failing = flow == 0 && Chance(0.2);  // 2% of all traces
    std::string route = flow == 0   ? "/api/checkout"
                        : flow <= 3 ? "/api/cart"
                                    : "/api/products/[productId]";
    std::string method = flow <= 3 ? "POST" : "GET";
    std::string path =
        flow <= 3 ? route : fmt::format("/api/products/{}", kProducts[Below(kProducts.size())]);
    size_t proxy = Begin(kProxy, kHttp, -1, "ingress", kServer, start_ns);
    size_t root = Begin(kFrontend, kHttp, static_cast<int64_t>(proxy),
                        fmt::format("{} {}", method, route), kServer, start_ns + Latency(400));
    int64_t t = At(root).start + Latency(300);
    t = flow == 0   ? Checkout(root, t, user)
        : flow <= 3 ? AddToCart(root, t, user)
                    : Browse(root, t);
    At(root).end = t + Latency(200);
    At(proxy).end = At(root).end + Latency(300);
    int status = failing ? 500 : 200;
    for (size_t i : {proxy, root}) {
      std::string& a = At(i).attrs;
      PutAttr(a, 9, "http.request.method", AnyString(method));
      PutAttr(a, 9, "url.path", AnyString(path));
      PutAttr(a, 9, "http.response.status_code", AnyInt(status));
      PutAttr(a, 9, "user_agent.original", AnyString(kAgents[Below(kAgents.size())]));
      PutAttr(a, 9, "client.address",
              AnyString(fmt::format("{}.{}.{}.{}", 1 + Below(223), Below(256), Below(256),
                                    1 + Below(254))));
      if (failing) At(i).error = true;
    }
    PutAttr(At(proxy).attrs, 9, "upstream_cluster", AnyString("frontend"));
    PutAttr(At(proxy).attrs, 9, "guid:x-request-id", AnyString(Uuid()));
    PutAttr(At(root).attrs, 9, "http.route", AnyString(route));
    PutAttr(At(root).attrs, 9, "app.session.id", AnyString(user));
    return Serialize();
  }

  // The trace as TracesData: a ResourceSpans per service instance in order of first span, a
  // ScopeSpans per instrumentation scope.
  SyntheticTrace Serialize() {
    SyntheticTrace out;
    out.id = trace_id;
    out.spans = spans.size();
    out.start_ns = spans[0].start;
    out.end_ns = spans[0].end;
    std::vector<size_t> order;  // service indexes in order of first span
    for (const SpanRec& s : spans) {
      out.start_ns = std::min(out.start_ns, s.start);
      out.end_ns = std::max(out.end_ns, s.end);
      if (std::find(order.begin(), order.end(), s.service) == order.end()) {
        order.push_back(s.service);
      }
    }
    for (size_t svc : order) {
      const Service& service = services[svc];
      std::string rs;
      PutBytesField(rs, 1, service.resources[instance[svc]]);
      for (int scope = 0; scope < kScopes; ++scope) {
        std::string ss, sc;
        PutBytesField(sc, 1, service.scopes[scope]);
        if (!service.scope_version.empty()) PutBytesField(sc, 2, service.scope_version);
        PutBytesField(ss, 1, sc);
        bool any = false;
        for (const SpanRec& s : spans) {
          if (s.service != svc || s.scope != scope) continue;
          any = true;
          std::string span;
          PutBytesField(span, 1, trace_id);
          PutBytesField(span, 2, s.id);
          if (!s.parent.empty()) PutBytesField(span, 4, s.parent);
          PutBytesField(span, 5, s.name);
          PutVarintField(span, 6, static_cast<uint64_t>(s.kind));
          PutFixed64Field(span, 7, static_cast<uint64_t>(s.start));
          PutFixed64Field(span, 8, static_cast<uint64_t>(s.end));
          span += s.attrs;
          span += s.events;
          if (s.error) {
            std::string status;
            if (!s.status_message.empty()) PutBytesField(status, 2, s.status_message);
            PutVarintField(status, 3, 2);  // STATUS_CODE_ERROR
            PutBytesField(span, 15, status);
          }
          // Flags: sampled, with whether the parent was remote (HAS_IS_REMOTE, IS_REMOTE).
          PutFixed32Field(span, 16, s.remote_parent ? 0x301 : 0x101);
          PutBytesField(ss, 2, span);
        }
        if (any) {
          PutBytesField(ss, 3, "https://opentelemetry.io/schemas/1.24.0");
          PutBytesField(rs, 2, ss);
        }
      }
      PutBytesField(out.traces_data, 1, rs);
    }
    return out;
  }
};

SyntheticTraces::SyntheticTraces(uint64_t seed, uint64_t stream)
    : impl_(std::make_unique<Impl>(seed, stream)) {}
SyntheticTraces::~SyntheticTraces() = default;

SyntheticTrace SyntheticTraces::Next(int64_t start_ns) { return impl_->Next(start_ns); }

}  // namespace strata::testing
