#include "api/push_api.h"

#include <fmt/format.h>

#include <string>

#include "base/units.h"
#include "http/compression.h"
#include "http/status_map.h"
#include "http/tenant.h"
#include "proto/loki.h"
#include "proto/otlp.h"
#include "proto/otlp_logs.h"
#include "proto/otlp_metrics.h"
#include "proto/otlp_traces.h"
#include "proto/remote_write.h"

namespace strata::api {
namespace bhttp = boost::beast::http;

PushApi::PushApi(PushOptions opts, ingest::Distributor& distributor, ingest::LogDistributor& logs,
                 ingest::TraceDistributor& traces, prometheus::Registry& registry)
    : opts_(std::move(opts)),
      distributor_(distributor),
      logs_(logs),
      traces_(traces),
      requests_(
          prometheus::BuildCounter()
              .Name("strata_ingest_requests_total")
              .Help("Push requests (remote write, OTLP metrics, logs and traces, Loki push) by "
                    "tenant and response code.")
              .Register(registry)) {}

void PushApi::Register(http::Server& server) {
  auto remote_write = [this](http::Request& req, const http::Responder& r) {
    HandleRemoteWrite(req, r);
  };
  server.Route("/api/v1/push", {bhttp::verb::post}, remote_write);
  server.Route("/api/v1/write", {bhttp::verb::post}, remote_write);
  server.Route("/otlp/v1/metrics", {bhttp::verb::post},
               [this](http::Request& req, const http::Responder& r) { HandleOtlp(req, r); });
  server.Route("/otlp/v1/logs", {bhttp::verb::post},
               [this](http::Request& req, const http::Responder& r) { HandleOtlpLogs(req, r); });
  auto traces = [this](http::Request& req, const http::Responder& r) { HandleOtlpTraces(req, r); };
  server.Route("/otlp/v1/traces", {bhttp::verb::post}, traces);
  server.Route("/v1/traces", {bhttp::verb::post}, traces);
  server.Route("/loki/api/v1/push", {bhttp::verb::post},
               [this](http::Request& req, const http::Responder& r) { HandleLokiPush(req, r); });
}

void PushApi::Send(const http::Responder& respond, const std::string& tenant, http::Response res) {
  requests_.Add({{"tenant", tenant}, {"code", std::to_string(res.result_int())}}).Increment();
  respond.Send(std::move(res));
}

void PushApi::Fail(const http::Request& req, const http::Responder& respond,
                   const std::string& tenant, const Status& error, http::ErrorFormat format) {
  if (format == http::ErrorFormat::kText) {
    return Send(respond, tenant, http::TextResponse(req, http::StatusFor(error), error.message()));
  }
  Send(respond, tenant,
       http::ErrorResponse(req.version(), req.keep_alive(), format, http::StatusFor(error),
                           error.message()));
}

namespace {

// The answer to a push the distributor refused whole: its status, with Retry-After when the
// tenant is over its rate.
http::Response Refused(const http::Request& head, const ingest::PushOutcome& o,
                       http::ErrorFormat format = http::ErrorFormat::kText) {
  http::Response res = format == http::ErrorFormat::kText
                           ? http::TextResponse(head, http::StatusFor(o.status), o.status.message())
                           : http::ErrorResponse(head.version(), head.keep_alive(), format,
                                                 http::StatusFor(o.status), o.status.message());
  if (o.retry_after_s > 0) res.set(bhttp::field::retry_after, std::to_string(o.retry_after_s));
  return res;
}

}  // namespace

void PushApi::HandleRemoteWrite(http::Request& req, const http::Responder& respond) {
  auto tenant = http::RequestTenant(req, opts_.tenants);
  if (!tenant.ok()) return Fail(req, respond, "", tenant.status());
  if (auto ct = req.find(bhttp::field::content_type);
      ct != req.end() && ct->value().find("io.prometheus.write.v2.Request") != std::string::npos) {
    return Fail(req, respond, *tenant,
                Status::Unsupported(
                    "remote write 2.0 (io.prometheus.write.v2.Request) is not supported yet; send "
                    "remote write 1.0 (protobuf_message: prometheus.WriteRequest)"));
  }
  if (auto ce = req.find(bhttp::field::content_encoding);
      ce != req.end() && ce->value() != "snappy") {
    return Fail(req, respond, *tenant,
                Status::Unsupported(fmt::format(
                    "unsupported Content-Encoding \"{}\": remote write bodies are snappy",
                    std::string(ce->value()))));
  }
  std::string raw;
  if (Status st = proto::SnappyDecompress(req.body(), opts_.max_decompressed_body_bytes, raw);
      !st.ok()) {
    return Fail(req, respond, *tenant, st);
  }
  auto decoded = proto::DecodeWriteRequest(raw);
  if (!decoded.ok()) return Fail(req, respond, *tenant, decoded.status());
  // The usual answer's counter is looked up here, not on the WAL thread that answers.
  prometheus::Counter& stored = requests_.Add({{"tenant", *tenant}, {"code", "204"}});
  distributor_.Push(*tenant, *decoded, {},
                    [this, respond, &stored, tenant = *tenant,
                     head = http::HeadOf(req)](const ingest::PushOutcome& o) {
                      if (!o.status.ok()) return Send(respond, tenant, Refused(head, o));
                      if (o.refused > 0) {
                        return Send(respond, tenant,
                                    http::TextResponse(head, http::Status::bad_request, o.message));
                      }
                      stored.Increment();
                      respond.Send(http::TextResponse(head, http::Status::no_content, ""));
                    });
}

std::optional<PushApi::OtlpBody> PushApi::ReadOtlp(http::Request& req,
                                                   const http::Responder& respond,
                                                   proto::OtlpSignal signal) {
  auto tenant = http::RequestTenant(req, opts_.tenants);
  if (!tenant.ok()) {
    Fail(req, respond, "", tenant.status());
    return std::nullopt;
  }
  const std::string_view content_type = http::MediaType(req);
  OtlpBody b;
  b.tenant = std::move(tenant).value();
  b.json = content_type == "application/json";
  if (!b.json && content_type != "application/x-protobuf") {
    Fail(req, respond, b.tenant,
         Status::Unsupported(fmt::format("unsupported Content-Type \"{}\": OTLP/HTTP takes "
                                         "application/x-protobuf or application/json",
                                         content_type)));
    return std::nullopt;
  }
  if (Status st = http::DecodeBody(req, opts_.max_decompressed_body_bytes, b.raw); !st.ok()) {
    Fail(req, respond, b.tenant, st, b.errors());
    return std::nullopt;
  }
  if (b.json) {
    auto pb = proto::OtlpJsonToProtobuf(signal, b.raw);
    if (!pb.ok()) {
      Fail(req, respond, b.tenant, pb.status(), b.errors());
      return std::nullopt;
    }
    b.raw = std::move(*pb);
  }
  return b;
}

void PushApi::SendOtlpResponse(const http::Responder& respond, const http::Request& head,
                               proto::OtlpSignal signal, bool json, uint64_t rejected,
                               std::string_view message) {
  http::Response res(http::Status::ok, head.version());
  res.keep_alive(head.keep_alive());
  res.set(bhttp::field::content_type, json ? "application/json" : "application/x-protobuf");
  res.body() = proto::OtlpExportResponse(signal, rejected, message, json);
  respond.Send(std::move(res));
}

void PushApi::HandleOtlp(http::Request& req, const http::Responder& respond) {
  auto body = ReadOtlp(req, respond, proto::OtlpSignal::kMetrics);
  if (!body) return;
  auto translated = proto::TranslateOtlpMetrics(body->raw);
  if (!translated.ok()) {
    return Fail(req, respond, body->tenant, translated.status(), body->errors());
  }
  ingest::Refusals untranslatable{translated->dropped, std::move(translated->drop_reasons)};
  prometheus::Counter& answered = requests_.Add({{"tenant", body->tenant}, {"code", "200"}});
  distributor_.Push(
      body->tenant, proto::AsView(translated->request), untranslatable,
      [this, respond, &answered, tenant = body->tenant, json = body->json, errors = body->errors(),
       head = http::HeadOf(req)](const ingest::PushOutcome& o) {
        if (!o.status.ok()) return Send(respond, tenant, Refused(head, o, errors));
        answered.Increment();
        SendOtlpResponse(respond, head, proto::OtlpSignal::kMetrics, json, o.refused, o.message);
      });
}

// OTLP logs go where Loki pushes go, as Loki 3 stores them (proto/otlp_logs.h). Refusals a
// tenant's limits cause are retryable (429); others are a partial success.
void PushApi::HandleOtlpLogs(http::Request& req, const http::Responder& respond) {
  auto body = ReadOtlp(req, respond, proto::OtlpSignal::kLogs);
  if (!body) return;
  auto logs = proto::TranslateOtlpLogs(body->raw, NowMillis() * 1'000'000);
  if (!logs.ok()) return Fail(req, respond, body->tenant, logs.status(), body->errors());
  if ((*logs)->push.streams.empty()) {
    return SendOtlpResponse(respond, req, proto::OtlpSignal::kLogs, body->json, 0, "");
  }
  prometheus::Counter& answered = requests_.Add({{"tenant", body->tenant}, {"code", "200"}});
  logs_.Push(body->tenant, (*logs)->push,
             [this, respond, &answered, tenant = body->tenant, json = body->json,
              errors = body->errors(), head = http::HeadOf(req)](const ingest::PushOutcome& o) {
               if (!o.status.ok()) return Send(respond, tenant, Refused(head, o, errors));
               if (o.over_limit) {
                 return Send(respond, tenant,
                             http::ErrorResponse(head.version(), head.keep_alive(), errors,
                                                 http::Status::too_many_requests, o.message));
               }
               answered.Increment();
               SendOtlpResponse(respond, head, proto::OtlpSignal::kLogs, json, o.refused,
                                o.message);
             });
}

void PushApi::HandleOtlpTraces(http::Request& req, const http::Responder& respond) {
  auto body = ReadOtlp(req, respond, proto::OtlpSignal::kTraces);
  if (!body) return;
  // The spans are stored as sent and answered later as they are: check all of them now.
  if (auto scan = proto::ScanOtlp(proto::OtlpSignal::kTraces, body->raw); !scan.ok()) {
    return Fail(req, respond, body->tenant, scan.status(), body->errors());
  }
  auto split = proto::SplitByTrace(body->raw);
  if (!split.ok()) return Fail(req, respond, body->tenant, split.status(), body->errors());
  if (split->spans == 0 && split->invalid == 0) {
    return SendOtlpResponse(respond, req, proto::OtlpSignal::kTraces, body->json, 0, "");
  }
  prometheus::Counter& answered = requests_.Add({{"tenant", body->tenant}, {"code", "200"}});
  traces_.Push(body->tenant, *split,
               [this, respond, &answered, tenant = body->tenant, json = body->json,
                errors = body->errors(), head = http::HeadOf(req)](const ingest::PushOutcome& o) {
                 if (!o.status.ok()) return Send(respond, tenant, Refused(head, o, errors));
                 answered.Increment();
                 SendOtlpResponse(respond, head, proto::OtlpSignal::kTraces, json, o.refused,
                                  o.message);
               });
}

void PushApi::HandleLokiPush(http::Request& req, const http::Responder& respond) {
  auto tenant = http::RequestTenant(req, opts_.tenants);
  if (!tenant.ok()) return Fail(req, respond, "", tenant.status());
  const bool json = http::MediaType(req) == "application/json";
  // Loki takes Content-Encoding snappy as a no-op: protobuf bodies are snappy anyway.
  std::string_view encoding;
  if (auto ce = req.find(bhttp::field::content_encoding); ce != req.end()) {
    encoding = std::string_view(ce->value().data(), ce->value().size());
  }
  if (encoding == "snappy") encoding = {};
  std::string body;
  if (Status st =
          http::DecodeContent(encoding, req.body(), opts_.max_decompressed_body_bytes, body);
      !st.ok()) {
    return Fail(req, respond, *tenant, st);
  }
  std::string raw;
  if (json) {
    auto pb = proto::LokiJsonToProtobuf(body);
    if (!pb.ok()) return Fail(req, respond, *tenant, pb.status());
    raw = std::move(*pb);
  } else if (Status st = proto::SnappyDecompress(body, opts_.max_decompressed_body_bytes, raw);
             !st.ok()) {
    return Fail(req, respond, *tenant, st);
  }
  auto push = proto::DecodeLokiPush(raw);
  if (!push.ok()) return Fail(req, respond, *tenant, push.status());
  if (push->streams.empty()) {
    return Send(respond, *tenant,
                http::TextResponse(req, http::Status::unprocessable_entity,
                                   "error at least one valid stream is required for ingestion"));
  }
  prometheus::Counter& stored = requests_.Add({{"tenant", *tenant}, {"code", "204"}});
  logs_.Push(*tenant, *push,
             [this, respond, &stored, tenant = *tenant,
              head = http::HeadOf(req)](const ingest::PushOutcome& o) {
               if (!o.status.ok()) return Send(respond, tenant, Refused(head, o));
               if (o.refused > 0) {
                 auto code =
                     o.over_limit ? http::Status::too_many_requests : http::Status::bad_request;
                 return Send(respond, tenant, http::TextResponse(head, code, o.message));
               }
               stored.Increment();
               respond.Send(http::TextResponse(head, http::Status::no_content, ""));
             });
}

}  // namespace strata::api
