#include "ingest/log_distributor.h"

#include <fmt/format.h>

#include <vector>

#include "base/labels.h"
#include "base/math.h"
#include "base/mutex.h"
#include "base/units.h"
#include "ingest/rejection_report.h"

namespace strata::ingest {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(LogReason::kCount)> kLogReasonNames = {
    "rate_limited",
    "line_too_long",
    "stream_limit",
    "greater_than_max_sample_age",
    "too_far_in_future",
    "invalid_labels",
    "max_label_names_per_series",
    "label_name_too_long",
    "label_value_too_long",
    "too_far_behind",
    "structured_metadata_too_large",
    "structured_metadata_too_many",
};

constexpr double kBytesInMb = 1 << 20;  // Loki's MB in ingestion_rate_mb

// Loki's checks of a stream's labels, with its messages.
std::optional<std::pair<LogReason, std::string>> ValidateStream(const Labels& labels,
                                                                const limits::LogLimits& l) {
  auto text = [&] { return FormatLabels(labels); };
  if (l.max_label_names_per_series > 0 && labels.size() > l.max_label_names_per_series) {
    return std::pair{LogReason::kTooManyLabels,
                     fmt::format("entry for stream '{}' has {} label names; limit {}", text(),
                                 labels.size(), l.max_label_names_per_series)};
  }
  for (const auto& lb : labels) {
    if (!IsValidUtf8(lb.value)) {
      return std::pair{LogReason::kInvalidLabels,
                       fmt::format("error parsing labels '{}' with error: label {} is not valid "
                                   "UTF-8",
                                   text(), lb.name)};
    }
    if (l.max_label_name_length > 0 && lb.name.size() > l.max_label_name_length) {
      return std::pair{LogReason::kLabelNameTooLong,
                       fmt::format("stream '{}' has label name too long: '{}'", text(), lb.name)};
    }
    if (l.max_label_value_length > 0 && lb.value.size() > l.max_label_value_length) {
      return std::pair{LogReason::kLabelValueTooLong,
                       fmt::format("stream '{}' has label value too long: '{}'", text(), lb.value)};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view ReasonName(LogReason r) { return kLogReasonNames[static_cast<size_t>(r)]; }

LogDistributor::LogDistributor(const limits::TenantOverrides& limits,
                               prometheus::Registry& registry)
    : limits_(limits),
      tenants_(registry, {"strata_ingest_log_entries_received_total",
                          "Log entries received, before validation.",
                          "strata_ingest_log_entries_stored_total",
                          "Log entries stored (appended to the head and the WAL).",
                          "strata_ingest_log_entries_duplicate_total",
                          "Log entries received again identical to a stored one (accepted without "
                          "storing them twice).",
                          "strata_ingest_rejected_log_entries_total",
                          "Log entries refused, by tenant and reason (Loki's reasons)."}) {}

void LogDistributor::Push(const std::string& tenant, const proto::LokiPush& push, Done done) {
  PushOutcome outcome;
  logs::Storage* storage = storage_.load();
  if (storage == nullptr) {
    outcome.status = Status::Unavailable("log storage is not open (starting up or shutting down)");
    return done(std::move(outcome));
  }
  auto& ts = tenants_.For(tenant);
  const limits::LogLimits& l = limits_.For(tenant).logs;
  uint64_t total = 0;
  for (const auto& s : push.streams) total += s.entries.size();
  outcome.samples = total;
  ts.received->Increment(static_cast<double>(total));

  // Validate into flat arrays: the streams kept and, per stream, its entries kept.
  RejectionReport<LogReason> report("entries");
  const int64_t now_ns = NowMillis() * 1'000'000;
  // Configured durations may be anything up to int64 milliseconds: clamp, never wrap.
  const int64_t oldest_ns =
      SaturatingSub(now_ns, SaturatingMul(l.reject_old_samples_max_age_ms, 1'000'000));
  const int64_t newest_ns =
      SaturatingAdd(now_ns, SaturatingMul(l.creation_grace_period_ms, 1'000'000));
  std::vector<std::vector<LabelView>> labels;
  std::vector<std::vector<logs::EntryInput>> entries;
  labels.reserve(push.streams.size());
  entries.reserve(push.streams.size());
  uint64_t bytes = 0;
  for (const auto& s : push.streams) {
    auto text = [&] { return FormatLabels(s.labels); };
    if (auto bad = ValidateStream(s.labels, l)) {
      report.Add(bad->first, s.entries.size(), [&] { return bad->second; });
      continue;
    }
    std::vector<logs::EntryInput> kept;
    kept.reserve(s.entries.size());
    for (const auto& e : s.entries) {
      std::string_view line = e.line;
      auto md = push.MetadataOf(e);
      uint64_t md_bytes = 0;
      for (const auto& m : md) md_bytes += m.name.size() + m.value.size();
      if (l.max_line_size > 0 && line.size() > l.max_line_size) {
        if (!l.max_line_size_truncate) {
          report.Add(LogReason::kLineTooLong, 1, [&] {
            return fmt::format(
                "max entry size '{}' bytes exceeded for stream '{}' while adding an entry with "
                "length '{}' bytes",
                l.max_line_size, text(), line.size());
          });
          continue;
        }
        // Cut at a character boundary: never store half a UTF-8 sequence.
        size_t cut = l.max_line_size;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        line = line.substr(0, cut);
      }
      if (l.max_structured_metadata_size > 0 && md_bytes > l.max_structured_metadata_size) {
        report.Add(LogReason::kStructuredMetadataTooLarge, 1, [&] {
          return fmt::format(
              "stream '{}' has structured metadata too large: '{}' bytes, limit: '{}' bytes. "
              "Please see `limits_config.max_structured_metadata_size` or contact your Loki "
              "administrator to increase it",
              text(), md_bytes, l.max_structured_metadata_size);
        });
        continue;
      }
      if (l.max_structured_metadata_entries_count > 0 &&
          md.size() > l.max_structured_metadata_entries_count) {
        report.Add(LogReason::kStructuredMetadataTooMany, 1, [&] {
          return fmt::format(
              "stream '{}' has too many structured metadata labels: '{}', limit: '{}'. Please "
              "see `limits_config.max_structured_metadata_entries_count` or contact your Loki "
              "administrator to increase it",
              text(), md.size(), l.max_structured_metadata_entries_count);
        });
        continue;
      }
      if (l.reject_old_samples && l.reject_old_samples_max_age_ms > 0 && e.ts_ns < oldest_ns) {
        report.Add(LogReason::kTooOld, 1, [&] {
          return fmt::format(
              "entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: "
              "{}",
              text(), FormatRfc3339(e.ts_ns), FormatRfc3339(oldest_ns));
        });
        continue;
      }
      if (l.creation_grace_period_ms > 0 && e.ts_ns > newest_ns) {
        report.Add(LogReason::kTooFarInFuture, 1, [&] {
          return fmt::format("entry for stream '{}' has timestamp too new: {}", text(),
                             FormatRfc3339(e.ts_ns));
        });
        continue;
      }
      bytes += line.size() + md_bytes;
      kept.push_back({e.ts_ns, line, md});
    }
    if (kept.empty()) continue;
    labels.push_back(ViewOf(s.labels));
    entries.push_back(std::move(kept));
  }

  // The rate limit is on the bytes of the valid entries, all or nothing (as Loki's).
  uint64_t valid = 0;
  for (const auto& k : entries) valid += k.size();
  const double rate = l.ingestion_rate_mb * kBytesInMb;
  const double burst =
      l.ingestion_burst_size_mb > 0 ? l.ingestion_burst_size_mb * kBytesInMb : rate;
  if (int64_t wait = ts.bucket.Take(static_cast<double>(bytes), rate, burst); wait > 0) {
    report.Add(LogReason::kRateLimited, valid, [] { return std::string(); });
    ts.CountRefusals(report);
    outcome.status = Status::ResourceExhausted(fmt::format(
        "ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to "
        "ingest '{}' lines totaling '{}' bytes, reduce log volume or contact your Loki "
        "administrator to see if the limit can be increased",
        tenant, static_cast<uint64_t>(rate), valid, bytes));
    outcome.retry_after_s = wait;
    return done(std::move(outcome));
  }

  std::vector<logs::StreamInput> inputs;
  inputs.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    inputs.push_back({labels[i], HashLabels(labels[i]), entries[i]});
  }
  auto db = storage->GetOrCreate(tenant);
  if (!db.ok()) {
    outcome.status = db.status();
    return done(std::move(outcome));
  }
  logs::AppendLimits append_limits{l.max_global_streams_per_user,
                                   SaturatingMul(l.out_of_order_window_ms, 1'000'000)};
  auto appended = (*db)->Append(
      inputs, append_limits,
      [&](size_t idx, const logs::EntryInput* e, logs::Rejection r, int64_t oldest_ns) {
        if (r == logs::Rejection::kStreamLimit) {
          outcome.over_limit = true;
          report.Add(LogReason::kStreamLimit, inputs[idx].entries.size(), [&] {
            return fmt::format(
                "maximum active stream limit exceeded when trying to create stream {}, reduce "
                "the number of active streams (reduce labels or reduce label values), or "
                "contact your Loki administrator to see if the limit can be increased, user: "
                "'{}'",
                FormatLabels(inputs[idx].labels), tenant);
          });
          return;
        }
        if (r == logs::Rejection::kTooLarge) {
          report.Add(LogReason::kLineTooLong, 1, [&] {
            return fmt::format(
                "max entry size '{}' bytes exceeded for stream '{}' while adding an entry with "
                "length '{}' bytes (no limit is configured; this is the most a log entry can be)",
                logs::kMaxEntryBytes, FormatLabels(inputs[idx].labels), e->line.size());
          });
          return;
        }
        report.Add(LogReason::kTooFarBehind, 1, [&] {
          return fmt::format(
              "entry too far behind, entry timestamp is: {}, oldest acceptable timestamp is: {}",
              FormatRfc3339(e->ts_ns), FormatRfc3339(oldest_ns));
        });
      });
  ts.CountRefusals(report);
  if (!appended.ok()) {
    // Nothing of it is durable: the sender must retry, whatever the cause.
    outcome.status = Status::Unavailable(appended.status().message());
    return done(std::move(outcome));
  }
  outcome.refused = report.total();
  if (report.total() > 0) outcome.message = report.Render(total);
  (*db)->WhenDurable(
      appended->lsn,
      [&ts, accepted = appended->accepted, duplicates = appended->duplicates,
       outcome = std::move(outcome), done = std::move(done)](const Status& durable) mutable {
        if (!durable.ok()) {
          outcome.status =
              Status::Unavailable("log entries could not be made durable: " + durable.message());
        } else {
          ts.stored->Increment(static_cast<double>(accepted));
          ts.duplicates->Increment(static_cast<double>(duplicates));
        }
        done(std::move(outcome));
      });
}

}  // namespace strata::ingest
