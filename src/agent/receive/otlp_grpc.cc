#include "agent/receive/otlp_grpc.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <utility>

#include "agent/receive/otlp.h"
#include "base/tenant.h"

namespace strata::agent {

otlpgrpc::Handler OtlpGrpcHandler(Intake& intake, std::string default_tenant) {
  using otlpgrpc::Code;
  using otlpgrpc::Reply;
  return [&intake, default_tenant = std::move(default_tenant)](
             proto::OtlpSignal signal, std::optional<std::string> tenant_header,
             const std::string& data, std::function<void(Reply)> done) {
    const std::string receiver = fmt::format("otlp_grpc_{}", proto::OtlpSignalName(signal));
    auto answer = [&intake, receiver, done = std::move(done)](Reply r) {
      intake.CountRequest(receiver, std::string(otlpgrpc::CodeName(r.code)));
      done(std::move(r));
    };
    auto tenant = ResolveTenant(
        tenant_header ? std::optional<std::string_view>(*tenant_header) : std::nullopt,
        TenantPolicy{false, default_tenant});
    if (!tenant.ok()) return answer({Code::kInvalidArgument, tenant.status().message(), {}});
    // Held until the request is queued (or refused); shared, as the callback is copied.
    auto reservation = std::make_shared<Intake::Reservation>(intake.Reserve(2 * data.size()));
    if (!*reservation) {
      return answer(
          {Code::kUnavailable,
           "agent memory budget (server.memory_budget) is in use by other requests; retry",
           {}});
    }
    auto batch = PrepareOtlp(intake, signal, *tenant, data);
    if (!batch.ok()) return answer({Code::kInvalidArgument, batch.status().message(), {}});
    if (int64_t wait = intake.Admit(*tenant, batch->budget, batch->amount); wait > 0) {
      return answer({Code::kUnavailable,
                     fmt::format("tenant \"{}\" is over its rate limit (limits); retry after {}s",
                                 *tenant, wait),
                     {}});
    }
    std::string body = proto::OtlpExportResponse(signal, batch->rejected, batch->rejected_message,
                                                 /*json=*/false);
    if (batch->variants.empty()) {
      if (batch->rejected > 0) return answer({Code::kOk, {}, std::move(body)});
      return answer(
          {Code::kUnimplemented,
           fmt::format("no exporter of this agent takes OTLP {}", proto::OtlpSignalName(signal)),
           {}});
    }
    intake.Submit(
        receiver, batch->variants, [answer, reservation, body = std::move(body)](const Status& st) {
          if (st.ok()) return answer({Code::kOk, {}, body});
          answer({st.code() == Status::Code::kNotFound ? Code::kUnimplemented : Code::kUnavailable,
                  st.message(),
                  {}});
        });
  };
}

}  // namespace strata::agent
