#include "agent/receive/remote_write.h"

#include <fmt/format.h>

#include "base/coding.h"
#include "base/units.h"
#include "http/compression.h"
#include "http/error_response.h"
#include "http/status_map.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {
constexpr const char* kRemoteWriteReceiver = "remote_write";

QueueRecord Record(std::string tenant, uint64_t items, std::string body) {
  QueueRecord rec;
  rec.kind = ItemKind::kRemoteWrite;
  rec.tenant = std::move(tenant);
  rec.items = static_cast<uint32_t>(std::min<uint64_t>(items, UINT32_MAX));
  rec.received_ms = NowMillis();
  rec.body = std::move(body);
  return rec;
}

// Remote write 2.0 (`raw`, decompressed): queued as the 1.0 request it translates to, which
// every exporter and backend takes and merges. The answer carries 2.0's Written headers.
// Native histograms go along in 1.0's float form; a request with an invalid one is refused
// whole, with the reason. 2.0's created timestamps have no place in 1.0 (and `strata serve`
// does not use them).
void HandleV2(Intake& intake, std::string tenant, std::string_view raw, http::Request& req,
              const http::Responder& respond) {
  constexpr ErrorFormat kText = ErrorFormat::kText;
  auto refuse = [&](const Status& st) {
    http::Response res = http::ErrorResponse(req.version(), req.keep_alive(), kText,
                                             http::StatusFor(st), st.message());
    http::SetRemoteWriteWritten(res, 0, 0, 0);
    intake.CountRequest(kRemoteWriteReceiver, std::to_string(res.result_int()));
    respond.Send(std::move(res));
  };
  auto view = proto::DecodeWriteRequestV2(raw);
  if (!view.ok()) return refuse(view.status());
  for (const auto& h : view->histograms) {
    if (!h.h) {
      return refuse(Status::InvalidArgument(
          fmt::format("native histogram at {} is invalid: {}; nothing of this request was written",
                      h.t, h.invalid)));
    }
  }
  const uint64_t samples = view->samples.size(), histograms = view->histograms.size(),
                 exemplars = view->exemplars.size();
  if (!intake.AdmitHttp(kRemoteWriteReceiver, req, respond, kText, tenant, Budget::kSamples,
                        static_cast<double>(samples + histograms))) {
    return;
  }
  QueueRecord rec =
      Record(std::move(tenant), samples + histograms,
             proto::SnappyCompress(proto::EncodeWriteRequest(proto::ToWriteRequest(*view))));
  intake.SubmitHttp(kRemoteWriteReceiver, {&rec, 1}, req, respond, kText, http::Status::no_content,
                    {}, {}, http::RemoteWriteWritten(samples, histograms, exemplars));
}

}  // namespace

void HandleRemoteWrite(Intake& intake, uint64_t max_decompressed_bytes,
                       const std::string& default_tenant, http::Request& req,
                       const http::Responder& respond) {
  constexpr ErrorFormat kText = ErrorFormat::kText;
  std::string tenant;
  if (!intake.Tenant(kRemoteWriteReceiver, req, respond, default_tenant, kText, &tenant)) return;
  auto version = http::RemoteWriteVersion(req);
  if (!version.ok())
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText, version.status());
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
  if (*version == 2) return HandleV2(intake, std::move(tenant), raw, req, respond);
  auto counts = proto::ScanWriteRequest(raw);
  if (!counts.ok()) {
    return intake.Reply(kRemoteWriteReceiver, req, respond, kText, counts.status());
  }
  const uint64_t items = counts->samples + counts->histograms;
  if (!intake.AdmitHttp(kRemoteWriteReceiver, req, respond, kText, tenant, Budget::kSamples,
                        static_cast<double>(items))) {
    return;
  }
  QueueRecord rec = Record(std::move(tenant), items, std::move(req.body()));
  intake.SubmitHttp(kRemoteWriteReceiver, {&rec, 1}, req, respond, kText, http::Status::no_content);
}

}  // namespace strata::agent
