#include "api/tempo_api.h"

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <optional>

#include "api/request.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/labels.h"
#include "http/status_map.h"
#include "proto/otlp_traces.h"
#include "proto/wire.h"

namespace strata::api {
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kProtobuf = "application/protobuf";

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A Unix-seconds parameter as Go's strconv.ParseInt reads it, with its error text.
Result<std::optional<int64_t>> SecondsParam(const Params& p, std::string_view key) {
  auto v = p.Get(key);
  if (!v || v->empty()) return std::optional<int64_t>();
  // Go's ParseInt takes one sign, '+' included, which from_chars does not.
  std::string_view digits = *v;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) {
    return std::optional<int64_t>(out);
  }
  return Status::InvalidArgument(
      fmt::format("invalid {}: strconv.ParseInt: parsing {}: {}", key, GoQuote(*v),
                  ec == std::errc::result_out_of_range ? "value out of range" : "invalid syntax"));
}

}  // namespace

Result<std::string> ParseTraceId(std::string_view hex) {
  for (size_t i = 0; i < hex.size(); ++i) {
    if (!IsHexDigit(hex[i])) {
      return Status::InvalidArgument(fmt::format(
          "trace IDs can only contain hex characters: invalid character '{}' at position {}",
          hex[i], i + 1));
    }
  }
  std::string digits = hex.size() % 2 == 1 ? "0" + std::string(hex) : std::string(hex);
  std::string id;
  (void)HexDecode(digits, &id);  // every digit was checked above
  if (id.size() > proto::kTraceIdSize) {
    return Status::InvalidArgument("trace IDs can't be larger than 128 bits");
  }
  return std::string(proto::kTraceIdSize - id.size(), '\0') + id;
}

// One Tempo API call on its way through a query thread. Errors are plain text, as Tempo's.
struct TempoApi::Call : ApiRequest {
  explicit Call(http::Responder r) : ApiRequest(std::move(r)) {}
  void SendError() override {
    Send(http::StatusFor(error), std::string(error.message()), "text/plain; charset=utf-8");
  }
  bool protobuf = false;  // Accept names application/protobuf
};

void TempoApi::Register(http::Server& server) {
  auto trace_route = [&](const std::string& path, bool v2) {
    server.Route(path, {bhttp::verb::get},
                 [this, v2](http::Request& req, const http::Responder& r) {
                   auto c = std::make_shared<Call>(r);
                   auto accept = req[bhttp::field::accept];
                   c->protobuf = std::string_view(accept.data(), accept.size()).find(kProtobuf) !=
                                 std::string_view::npos;
                   Dispatch(scheduler_, tenants_, req, c, [this, c, v2] { TraceById(*c, v2); });
                 });
  };
  trace_route("/api/traces/", false);
  trace_route("/api/v2/traces/", true);
  server.Route("/api/echo", {bhttp::verb::get, bhttp::verb::post, bhttp::verb::head},
               [](http::Request& req, const http::Responder& r) {
                 r.Send(http::TextResponse(req, http::Status::ok, "echo\n"));
               });
  server.Route("/api/status/buildinfo", {bhttp::verb::get},
               [](http::Request& req, const http::Responder& r) {
                 r.Send(http::JsonResponse(req, http::Status::ok, BuildInfoJson() + "\n"));
               });
}

void TempoApi::TraceById(Call& c, bool v2) {
  std::string_view path = c.path;
  path.remove_prefix(std::string_view(v2 ? "/api/v2/traces/" : "/api/traces/").size());
  if (path.empty() || path.find('/') != std::string_view::npos) {
    return c.Send(http::Status::not_found, "404 page not found\n", "text/plain; charset=utf-8");
  }
  auto id = ParseTraceId(path);
  if (!id.ok()) return c.Fail(id.status());
  const std::string mode = c.params.Get("mode").value_or("");
  if (!mode.empty() && mode != "all" && mode != "ingesters" && mode != "blocks" &&
      mode != "external") {
    return c.Fail(Status::InvalidArgument(fmt::format("invalid value for mode {}", mode)));
  }
  // Tempo checks the time range only when the lookup may read blocks.
  if (mode != "ingesters") {
    auto start = SecondsParam(c.params, "start");
    if (!start.ok()) return c.Fail(start.status());
    auto end = SecondsParam(c.params, "end");
    if (!end.ok()) return c.Fail(end.status());
    if (*start && *end && **end <= **start) {
      return c.Fail(Status::InvalidArgument(fmt::format(
          "http parameter start must be before end. received start={} end={}", **start, **end)));
    }
  }
  auto found = queryable_.TraceById(c.tenant, *id);
  if (!found.ok()) return c.Fail(found.status());
  if (!v2) {
    if (!*found) return c.Send(http::Status::not_found, "", "text/plain; charset=utf-8");
    if (c.protobuf) return c.Send(http::Status::ok, std::move((*found)->traces_data), kProtobuf);
    auto json = proto::TraceJson((*found)->traces_data, {});
    if (!json.ok()) return c.Fail(json.status());
    return c.Send(http::Status::ok, std::move(*json));
  }
  // TraceByIDResponse: trace (1), metrics (2: inspectedBytes, 1).
  const uint64_t inspected = *found ? (*found)->bytes_read : 0;
  if (c.protobuf) {
    std::string body;
    proto::PutBytesField(body, 1, *found ? (*found)->traces_data : std::string());
    std::string metrics;
    if (inspected > 0) proto::PutVarintField(metrics, 1, inspected);
    proto::PutBytesField(body, 2, metrics);
    return c.Send(http::Status::ok, std::move(body), kProtobuf);
  }
  std::string trace = "{}";
  if (*found) {
    auto json = proto::TraceJson((*found)->traces_data, {.root_key = "resourceSpans"});
    if (!json.ok()) return c.Fail(json.status());
    trace = std::move(*json);
  }
  std::string metrics =
      inspected > 0 ? fmt::format(R"({{"inspectedBytes":"{}"}})", inspected) : std::string("{}");
  c.Send(http::Status::ok, fmt::format(R"({{"trace":{},"metrics":{}}})", trace, metrics));
}

}  // namespace strata::api
