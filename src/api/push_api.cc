#include "api/push_api.h"

#include <fmt/format.h>

#include <string>

#include "base/tenant.h"
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
              .Register(registry),
          {"tenant", "code"}),
      grpc_requests_(prometheus::BuildCounter()
                         .Name("strata_ingest_grpc_requests_total")
                         .Help("OTLP/gRPC Export calls by tenant and gRPC status code.")
                         .Register(registry),
                     {"tenant", "code"}) {}

void PushApi::Register(http::Server& server) {
  auto remote_write = [this](http::Request& req, const http::Responder& r) {
    HandleRemoteWrite(req, r);
  };
  server.Route("/api/v1/push", {bhttp::verb::post}, remote_write);
  server.Route("/api/v1/write", {bhttp::verb::post}, remote_write);
  auto otlp = [this](proto::OtlpSignal signal) {
    return [this, signal](http::Request& req, const http::Responder& r) {
      HandleOtlpHttp(req, r, signal);
    };
  };
  server.Route("/otlp/v1/metrics", {bhttp::verb::post}, otlp(proto::OtlpSignal::kMetrics));
  server.Route("/otlp/v1/logs", {bhttp::verb::post}, otlp(proto::OtlpSignal::kLogs));
  auto traces = otlp(proto::OtlpSignal::kTraces);
  server.Route("/otlp/v1/traces", {bhttp::verb::post}, traces);
  server.Route("/v1/traces", {bhttp::verb::post}, traces);
  server.Route("/loki/api/v1/push", {bhttp::verb::post},
               [this](http::Request& req, const http::Responder& r) { HandleLokiPush(req, r); });
}

void PushApi::Send(const http::Responder& respond, const std::string& tenant, http::Response res) {
  requests_.Get({tenant, std::to_string(res.result_int())}).Increment();
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

// Remote write 2.0's answer headers: what was written (all of it counted, also duplicates).
void SetWritten(http::Response& res, const ingest::PushOutcome& o) {
  const bool ok = o.status.ok();
  http::SetRemoteWriteWritten(res, ok ? o.samples - o.refused - o.histograms : 0,
                              ok ? o.histograms : 0, ok ? o.exemplars : 0);
}

// A remote write's decompressed body and its decoded view, kept per thread for the next
// request: Push is done with both when it returns (the answer waits for durability, not for
// them), and reusing them spares allocating and faulting in megabytes per request. Buffers a
// large request grew past kKeepBytes are given back.
struct DecodeBuffers {
  static constexpr size_t kKeepBytes = 16 << 20;
  std::string raw;
  proto::WriteRequestView view;
  bool in_use = false;
};
thread_local DecodeBuffers thread_decode_buffers;

// Lends the thread's DecodeBuffers to one request (fresh ones if a request on this thread
// still holds them) and empties them when it is done.
class BorrowedDecodeBuffers {
 public:
  BorrowedDecodeBuffers() : buf_(thread_decode_buffers.in_use ? own_ : thread_decode_buffers) {
    buf_.in_use = true;
  }
  ~BorrowedDecodeBuffers() {
    buf_.in_use = false;
    buf_.raw.clear();
    buf_.view.Clear();
    if (buf_.raw.capacity() > DecodeBuffers::kKeepBytes) std::string().swap(buf_.raw);
    if (buf_.view.CapacityBytes() > DecodeBuffers::kKeepBytes) buf_.view = {};
  }
  BorrowedDecodeBuffers(const BorrowedDecodeBuffers&) = delete;
  BorrowedDecodeBuffers& operator=(const BorrowedDecodeBuffers&) = delete;
  DecodeBuffers* operator->() { return &buf_; }

 private:
  DecodeBuffers own_;
  DecodeBuffers& buf_;
};

}  // namespace

void PushApi::HandleRemoteWrite(http::Request& req, const http::Responder& respond) {
  auto tenant = http::RequestTenant(req, opts_.tenants);
  if (!tenant.ok()) return Fail(req, respond, "", tenant.status());
  auto version = http::RemoteWriteVersion(req);
  if (!version.ok()) return Fail(req, respond, *tenant, version.status());
  if (auto ce = req.find(bhttp::field::content_encoding);
      ce != req.end() && ce->value() != "snappy") {
    return Fail(req, respond, *tenant,
                Status::Unsupported(fmt::format(
                    "unsupported Content-Encoding \"{}\": remote write bodies are snappy",
                    std::string(ce->value()))));
  }
  BorrowedDecodeBuffers buf;
  std::string& raw = buf->raw;
  if (Status st = proto::SnappyDecompress(req.body(), opts_.max_decompressed_body_bytes, raw);
      !st.ok()) {
    return Fail(req, respond, *tenant, st);
  }
  const bool v2 = *version == 2;
  proto::WriteRequestView& decoded = buf->view;
  if (Status st =
          v2 ? proto::DecodeWriteRequestV2(raw, decoded) : proto::DecodeWriteRequest(raw, decoded);
      !st.ok()) {
    if (!v2) return Fail(req, respond, *tenant, st);
    http::Response res = http::TextResponse(req, http::StatusFor(st), st.message());
    SetWritten(res, ingest::PushOutcome{});
    return Send(respond, *tenant, std::move(res));
  }
  // The usual answer's counter is looked up here, not on the WAL thread that answers.
  prometheus::Counter& stored = requests_.Get({*tenant, "204"});
  distributor_.Push(*tenant, decoded, {},
                    [this, respond, &stored, v2, tenant = *tenant,
                     head = http::HeadOf(req)](const ingest::PushOutcome& o) {
                      http::Response res =
                          !o.status.ok() ? Refused(head, o)
                          : o.refused > 0
                              ? http::TextResponse(head, http::Status::bad_request, o.message)
                              : http::TextResponse(head, http::Status::no_content, "");
                      if (v2) SetWritten(res, o);
                      if (!o.status.ok() || o.refused > 0)
                        return Send(respond, tenant, std::move(res));
                      stored.Increment();
                      respond.Send(std::move(res));
                    });
}

std::optional<PushApi::OtlpBody> PushApi::ReadOtlp(http::Request& req,
                                                   const http::Responder& respond,
                                                   proto::OtlpSignal signal) {
  const std::string_view content_type = http::MediaType(req);
  OtlpBody b;
  b.json = content_type == "application/json";
  const bool otlp = b.json || content_type == "application/x-protobuf";
  auto tenant = http::RequestTenant(req, opts_.tenants);
  if (!tenant.ok()) {
    // As OTLP/HTTP answers every error: a Status in the request's encoding, when it has one.
    Fail(req, respond, "", tenant.status(), otlp ? b.errors() : http::ErrorFormat::kText);
    return std::nullopt;
  }
  b.tenant = std::move(tenant).value();
  if (!otlp) {
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

void PushApi::StoreOtlp(proto::OtlpSignal signal, const std::string& tenant, std::string_view raw,
                        const ingest::Distributor::Done& done) {
  ingest::PushOutcome malformed;
  switch (signal) {
    case proto::OtlpSignal::kMetrics: {
      // Translated to Prometheus series (proto/otlp_metrics.h); points with no Prometheus
      // form are the partial success.
      auto translated = proto::TranslateOtlpMetrics(raw);
      if (!translated.ok()) {
        malformed.status = translated.status();
        return done(std::move(malformed));
      }
      ingest::Refusals untranslatable{translated->dropped, std::move(translated->drop_reasons)};
      return distributor_.Push(tenant, proto::AsView(translated->request), untranslatable, done);
    }
    case proto::OtlpSignal::kLogs: {
      // Where Loki pushes go, as Loki 3 stores them (proto/otlp_logs.h).
      auto logs = proto::TranslateOtlpLogs(raw, NowMillis() * 1'000'000);
      if (!logs.ok()) {
        malformed.status = logs.status();
        return done(std::move(malformed));
      }
      if ((*logs)->push.streams.empty()) return done(ingest::PushOutcome{});
      return logs_.Push(tenant, (*logs)->push, done);
    }
    case proto::OtlpSignal::kTraces: {
      // The spans are stored as sent and answered later as they are: all are checked now.
      if (auto scan = proto::ScanOtlp(signal, raw); !scan.ok()) {
        malformed.status = scan.status();
        return done(std::move(malformed));
      }
      auto split = proto::SplitByTrace(raw);
      if (!split.ok()) {
        malformed.status = split.status();
        return done(std::move(malformed));
      }
      if (split->spans == 0 && split->invalid == 0) return done(ingest::PushOutcome{});
      return traces_.Push(tenant, *split, done);
    }
  }
}

void PushApi::HandleOtlpHttp(http::Request& req, const http::Responder& respond,
                             proto::OtlpSignal signal) {
  auto body = ReadOtlp(req, respond, signal);
  if (!body) return;
  prometheus::Counter& answered = requests_.Get({body->tenant, "200"});
  StoreOtlp(signal, body->tenant, body->raw,
            [this, respond, &answered, signal, tenant = body->tenant, json = body->json,
             errors = body->errors(), head = http::HeadOf(req)](const ingest::PushOutcome& o) {
              if (!o.status.ok()) return Send(respond, tenant, Refused(head, o, errors));
              if (o.over_limit) {
                return Send(respond, tenant,
                            http::ErrorResponse(head.version(), head.keep_alive(), errors,
                                                http::Status::too_many_requests, o.message));
              }
              answered.Increment();
              SendOtlpResponse(respond, head, signal, json, o.refused, o.message);
            });
}

void PushApi::HandleOtlpGrpc(proto::OtlpSignal signal, std::optional<std::string> tenant_header,
                             const std::string& request,
                             std::function<void(otlpgrpc::Reply)> done) {
  using otlpgrpc::Code;
  auto answer = [this, done = std::move(done)](const std::string& tenant, otlpgrpc::Reply r) {
    grpc_requests_.Get({tenant, otlpgrpc::CodeName(r.code)}).Increment();
    done(std::move(r));
  };
  auto tenant =
      ResolveTenant(tenant_header ? std::optional<std::string_view>(*tenant_header) : std::nullopt,
                    opts_.tenants);
  if (!tenant.ok()) {
    const bool missing = tenant.status().code() == Status::Code::kUnauthenticated;
    return answer(
        "",
        {missing ? Code::kUnauthenticated : Code::kInvalidArgument, tenant.status().message(), {}});
  }
  // The gRPC server refuses messages over max_decompressed_body (RESOURCE_EXHAUSTED).
  StoreOtlp(
      signal, *tenant, request, [answer, signal, tenant = *tenant](const ingest::PushOutcome& o) {
        // OTLP/gRPC: retryable refusals (rate, back-pressure, a tenant's stream limit)
        // are UNAVAILABLE; malformed requests INVALID_ARGUMENT.
        if (!o.status.ok()) {
          const bool malformed = o.status.code() == Status::Code::kInvalidArgument;
          return answer(
              tenant,
              {malformed ? Code::kInvalidArgument : Code::kUnavailable, o.status.message(), {}});
        }
        if (o.over_limit) return answer(tenant, {Code::kUnavailable, o.message, {}});
        answer(tenant,
               {Code::kOk, {}, proto::OtlpExportResponse(signal, o.refused, o.message, false)});
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
  prometheus::Counter& stored = requests_.Get({*tenant, "204"});
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
