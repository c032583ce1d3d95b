#include "agent/receive/remote_write.h"

#include <fmt/format.h>

#include "base/coding.h"
#include "base/units.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {
constexpr const char* kRemoteWriteReceiver = "remote_write";
}  // namespace

void HandleRemoteWrite(Intake& intake, uint64_t max_decompressed_bytes,
                       const std::string& default_tenant, http::Request& req,
                       const http::Responder& respond) {
  constexpr ErrorFormat kText = ErrorFormat::kText;
  std::string tenant;
  if (!intake.Tenant(kRemoteWriteReceiver, req, respond, default_tenant, kText, &tenant)) return;
  if (auto ct = req.find(bhttp::field::content_type);
      ct != req.end() && ct->value().find("io.prometheus.write.v2.Request") != std::string::npos) {
    return intake.Reply(
        kRemoteWriteReceiver, req, respond, kText,
        Status::Unsupported(
            "remote write 2.0 (io.prometheus.write.v2.Request) is not supported yet; "
            "send remote write 1.0 (protobuf_message: prometheus.WriteRequest)"));
  }
  if (auto ce = req.find(bhttp::field::content_encoding);
      ce != req.end() && ce->value() != "snappy") {
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText,
                        Status::Unsupported(fmt::format(
                            "unsupported Content-Encoding \"{}\": remote write bodies are snappy",
                            std::string(ce->value()))));
  }
  // The body and its decompressed copy are in memory together while the request is checked;
  // snappy's block format starts with the decompressed length.
  uint64_t declared = 0;
  if (!ByteReader(req.body()).ReadUvarint(&declared)) {
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText,
                        Status::InvalidArgument("body is not snappy block-compressed"));
  }
  if (declared > max_decompressed_bytes) {
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText,
                        Status::TooLarge(fmt::format("decompressed body of {} bytes exceeds "
                                                     "server.max_decompressed_body ({} bytes)",
                                                     declared, max_decompressed_bytes)));
  }
  auto reservation = intake.Reserve(req.body().size() + declared);
  if (!reservation) {
    return intake.Reply(
        kRemoteWriteReceiver, req, respond, kText,
        Status::Unavailable("agent memory budget (server.memory_budget) is in use by other "
                            "requests; retry"));
  }
  std::string raw;
  Status st = proto::SnappyDecompress(req.body(), max_decompressed_bytes, raw);
  if (!st.ok()) {
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText, st);
  }
  auto counts = proto::ScanWriteRequest(raw);
  if (!counts.ok()) {
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText, counts.status());
  }
  const uint64_t items = counts->samples + counts->histograms;
  if (!intake.AdmitHttp(kRemoteWriteReceiver, req, respond, kText, tenant, Budget::kSamples,
                        static_cast<double>(items))) {
    return;
  }
  QueueRecord rec;
  rec.kind = ItemKind::kRemoteWrite;
  rec.tenant = std::move(tenant);
  rec.items = static_cast<uint32_t>(std::min<uint64_t>(items, UINT32_MAX));
  rec.received_ms = NowMillis();
  rec.body = std::move(req.body());
  intake.SubmitHttp(kRemoteWriteReceiver, {&rec, 1}, req, respond, kText, http::Status::no_content);
}

}  // namespace strata::agent
