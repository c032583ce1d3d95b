#include "rpc/otlp_server.h"

#include <fmt/format.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace strata::otlpgrpc {

namespace {

constexpr std::string_view kMethods[] = {
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
};
constexpr proto::OtlpSignal kSignals[] = {proto::OtlpSignal::kMetrics, proto::OtlpSignal::kLogs,
                                          proto::OtlpSignal::kTraces};

// One Export call: read the request, hand it to the handler, answer when it says.
class ExportReactor final : public grpc::ServerGenericBidiReactor {
 public:
  ExportReactor(const Handler& handler, proto::OtlpSignal signal, std::optional<std::string> tenant)
      : handler_(handler), signal_(signal), tenant_(std::move(tenant)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Answer({Code::kInvalidArgument, "no request message", {}});
    std::vector<grpc::Slice> slices;
    if (!request_.Dump(&slices).ok())
      return Answer({Code::kInternal, "cannot read the request", {}});
    size_t size = 0;
    for (const auto& s : slices) size += s.size();
    std::string data;
    data.reserve(size);
    for (const auto& s : slices) data.append(reinterpret_cast<const char*>(s.begin()), s.size());
    request_.Clear();
    handler_(signal_, std::move(tenant_), std::move(data), [this](const Reply& r) { Answer(r); });
  }

  void OnDone() override { delete this; }

 private:
  void Answer(const Reply& r) {
    if (r.code != Code::kOk) {
      Finish(grpc::Status(static_cast<grpc::StatusCode>(r.code), r.message));
      return;
    }
    grpc::Slice slice(r.response);
    response_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  const Handler& handler_;
  const proto::OtlpSignal signal_;
  std::optional<std::string> tenant_;
  grpc::ByteBuffer request_, response_;
};

class OtlpService final : public grpc::CallbackGenericService {
 public:
  explicit OtlpService(const otlpgrpc::Handler& handler) : handler_(handler) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    for (size_t i = 0; i < std::size(kMethods); ++i) {
      if (ctx->method() != kMethods[i]) continue;
      std::optional<std::string> tenant;
      const auto& md = ctx->client_metadata();
      if (auto it = md.find("x-scope-orgid"); it != md.end()) {
        tenant.emplace(it->second.data(), it->second.size());
      }
      // gRPC owns the reactor and deletes it after OnDone.
      return new ExportReactor(handler_, kSignals[i],  // NOLINT(cppcoreguidelines-owning-memory)
                               std::move(tenant));
    }
    return grpc::CallbackGenericService::CreateReactor(ctx);  // UNIMPLEMENTED
  }

 private:
  const otlpgrpc::Handler& handler_;
};

}  // namespace

std::string_view CodeName(Code c) {
  switch (c) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case Code::kUnimplemented:
      return "UNIMPLEMENTED";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

Server::Server(Handler handler, uint64_t max_message_bytes)
    : handler_(std::move(handler)), max_message_bytes_(max_message_bytes) {}

Server::~Server() { Shutdown(); }

Status Server::Start(const std::string& listen) {
  std::string address = listen;
  if (!address.empty() && address.front() == ':') address = "0.0.0.0" + address;
  service_ = std::make_unique<OtlpService>(handler_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint64_t>(max_message_bytes_, INT32_MAX)));
  builder.RegisterCallbackGenericService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return Status::IOError(fmt::format("OTLP/gRPC: cannot listen on {}", listen));
  }
  spdlog::info("msg=\"OTLP/gRPC receiver listening\" address={} port={}", address, port_);
  return Status::Ok();
}

void Server::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  server_->Wait();
  server_.reset();
}

}  // namespace strata::otlpgrpc
