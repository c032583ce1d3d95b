#include "agent/receive/loki.h"

#include <fmt/format.h>

#include "base/units.h"
#include "http/compression.h"
#include "proto/loki.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {
constexpr const char* kLokiReceiver = "loki";
constexpr ErrorFormat kText = ErrorFormat::kText;
}  // namespace

void HandleLokiPush(Intake& intake, uint64_t max_decompressed_bytes,
                    const std::string& default_tenant, http::Request& req,
                    const http::Responder& respond) {
  const std::string_view content_type = http::MediaType(req);
  const bool json = content_type == "application/json";
  if (!json && content_type != "application/x-protobuf") {
    return intake.Reply(
        kLokiReceiver, req, respond, kText,
        Status::Unsupported(fmt::format("unsupported Content-Type \"{}\": Loki push takes "
                                        "application/x-protobuf (snappy) or application/json",
                                        content_type)));
  }
  std::string tenant;
  if (!intake.Tenant(kLokiReceiver, req, respond, default_tenant, kText, &tenant)) return;
  auto body_reservation = intake.Reserve(req.body().size());
  if (!body_reservation) {
    return intake.Reply(
        kLokiReceiver, req, respond, kText,
        Status::Unavailable("agent memory budget (server.memory_budget) is in use by other "
                            "requests; retry"));
  }
  std::string raw;
  if (json) {
    if (Status st = http::DecodeBody(req, max_decompressed_bytes, raw); !st.ok()) {
      return intake.Reply(kLokiReceiver, req, respond, kText, st);
    }
  } else {
    // Protobuf pushes are snappy-compressed, with or without "Content-Encoding: snappy".
    auto ce = req.find(bhttp::field::content_encoding);
    if (ce != req.end() && ce->value() != "snappy") {
      return intake.Reply(kLokiReceiver, req, respond, kText,
                          Status::Unsupported(fmt::format(
                              "unsupported Content-Encoding \"{}\": protobuf pushes are "
                              "snappy-compressed",
                              std::string(ce->value()))));
    }
    if (Status st = proto::SnappyDecompress(req.body(), max_decompressed_bytes, raw); !st.ok()) {
      return intake.Reply(kLokiReceiver, req, respond, kText, st);
    }
  }
  auto work_reservation = intake.Reserve(2 * raw.size());
  if (!work_reservation) {
    return intake.Reply(
        kLokiReceiver, req, respond, kText,
        Status::Unavailable("agent memory budget (server.memory_budget) is in use by other "
                            "requests; retry"));
  }
  if (json) {
    auto pb = proto::LokiJsonToProtobuf(raw);
    if (!pb.ok()) {
      return intake.Reply(kLokiReceiver, req, respond, kText, pb.status());
    }
    raw = std::move(*pb);
  }
  auto counts = proto::ScanLokiPush(raw);
  if (!counts.ok()) {
    return intake.Reply(kLokiReceiver, req, respond, kText, counts.status());
  }
  if (!intake.AdmitHttp(kLokiReceiver, req, respond, kText, tenant, Budget::kLogBytes,
                        static_cast<double>(counts->line_bytes))) {
    return;
  }
  QueueRecord rec;
  rec.kind = ItemKind::kLokiPush;
  rec.tenant = std::move(tenant);
  rec.items = static_cast<uint32_t>(std::min<uint64_t>(counts->entries, UINT32_MAX));
  rec.received_ms = NowMillis();
  rec.body = json ? proto::SnappyCompress(raw) : std::move(req.body());
  intake.SubmitHttp(kLokiReceiver, {&rec, 1}, req, respond, kText, http::Status::no_content);
}

}  // namespace strata::agent
