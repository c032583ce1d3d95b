#include "ingest/distributor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/mutex.h"
#include "base/units.h"
#include "ingest/rejection_report.h"
#include "ingest/validate.h"

namespace strata::ingest {
namespace {

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

std::string DescribeRejection(tsdb::Rejection r, const limits::IngestLimits& limits,
                              std::optional<int64_t> t) {
  switch (r) {
    case tsdb::Rejection::kOutOfOrder:
      return fmt::format(
          "sample at {} is out of order: the series already has a newer sample (out-of-order "
          "ingestion is off; see limits.out_of_order_window)",
          t.value_or(0));
    case tsdb::Rejection::kDuplicateTimestamp:
      return fmt::format(
          "sample at {} has the same timestamp as a stored sample but a different value",
          t.value_or(0));
    case tsdb::Rejection::kTooOld:
      return fmt::format("sample at {} is older than the out-of-order window of {}", t.value_or(0),
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

}  // namespace

Distributor::Distributor(const limits::TenantOverrides& limits, prometheus::Registry& registry)
    : limits_(limits),
      tenants_(registry,
               {"strata_ingest_samples_received_total",
                "Samples received in remote-write requests, before validation.",
                "strata_ingest_samples_stored_total",
                "Samples stored (appended to the head and the WAL).",
                "strata_ingest_samples_duplicate_total",
                "Samples received again with the same timestamp and value (accepted without "
                "storing them twice).",
                "strata_ingest_rejected_samples_total", "Samples refused, by tenant and reason."}) {
}

void Distributor::Push(const std::string& tenant, const proto::WriteRequestView& wr,
                       const Refusals& refused_before, Done done) {
  PushOutcome outcome;
  tsdb::Storage* storage = storage_.load();
  if (storage == nullptr) {
    outcome.status = Status::Unavailable("not ready: WAL replay is still running");
    return done(std::move(outcome));
  }
  auto& ts = tenants_.For(tenant);
  const limits::IngestLimits& limits = limits_.For(tenant).ingest;
  uint64_t total = wr.samples.size() + wr.histograms.size() + refused_before.count;
  outcome.samples = total;
  ts.received->Increment(static_cast<double>(total));
  const double burst = limits.ingestion_burst > 0 ? static_cast<double>(limits.ingestion_burst)
                                                  : limits.ingestion_rate;
  if (int64_t wait = ts.bucket.Take(static_cast<double>(total), limits.ingestion_rate, burst);
      wait > 0) {
    ts.rejected[static_cast<size_t>(Reason::kRateLimited)]->Increment(static_cast<double>(total));
    outcome.status = Status::ResourceExhausted(
        fmt::format("ingestion rate limit of {} samples/s (burst {}) exceeded by tenant {} with {} "
                    "samples; retry after {}s",
                    limits.ingestion_rate, burst, tenant, total, wait));
    outcome.retry_after_s = wait;
    return done(std::move(outcome));
  }

  auto db = storage->GetOrCreate(tenant);
  if (!db.ok()) {
    outcome.status = db.status();
    return done(std::move(outcome));
  }
  // Look every series up as it came: one the head holds, with labels that passed validation
  // since this process started, needs no validation now (the limits do not change while it
  // runs). inputs[i] and lookup.found[i] belong to wr.series[i] until the kept are packed.
  std::vector<tsdb::SeriesInput> inputs;
  inputs.reserve(wr.series.size());
  for (const auto& series : wr.series) {
    auto labels = wr.LabelsOf(series);
    inputs.push_back({labels, HashLabels(labels), {}});
  }
  tsdb::SeriesLookup lookup;
  (*db)->Lookup(inputs, lookup);

  // Validate, keeping in-bound samples in flat arrays.
  RejectionReport<Reason> report("samples");
  if (refused_before.count > 0) {
    report.Add(Reason::kUnsupportedOtlp, refused_before.count, [&] {
      std::string joined;
      for (const auto& m : refused_before.messages) joined += (joined.empty() ? "" : "; ") + m;
      return joined;
    });
  }
  int64_t now = NowMillis();
  std::vector<LabelView> norm;
  // Labels of the series whose validation removed some; the others keep pointing into `wr`.
  // Never grows past its reserve, so spans into it stay valid.
  std::vector<LabelView> normalized;
  normalized.reserve(wr.labels.size());
  std::vector<Sample> samples;
  samples.reserve(wr.samples.size());
  std::vector<histogram::HistogramSample> histograms;
  histograms.reserve(wr.histograms.size());
  // Exemplars and their labels (sorted) for the series kept. Those that are not valid are
  // left out without failing the write, as Prometheus does.
  std::vector<tsdb::ExemplarInput> exemplars;
  std::vector<LabelView> exemplar_labels;
  exemplar_labels.reserve(wr.exemplar_labels.size());
  uint64_t exemplars_invalid = 0;
  struct Kept {
    size_t series;  // index in wr.series
    size_t samples_begin, samples_end, exemplars_begin, exemplars_end, histograms_begin,
        histograms_end;
  };
  std::vector<Kept> kept;
  kept.reserve(wr.series.size());
  for (size_t i = 0; i < wr.series.size(); ++i) {
    const auto& series = wr.series[i];
    auto labels = wr.LabelsOf(series);
    auto in_samples = wr.SamplesOf(series);
    auto in_exemplars = wr.ExemplarsOf(series);
    auto in_histograms = wr.HistogramsOf(series);
    if (in_samples.empty() && in_exemplars.empty() && in_histograms.empty()) continue;
    if (!lookup.found[i].labels_checked) {
      if (auto bad = ValidateLabels(labels, limits, norm)) {
        if (!in_samples.empty() || !in_histograms.empty()) {
          report.Add(bad->reason, in_samples.size() + in_histograms.size(),
                     [&] { return bad->message; });
        }
        exemplars_invalid += in_exemplars.size();
        continue;
      }
      // `norm` is `labels` with some left out: the same size means the same labels.
      if (norm.size() != labels.size()) {
        inputs[i].labels = {normalized.data() + normalized.size(), norm.size()};
        inputs[i].hash = HashLabels(norm);
        lookup.found[i] = {};  // looked up under the stored labels by Append
        normalized.insert(normalized.end(), norm.begin(), norm.end());
      }
    }
    Kept k{i, samples.size(), 0, exemplars.size(), 0, histograms.size(), 0};
    for (const Sample& s : in_samples) {
      if (auto bad = ValidateTimestamp(labels, s.t, now, limits)) {
        report.Add(bad->reason, 1, [&] { return bad->message; });
      } else {
        samples.push_back(s);
      }
    }
    k.samples_end = samples.size();
    for (const auto& h : in_histograms) {
      if (!h.h) {
        report.Add(Reason::kInvalidNativeHistogram, 1, [&] {
          return fmt::format("series {}: native histogram at {} is invalid: {}",
                             DescribeSeries(labels), h.t, h.invalid);
        });
      } else if (auto bad = ValidateTimestamp(labels, h.t, now, limits)) {
        report.Add(bad->reason, 1, [&] { return bad->message; });
      } else {
        histograms.push_back({h.t, h.h});
      }
    }
    k.histograms_end = histograms.size();
    for (const auto& e : in_exemplars) {
      auto el = wr.LabelsOf(e);
      const bool valid = std::all_of(el.begin(), el.end(), [](const LabelView& l) {
        return !l.name.empty() && IsValidUtf8(l.name) && IsValidUtf8(l.value);
      });
      if (!valid || ValidateTimestamp(labels, e.t, now, limits)) {
        ++exemplars_invalid;
        continue;
      }
      const size_t begin = exemplar_labels.size();
      exemplar_labels.insert(exemplar_labels.end(), el.begin(), el.end());
      std::sort(exemplar_labels.begin() + static_cast<std::ptrdiff_t>(begin), exemplar_labels.end(),
                [](const LabelView& a, const LabelView& b) { return a.name < b.name; });
      // exemplar_labels never grows past its reserve: the span stays valid.
      exemplars.push_back({{exemplar_labels.data() + begin, el.size()}, e.value, e.t});
    }
    k.exemplars_end = exemplars.size();
    if (k.samples_end > k.samples_begin || k.exemplars_end > k.exemplars_begin ||
        k.histograms_end > k.histograms_begin) {
      kept.push_back(k);
    }
  }
  // Pack the kept series to the front (k.series >= n, so nothing is overwritten early).
  for (size_t n = 0; n < kept.size(); ++n) {
    const Kept& k = kept[n];
    inputs[n] = {
        inputs[k.series].labels, inputs[k.series].hash,
        std::span<const Sample>(samples.data() + k.samples_begin, k.samples_end - k.samples_begin),
        std::span<const tsdb::ExemplarInput>(exemplars.data() + k.exemplars_begin,
                                             k.exemplars_end - k.exemplars_begin),
        std::span<const histogram::HistogramSample>(histograms.data() + k.histograms_begin,
                                                    k.histograms_end - k.histograms_begin)};
    lookup.found[n] = lookup.found[k.series];
  }
  inputs.resize(kept.size());
  lookup.found.resize(kept.size());
  std::vector<tsdb::MetadataInput> metadata;
  metadata.reserve(wr.metadata.size());
  for (const auto& m : wr.metadata) {
    if (m.family.empty() || !IsValidUtf8(m.family) || !IsValidUtf8(m.help) ||
        !IsValidUtf8(m.unit)) {
      continue;
    }
    metadata.push_back({m.family, static_cast<uint8_t>(m.type), m.unit, m.help});
  }

  tsdb::AppendLimits append_limits{limits.max_active_series, limits.max_series_per_metric,
                                   limits.out_of_order_window_ms};
  auto appended = (*db)->Append(
      inputs, lookup, metadata, append_limits,
      [&](size_t idx, std::optional<int64_t> t, tsdb::Rejection r) {
        uint64_t n = t ? 1 : inputs[idx].samples.size() + inputs[idx].histograms.size();
        report.Add(FromRejection(r), n, [&] {
          return fmt::format("series {}: {}", DescribeSeries(inputs[idx].labels),
                             DescribeRejection(r, limits, t));
        });
      });
  if (!appended.ok()) {
    // Nothing of it is durable: the sender must retry, whatever the cause.
    outcome.status = Status::Unavailable(appended.status().message());
    return done(std::move(outcome));
  }
  if (const uint64_t dropped = exemplars_invalid + appended->exemplars_refused; dropped > 0) {
    spdlog::debug("msg=\"exemplars not stored\" tenant={} stored={} dropped={}", tenant,
                  appended->exemplars, dropped);
  }
  ts.stored->Increment(static_cast<double>(appended->accepted));
  ts.duplicates->Increment(static_cast<double>(appended->duplicates));
  ts.CountRefusals(report);

  // Report once everything this request stored (or found already stored) is durable.
  outcome.refused = report.total();
  outcome.exemplars = appended->exemplars;
  outcome.histograms = appended->histograms;
  if (report.total() > 0) outcome.message = report.Render(total);
  (*db)->WhenDurable(appended->lsn, [outcome = std::move(outcome),
                                     done = std::move(done)](const Status& durable) mutable {
    if (!durable.ok()) {
      outcome.status =
          Status::Unavailable("samples could not be made durable: " + durable.message());
    }
    done(std::move(outcome));
  });
}

}  // namespace strata::ingest
