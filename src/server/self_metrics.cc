#include "server/self_metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "base/metric_family.h"
#include "base/version.h"

namespace strata::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// A family with a sample per tenant.
class FamilyBuilder : public MetricFamilyBuilder {
 public:
  using MetricFamilyBuilder::MetricFamilyBuilder;
  void Add(const std::string& tenant, double v) {
    MetricFamilyBuilder::Add({{"tenant", tenant}}, v);
  }
};

std::vector<MetricFamily> StorageFamilies(const tsdb::Storage& storage) {
  FamilyBuilder series("strata_head_series", "Active series in the head.", MetricType::Gauge);
  FamilyBuilder chunks("strata_head_chunks", "Gorilla chunks in the head.", MetricType::Gauge);
  FamilyBuilder bytes("strata_head_memory_bytes",
                      "Estimated head memory: series, interned labels, chunks and index.",
                      MetricType::Gauge);
  FamilyBuilder per_series("strata_head_memory_bytes_per_series",
                           "Estimated head memory divided by active series.", MetricType::Gauge);
  FamilyBuilder appended("strata_head_samples_appended_total",
                         "Samples appended to the head since start, WAL replay included.",
                         MetricType::Counter);
  FamilyBuilder fsyncs("strata_wal_fsyncs_total", "WAL fsyncs since start.", MetricType::Counter);
  FamilyBuilder written("strata_wal_written_bytes_total", "WAL bytes written since start.",
                        MetricType::Counter);
  FamilyBuilder errors("strata_wal_write_errors_total",
                       "Failed WAL writes or fsyncs; the data is kept and retried.",
                       MetricType::Counter);
  FamilyBuilder segment("strata_wal_segment_current", "Number of the WAL segment being written.",
                        MetricType::Gauge);
  for (const auto& [tenant, db] : storage.Tenants()) {
    tsdb::HeadStats hs = db->head().Stats();
    double total = static_cast<double>(hs.total_bytes());
    series.Add(tenant, static_cast<double>(hs.series));
    chunks.Add(tenant, static_cast<double>(hs.chunks));
    bytes.Add(tenant, total);
    per_series.Add(tenant, hs.series ? total / static_cast<double>(hs.series) : 0);
    appended.Add(tenant, static_cast<double>(hs.samples_appended));
    wal::WalStats ws = db->wal_stats();
    fsyncs.Add(tenant, static_cast<double>(ws.fsyncs));
    written.Add(tenant, static_cast<double>(ws.bytes_written));
    errors.Add(tenant, static_cast<double>(ws.write_errors));
    segment.Add(tenant, ws.current_segment);
  }
  return {series.Take(), chunks.Take(),  bytes.Take(),  per_series.Take(), appended.Take(),
          fsyncs.Take(), written.Take(), errors.Take(), segment.Take()};
}

}  // namespace

SelfMetrics::SelfMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      http_requests_(prometheus::BuildCounter()
                         .Name("strata_http_requests_total")
                         .Help("HTTP requests by route and status code.")
                         .Register(*registry_),
                     {"route", "code"}),
      http_duration_(
          prometheus::BuildHistogram()
              .Name("strata_http_request_duration_seconds")
              .Help("HTTP request latency by route, from request read to response written.")
              .Register(*registry_),
          {"route"}, HttpLatencyBuckets()),
      ready_(prometheus::BuildGauge()
                 .Name("strata_ready")
                 .Help("1 once the WAL has been replayed and ingestion is open.")
                 .Register(*registry_)
                 .Add({})) {
  prometheus::BuildGauge()
      .Name("strata_build_info")
      .Help("Build information; the value is 1.")
      .Register(*registry_)
      .Add({{"version", kVersion}, {"revision", kRevision}})
      .Set(1);
}

void SelfMetrics::ObserveHttp(const std::string& route, unsigned code, double seconds) {
  http_requests_.Get({route, std::to_string(code)}).Increment();
  http_duration_.Get({route}).Observe(seconds);
}

std::string SelfMetrics::Render(const tsdb::Storage* storage) const {
  auto families = registry_->Collect();
  if (storage) {
    auto more = StorageFamilies(*storage);
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace strata::server
