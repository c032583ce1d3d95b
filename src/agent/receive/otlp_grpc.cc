#include "agent/receive/otlp_grpc.h"

#include <fmt/format.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "agent/receive/otlp.h"
#include "base/tenant.h"

namespace strata::agent {

namespace {

constexpr std::string_view kMethods[] = {
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
};
constexpr proto::OtlpSignal kSignals[] = {proto::OtlpSignal::kMetrics, proto::OtlpSignal::kLogs,
                                          proto::OtlpSignal::kTraces};

// One Export call: read the request, queue it, answer once durable.
class ExportReactor final : public grpc::ServerGenericBidiReactor {
 public:
  ExportReactor(Intake& intake, proto::OtlpSignal signal, std::string tenant_header,
                bool has_tenant, const std::string& default_tenant)
      : intake_(intake),
        signal_(signal),
        receiver_(fmt::format("otlp_grpc_{}", proto::OtlpSignalName(signal))) {
    auto tenant =
        ResolveTenant(has_tenant ? std::optional<std::string_view>(tenant_header) : std::nullopt,
                      TenantPolicy{false, default_tenant});
    if (!tenant.ok()) {
      Fail(grpc::StatusCode::INVALID_ARGUMENT, tenant.status().message());
      return;
    }
    tenant_ = std::move(*tenant);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Fail(grpc::StatusCode::INVALID_ARGUMENT, "no request message");
      return;
    }
    std::vector<grpc::Slice> slices;
    if (!request_.Dump(&slices).ok()) {
      Fail(grpc::StatusCode::INTERNAL, "cannot read the request");
      return;
    }
    size_t size = 0;
    for (const auto& s : slices) size += s.size();
    reservation_.emplace(intake_.Reserve(2 * size));
    if (!*reservation_) {
      Fail(grpc::StatusCode::UNAVAILABLE,
           "agent memory budget (server.memory_budget) is in use by other requests; retry");
      return;
    }
    std::string data;
    data.reserve(size);
    for (const auto& s : slices) data.append(reinterpret_cast<const char*>(s.begin()), s.size());
    request_.Clear();
    auto batch = PrepareOtlp(intake_, signal_, tenant_, data);
    if (!batch.ok()) {
      Fail(grpc::StatusCode::INVALID_ARGUMENT, batch.status().message());
      return;
    }
    if (int64_t wait = intake_.Admit(tenant_, batch->budget, batch->amount); wait > 0) {
      Fail(grpc::StatusCode::UNAVAILABLE,
           fmt::format("tenant \"{}\" is over its rate limit (limits); retry after {}s", tenant_,
                       wait));
      return;
    }
    std::string body = proto::OtlpExportResponse(signal_, batch->rejected, batch->rejected_message,
                                                 /*json=*/false);
    grpc::Slice slice(body);
    response_ = grpc::ByteBuffer(&slice, 1);
    if (batch->variants.empty()) {
      if (batch->rejected == 0) {
        Fail(grpc::StatusCode::UNIMPLEMENTED, fmt::format("no exporter of this agent takes OTLP {}",
                                                          proto::OtlpSignalName(signal_)));
      } else {
        Succeed();
      }
      return;
    }
    intake_.Submit(receiver_, batch->variants, [this](const Status& st) {
      if (st.ok()) return Succeed();
      Fail(st.code() == Status::Code::kNotFound ? grpc::StatusCode::UNIMPLEMENTED
                                                : grpc::StatusCode::UNAVAILABLE,
           st.message());
    });
  }

  void OnDone() override { delete this; }

 private:
  void Succeed() {
    intake_.CountRequest(receiver_, "OK");
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void Fail(grpc::StatusCode code, const std::string& msg) {
    static constexpr const char* kNames[] = {"OK",
                                             "CANCELLED",
                                             "UNKNOWN",
                                             "INVALID_ARGUMENT",
                                             "DEADLINE_EXCEEDED",
                                             "NOT_FOUND",
                                             "ALREADY_EXISTS",
                                             "PERMISSION_DENIED",
                                             "RESOURCE_EXHAUSTED",
                                             "FAILED_PRECONDITION",
                                             "ABORTED",
                                             "OUT_OF_RANGE",
                                             "UNIMPLEMENTED",
                                             "INTERNAL",
                                             "UNAVAILABLE",
                                             "DATA_LOSS",
                                             "UNAUTHENTICATED"};
    intake_.CountRequest(receiver_, kNames[static_cast<int>(code)]);
    Finish(grpc::Status(code, msg));
  }

  Intake& intake_;
  const proto::OtlpSignal signal_;
  const std::string receiver_;
  std::string tenant_;
  grpc::ByteBuffer request_, response_;
  std::optional<Intake::Reservation> reservation_;
};

class OtlpService final : public grpc::CallbackGenericService {
 public:
  OtlpService(Intake& intake, std::string default_tenant)
      : intake_(intake), default_tenant_(std::move(default_tenant)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    for (size_t i = 0; i < std::size(kMethods); ++i) {
      if (ctx->method() != kMethods[i]) continue;
      std::string tenant;
      bool has_tenant = false;
      const auto& md = ctx->client_metadata();
      if (auto it = md.find("x-scope-orgid"); it != md.end()) {
        tenant.assign(it->second.data(), it->second.size());
        has_tenant = true;
      }
      // gRPC owns the reactor and deletes it after OnDone.
      return new ExportReactor(  // NOLINT(cppcoreguidelines-owning-memory)
          intake_, kSignals[i], std::move(tenant), has_tenant, default_tenant_);
    }
    return grpc::CallbackGenericService::CreateReactor(ctx);  // UNIMPLEMENTED
  }

 private:
  Intake& intake_;
  const std::string default_tenant_;
};

}  // namespace

OtlpGrpcServer::OtlpGrpcServer(Intake& intake, uint64_t max_message_bytes,
                               std::string default_tenant)
    : intake_(intake),
      max_message_bytes_(max_message_bytes),
      default_tenant_(std::move(default_tenant)) {}

OtlpGrpcServer::~OtlpGrpcServer() { Shutdown(); }

Status OtlpGrpcServer::Start(const std::string& listen) {
  std::string address = listen;
  if (!address.empty() && address.front() == ':') address = "0.0.0.0" + address;
  service_ = std::make_unique<OtlpService>(intake_, default_tenant_);
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

void OtlpGrpcServer::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  server_->Wait();
  server_.reset();
}

}  // namespace strata::agent
