#include "agent/receive/otlp.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/units.h"
#include "http/compression.h"
#include "proto/otlp_metrics.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {

ItemKind KindOf(proto::OtlpSignal s) {
  switch (s) {
    case proto::OtlpSignal::kMetrics:
      return ItemKind::kOtlpMetrics;
    case proto::OtlpSignal::kLogs:
      return ItemKind::kOtlpLogs;
    case proto::OtlpSignal::kTraces:
      return ItemKind::kOtlpTraces;
  }
  return ItemKind::kOtlpMetrics;
}

uint32_t ClampItems(uint64_t n) { return static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX)); }

}  // namespace

Result<OtlpBatch> PrepareOtlp(Intake& intake, proto::OtlpSignal signal, const std::string& tenant,
                              std::string_view protobuf) {
  ASSIGN_OR_RETURN(proto::OtlpCounts counts, proto::ScanOtlp(signal, protobuf));
  OtlpBatch batch;
  switch (signal) {
    case proto::OtlpSignal::kMetrics:
      batch.budget = Budget::kSamples, batch.amount = static_cast<double>(counts.items);
      break;
    case proto::OtlpSignal::kLogs:
      batch.budget = Budget::kLogBytes, batch.amount = static_cast<double>(counts.log_bytes);
      break;
    case proto::OtlpSignal::kTraces:
      batch.budget = Budget::kSpans, batch.amount = static_cast<double>(counts.items);
      break;
  }
  const int64_t now = NowMillis();
  const ItemKind kind = KindOf(signal);
  if (intake.Wants(kind)) {
    QueueRecord rec;
    rec.kind = kind;
    rec.tenant = tenant;
    rec.items = ClampItems(counts.items);
    rec.received_ms = now;
    rec.body = proto::SnappyCompress(protobuf);
    batch.variants.push_back(std::move(rec));
  }
  if (signal == proto::OtlpSignal::kMetrics && intake.Wants(ItemKind::kRemoteWrite)) {
    ASSIGN_OR_RETURN(proto::OtlpTranslation tr, proto::TranslateOtlpMetrics(protobuf));
    batch.rejected = tr.dropped;
    for (const auto& r : tr.drop_reasons) {
      batch.rejected_message += (batch.rejected_message.empty() ? "" : "; ") + r;
    }
    if (!tr.request.series.empty()) {
      QueueRecord rec;
      rec.kind = ItemKind::kRemoteWrite;
      rec.tenant = tenant;
      rec.items = ClampItems(tr.request.series.size());
      rec.received_ms = now;
      rec.body = proto::SnappyCompress(proto::EncodeWriteRequest(tr.request));
      batch.variants.push_back(std::move(rec));
    }
  }
  return batch;
}

void HandleOtlpHttp(Intake& intake, proto::OtlpSignal signal, uint64_t max_decompressed_bytes,
                    const std::string& default_tenant, http::Request& req,
                    const http::Responder& respond, std::string receiver) {
  if (receiver.empty()) receiver = fmt::format("otlp_http_{}", proto::OtlpSignalName(signal));
  const std::string_view content_type = http::MediaType(req);
  const bool json = content_type == "application/json";
  const ErrorFormat format = json ? ErrorFormat::kOtlpJson : ErrorFormat::kOtlpProtobuf;
  if (!json && content_type != "application/x-protobuf") {
    return intake.Reply(
        receiver, req, respond, ErrorFormat::kText,
        Status::Unsupported(fmt::format("unsupported Content-Type \"{}\": OTLP/HTTP takes "
                                        "application/x-protobuf or application/json",
                                        content_type)));
  }
  std::string tenant;
  if (!intake.Tenant(receiver, req, respond, default_tenant, format, &tenant)) return;
  auto body_reservation = intake.Reserve(req.body().size());
  if (!body_reservation) {
    return intake.Reply(
        receiver, req, respond, format,
        Status::Unavailable("agent memory budget (server.memory_budget) is in use by other "
                            "requests; retry"));
  }
  std::string raw;
  if (Status st = http::DecodeBody(req, max_decompressed_bytes, raw); !st.ok()) {
    return intake.Reply(receiver, req, respond, format, st);
  }
  // The decompressed request, its protobuf form and queued copies live together for a while.
  auto work_reservation = intake.Reserve(2 * raw.size());
  if (!work_reservation) {
    return intake.Reply(
        receiver, req, respond, format,
        Status::Unavailable("agent memory budget (server.memory_budget) is in use by other "
                            "requests; retry"));
  }
  if (json) {
    auto pb = proto::OtlpJsonToProtobuf(signal, raw);
    if (!pb.ok()) {
      return intake.Reply(receiver, req, respond, format, pb.status());
    }
    raw = std::move(*pb);
  }
  auto batch = PrepareOtlp(intake, signal, tenant, raw);
  if (!batch.ok()) {
    return intake.Reply(receiver, req, respond, format, batch.status());
  }
  if (!intake.AdmitHttp(receiver, req, respond, format, tenant, batch->budget, batch->amount)) {
    return;
  }
  std::string ok_body =
      proto::OtlpExportResponse(signal, batch->rejected, batch->rejected_message, json);
  std::string ok_type = json ? "application/json" : "application/x-protobuf";
  if (batch->rejected > 0) {
    spdlog::warn(
        "msg=\"OTLP metric points cannot be sent by remote write; dropped\" tenant=\"{}\" "
        "points={} why=\"{}\"",
        tenant, batch->rejected, batch->rejected_message);
  }
  if (batch->variants.empty() && batch->rejected == 0) {
    return intake.Reply(receiver, req, respond, format,
                        Status::NotFound(fmt::format("no exporter of this agent takes OTLP {}",
                                                     proto::OtlpSignalName(signal))));
  }
  if (batch->variants.empty()) {  // every point was untranslatable: nothing to queue
    intake.CountRequest(receiver, "200");
    http::Response res(http::Status::ok, req.version());
    res.keep_alive(req.keep_alive());
    res.set(bhttp::field::content_type, ok_type);
    res.body() = std::move(ok_body);
    return respond.Send(std::move(res));
  }
  intake.SubmitHttp(receiver, batch->variants, req, respond, format, http::Status::ok, ok_type,
                    std::move(ok_body));
}

}  // namespace strata::agent
