#include "ingest/distributor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/tenant.h"
#include "base/units.h"
#include "http/compression.h"
#include "ingest/validate.h"
#include "proto/otlp.h"
#include "proto/otlp_metrics.h"
#include "proto/remote_write.h"

namespace strata::ingest {
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kDefaultTenant = "anonymous";
constexpr size_t kMaxReportedErrors = 5;

Reason FromRejection(tsdb::Rejection r) {
  switch (r) {
    case tsdb::Rejection::kOutOfOrder:
      return Reason::kOutOfOrder;
    case tsdb::Rejection::kDuplicateTimestamp:
      return Reason::kDuplicateTimestamp;
    case tsdb::Rejection::kTooOld:
      return Reason::kTooOld;
    case tsdb::Rejection::kSeriesLimit:
      return Reason::kSeriesLimit;
    case tsdb::Rejection::kMetricSeriesLimit:
      return Reason::kMetricSeriesLimit;
  }
  return Reason::kOutOfOrder;
}

std::string DescribeRejection(tsdb::Rejection r, const Limits& limits, const Sample* s) {
  switch (r) {
    case tsdb::Rejection::kOutOfOrder:
      return fmt::format(
          "sample at {} is out of order: the series already has a newer sample (out-of-order "
          "ingestion is off; see limits.out_of_order_window)",
          s->t);
    case tsdb::Rejection::kDuplicateTimestamp:
      return fmt::format(
          "sample at {} has the same timestamp as a stored sample but a different value", s->t);
    case tsdb::Rejection::kTooOld:
      return fmt::format("sample at {} is older than the out-of-order window of {}", s->t,
                         FormatDurationMillis(limits.out_of_order_window_ms));
    case tsdb::Rejection::kSeriesLimit:
      return fmt::format(
          "new series refused: the tenant has reached its limit of {} active series "
          "(limits.max_active_series)",
          limits.max_active_series);
    case tsdb::Rejection::kMetricSeriesLimit:
      return fmt::format(
          "new series refused: its metric has reached the limit of {} series "
          "(limits.max_series_per_metric)",
          limits.max_series_per_metric);
  }
  return "rejected";
}

// Tallies refusals of one request and renders the 400 message.
class RejectionReport {
 public:
  void Add(Reason r, uint64_t samples, const std::function<std::string()>& message) {
    counts_[static_cast<size_t>(r)] += samples;
    total_ += samples;
    if (messages_.size() < kMaxReportedErrors) messages_.push_back(message());
  }
  uint64_t total() const { return total_; }
  const std::array<uint64_t, static_cast<size_t>(Reason::kCount)>& counts() const {
    return counts_;
  }
  std::string Render(uint64_t samples_in_request) const {
    std::string by_reason;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      by_reason += fmt::format("{}{}={}", by_reason.empty() ? "" : ", ",
                               ReasonName(static_cast<Reason>(i)), counts_[i]);
    }
    std::string out = fmt::format("rejected {} of {} samples ({}); the others were stored. ",
                                  total_, samples_in_request, by_reason);
    out += total_ > messages_.size() ? "First errors: " : "Errors: ";
    for (size_t i = 0; i < messages_.size(); ++i) {
      out += fmt::format("{}{}) {}", i ? "; " : "", i + 1, messages_[i]);
    }
    return out;
  }

 private:
  std::array<uint64_t, static_cast<size_t>(Reason::kCount)> counts_{};
  uint64_t total_ = 0;
  std::vector<std::string> messages_;
};

}  // namespace

Distributor::Distributor(const IngestConfig& config, prometheus::Registry& registry)
    : config_(config),
      received_family_(prometheus::BuildCounter()
                           .Name("strata_ingest_samples_received_total")
                           .Help("Samples received in remote-write requests, before validation.")
                           .Register(registry)),
      accepted_family_(prometheus::BuildCounter()
                           .Name("strata_ingest_samples_stored_total")
                           .Help("Samples stored (appended to the head and the WAL).")
                           .Register(registry)),
      duplicate_family_(prometheus::BuildCounter()
                            .Name("strata_ingest_samples_duplicate_total")
                            .Help("Samples received again with the same timestamp and value "
                                  "(accepted without storing them twice).")
                            .Register(registry)),
      rejected_family_(prometheus::BuildCounter()
                           .Name("strata_ingest_rejected_samples_total")
                           .Help("Samples refused, by tenant and reason.")
                           .Register(registry)),
      requests_family_(prometheus::BuildCounter()
                           .Name("strata_ingest_requests_total")
                           .Help("Remote-write requests by tenant and response code.")
                           .Register(registry)) {}

void Distributor::Reply(const http::Request& req, const http::Responder& respond, http::Status code,
                        std::string msg, const std::string& tenant) {
  requests_family_.Add({{"tenant", tenant}, {"code", std::to_string(static_cast<int>(code))}})
      .Increment();
  respond.Send(http::TextResponse(req, code, std::move(msg)));
}

Distributor::TenantState& Distributor::StateFor(const std::string& tenant) {
  {
    std::shared_lock lk(tenants_mu_);
    auto it = tenants_.find(tenant);
    if (it != tenants_.end()) return *it->second;
  }
  std::unique_lock lk(tenants_mu_);
  auto& st = tenants_[tenant];
  if (!st) {
    st = std::make_unique<TenantState>();
    st->received = &received_family_.Add({{"tenant", tenant}});
    st->accepted = &accepted_family_.Add({{"tenant", tenant}});
    st->duplicates = &duplicate_family_.Add({{"tenant", tenant}});
    for (size_t i = 0; i < st->rejected.size(); ++i) {
      st->rejected[i] =
          &rejected_family_.Add({{"tenant", tenant}, {"reason", std::string(kReasonNames[i])}});
    }
  }
  return *st;
}

bool Distributor::Tenant(const http::Request& req, const http::Responder& respond,
                         std::string* tenant) const {
  auto it = req.find(kTenantHeader);
  if (it == req.end()) {
    if (config_.require_tenant) {
      respond.Send(http::TextResponse(
          req, http::Status::unauthorized,
          fmt::format("no tenant: set the {} header (auth.require_tenant is on)", kTenantHeader)));
      return false;
    }
    *tenant = kDefaultTenant;
    return true;
  }
  *tenant = std::string(it->value());
  Status st = ValidateTenantId(*tenant);
  if (!st.ok()) {
    respond.Send(
        http::TextResponse(req, http::Status::bad_request,
                           fmt::format("invalid {} header: {}", kTenantHeader, st.message())));
    return false;
  }
  return true;
}

void Distributor::HandlePush(http::Request& req, const http::Responder& respond) {
  std::string tenant;
  if (!Tenant(req, respond, &tenant)) return;
  if (auto ct = req.find(bhttp::field::content_type);
      ct != req.end() && ct->value().find("io.prometheus.write.v2.Request") != std::string::npos) {
    return Reply(req, respond, http::Status::unsupported_media_type,
                 "remote write 2.0 (io.prometheus.write.v2.Request) is not supported yet; "
                 "send remote write 1.0 (protobuf_message: prometheus.WriteRequest)",
                 tenant);
  }
  if (auto ce = req.find(bhttp::field::content_encoding);
      ce != req.end() && ce->value() != "snappy") {
    return Reply(req, respond, http::Status::unsupported_media_type,
                 fmt::format("unsupported Content-Encoding \"{}\": remote write bodies are snappy",
                             std::string(ce->value())),
                 tenant);
  }

  std::string raw;
  Status st = proto::SnappyDecompress(req.body(), config_.max_decompressed_body_bytes, raw);
  if (!st.ok()) {
    auto code = st.code() == Status::Code::kTooLarge ? http::Status::payload_too_large
                                                     : http::Status::bad_request;
    return Reply(req, respond, code, st.message(), tenant);
  }
  auto decoded = proto::DecodeWriteRequest(raw);
  if (!decoded.ok())
    return Reply(req, respond, http::Status::bad_request, decoded.status().message(), tenant);
  Ingest(req, respond, tenant, *decoded, {}, [&req](uint64_t refused, const std::string& msg) {
    return refused == 0 ? http::TextResponse(req, http::Status::no_content, "")
                        : http::TextResponse(req, http::Status::bad_request, msg);
  });
}

void Distributor::HandleOtlp(http::Request& req, const http::Responder& respond) {
  std::string tenant;
  if (!Tenant(req, respond, &tenant)) return;
  const std::string_view content_type = http::MediaType(req);
  const bool json = content_type == "application/json";
  if (!json && content_type != "application/x-protobuf") {
    return Reply(req, respond, http::Status::unsupported_media_type,
                 fmt::format("unsupported Content-Type \"{}\": OTLP/HTTP takes "
                             "application/x-protobuf or application/json",
                             content_type),
                 tenant);
  }
  std::string raw;
  http::Status code;
  if (Status st = http::DecodeBody(req, config_.max_decompressed_body_bytes, raw, &code);
      !st.ok()) {
    return Reply(req, respond, code, st.message(), tenant);
  }
  if (json) {
    auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kMetrics, raw);
    if (!pb.ok())
      return Reply(req, respond, http::Status::bad_request, pb.status().message(), tenant);
    raw = std::move(*pb);
  }
  auto translated = proto::TranslateOtlpMetrics(raw);
  if (!translated.ok()) {
    return Reply(req, respond, http::Status::bad_request, translated.status().message(), tenant);
  }
  // The translation is re-read as a remote-write request, so validation and storage are the
  // same code for both protocols.
  std::string encoded = proto::EncodeWriteRequest(translated->request);
  auto decoded = proto::DecodeWriteRequest(encoded);
  if (!decoded.ok()) {
    return Reply(req, respond, http::Status::internal_server_error, decoded.status().message(),
                 tenant);
  }
  Refusals untranslatable{translated->dropped, std::move(translated->drop_reasons)};
  Ingest(req, respond, tenant, *decoded, untranslatable,
         [&req, json](uint64_t refused, const std::string& msg) {
           http::Response res(http::Status::ok, req.version());
           res.keep_alive(req.keep_alive());
           res.set(bhttp::field::content_type,
                   json ? "application/json" : "application/x-protobuf");
           res.body() = proto::OtlpExportResponse(proto::OtlpSignal::kMetrics, refused, msg, json);
           return res;
         });
}

void Distributor::Ingest(const http::Request& req, const http::Responder& respond,
                         const std::string& tenant, const proto::WriteRequestView& wr,
                         const Refusals& refused_before, const ResponseFn& make_response) {
  tsdb::Storage* storage = storage_.load();
  if (storage == nullptr) {
    return Reply(req, respond, http::Status::service_unavailable,
                 "not ready: WAL replay is still running", tenant);
  }
  TenantState& ts = StateFor(tenant);
  const Limits& limits = config_.LimitsFor(tenant);
  uint64_t total = wr.samples.size() + refused_before.count;
  for (const auto& s : wr.series) total += s.histograms;
  ts.received->Increment(static_cast<double>(total));
  if (int64_t wait = ts.bucket.Take(static_cast<double>(total), limits.ingestion_rate,
                                    static_cast<double>(limits.ingestion_burst));
      wait > 0) {
    ts.rejected[static_cast<size_t>(Reason::kRateLimited)]->Increment(static_cast<double>(total));
    requests_family_.Add({{"tenant", tenant}, {"code", "429"}}).Increment();
    http::Response res = http::TextResponse(
        req, http::Status::too_many_requests,
        fmt::format("ingestion rate limit of {} samples/s (burst {}) exceeded by tenant {} with {} "
                    "samples; retry after {}s",
                    limits.ingestion_rate, limits.ingestion_burst, tenant, total, wait));
    res.set(bhttp::field::retry_after, std::to_string(wait));
    return respond.Send(std::move(res));
  }

  // Validate, keeping normalized labels and in-bound samples in flat arrays.
  RejectionReport report;
  if (refused_before.count > 0) {
    report.Add(Reason::kUnsupportedOtlp, refused_before.count, [&] {
      std::string joined;
      for (const auto& m : refused_before.messages) joined += (joined.empty() ? "" : "; ") + m;
      return joined;
    });
  }
  int64_t now = NowMillis();
  std::vector<LabelView> norm;
  std::vector<LabelView> all_labels;
  all_labels.reserve(wr.labels.size());
  std::vector<Sample> samples;
  samples.reserve(wr.samples.size());
  struct Kept {
    size_t labels_begin, labels_end, samples_begin, samples_end;
  };
  std::vector<Kept> kept;
  kept.reserve(wr.series.size());
  for (size_t i = 0; i < wr.series.size(); ++i) {
    const auto& series = wr.series[i];
    auto labels = wr.LabelsOf(series);
    auto in_samples = wr.SamplesOf(series);
    if (series.histograms > 0) {
      report.Add(Reason::kNativeHistogram, series.histograms, [&] {
        return fmt::format("series {}: native histogram samples are not supported yet",
                           DescribeSeries(labels));
      });
    }
    if (in_samples.empty()) continue;
    if (auto bad = ValidateLabels(labels, limits, norm)) {
      report.Add(bad->reason, in_samples.size(), [&] { return bad->message; });
      continue;
    }
    Kept k{all_labels.size(), 0, samples.size(), 0};
    all_labels.insert(all_labels.end(), norm.begin(), norm.end());
    k.labels_end = all_labels.size();
    for (const Sample& s : in_samples) {
      if (auto bad = ValidateTimestamp(labels, s.t, now, limits)) {
        report.Add(bad->reason, 1, [&] { return bad->message; });
      } else {
        samples.push_back(s);
      }
    }
    k.samples_end = samples.size();
    if (k.samples_end > k.samples_begin) kept.push_back(k);
  }
  std::vector<tsdb::SeriesInput> inputs;
  inputs.reserve(kept.size());
  for (const auto& k : kept) {
    std::span<const LabelView> l(all_labels.data() + k.labels_begin, k.labels_end - k.labels_begin);
    inputs.push_back({l, HashLabels(l),
                      std::span<const Sample>(samples.data() + k.samples_begin,
                                              k.samples_end - k.samples_begin)});
  }
  std::vector<tsdb::MetadataInput> metadata;
  metadata.reserve(wr.metadata.size());
  for (const auto& m : wr.metadata) {
    if (m.family.empty() || !IsValidUtf8(m.family) || !IsValidUtf8(m.help) ||
        !IsValidUtf8(m.unit)) {
      continue;
    }
    metadata.push_back({m.family, static_cast<uint8_t>(m.type), m.unit, m.help});
  }

  auto db = storage->GetOrCreate(tenant);
  if (!db.ok())
    return Reply(req, respond, http::Status::internal_server_error, db.status().ToString(), tenant);
  tsdb::AppendLimits append_limits{limits.max_active_series, limits.max_series_per_metric,
                                   limits.out_of_order_window_ms};
  auto appended = (*db)->Append(
      inputs, metadata, append_limits, [&](size_t idx, const Sample* s, tsdb::Rejection r) {
        uint64_t n = s ? 1 : inputs[idx].samples.size();
        report.Add(FromRejection(r), n, [&] {
          return fmt::format("series {}: {}", DescribeSeries(inputs[idx].labels),
                             DescribeRejection(r, limits, s));
        });
      });
  if (!appended.ok()) {
    return Reply(req, respond, http::Status::service_unavailable, appended.status().message(),
                 tenant);
  }
  ts.accepted->Increment(static_cast<double>(appended->accepted));
  ts.duplicates->Increment(static_cast<double>(appended->duplicates));
  for (size_t i = 0; i < report.counts().size(); ++i) {
    if (report.counts()[i] > 0) ts.rejected[i]->Increment(static_cast<double>(report.counts()[i]));
  }

  // Answer once everything this request stored (or found already stored) is durable.
  http::Response res =
      make_response(report.total(), report.total() == 0 ? std::string() : report.Render(total));
  prometheus::Counter& requests =
      requests_family_.Add({{"tenant", tenant}, {"code", std::to_string(res.result_int())}});
  // The 503 counter is looked up only on that rare path (on the WAL thread).
  (*db)->WhenDurable(appended->lsn, [this, tenant, respond, res = std::move(res),
                                     &requests](const Status& durable) mutable {
    if (durable.ok()) {
      requests.Increment();
      respond.Send(std::move(res));
      return;
    }
    requests_family_.Add({{"tenant", tenant}, {"code", "503"}}).Increment();
    http::Request dummy;
    dummy.version(11);
    respond.Send(http::TextResponse(dummy, http::Status::service_unavailable,
                                    "samples could not be made durable: " + durable.message()));
  });
}

}  // namespace strata::ingest
