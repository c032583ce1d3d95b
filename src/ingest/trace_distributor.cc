#include "ingest/trace_distributor.h"

#include <fmt/format.h>

#include <array>
#include <vector>

#include "base/encoding.h"
#include "ingest/rejection_report.h"

namespace strata::ingest {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(TraceReason::kCount)> kTraceReasonNames =
    {"rate_limited", "trace_too_large", "invalid_id"};

}  // namespace

std::string_view ReasonName(TraceReason r) { return kTraceReasonNames[static_cast<size_t>(r)]; }

TraceDistributor::TraceDistributor(const limits::TenantOverrides& limits,
                                   prometheus::Registry& registry)
    : limits_(limits),
      tenants_(
          registry,
          {"strata_ingest_spans_received_total", "Spans received, before validation.",
           "strata_ingest_spans_stored_total", "Spans stored (appended to the head and the WAL).",
           "strata_ingest_spans_duplicate_total",
           "Spans received again in a fragment identical to a stored one (a retry): kept once.",
           "strata_ingest_rejected_spans_total",
           "Spans refused, by tenant and reason (rate_limited and trace_too_large are Tempo's; "
           "Tempo refuses a request with invalid IDs whole, Strata only those spans)."}) {}

void TraceDistributor::Push(const std::string& tenant, const proto::SplitTraces& split, Done done) {
  PushOutcome outcome;
  traces::Storage* storage = storage_.load();
  if (storage == nullptr) {
    outcome.status =
        Status::Unavailable("trace storage is not open (starting up or shutting down)");
    return done(std::move(outcome));
  }
  auto& ts = tenants_.For(tenant);
  const limits::TraceLimits& l = limits_.For(tenant).traces;
  const uint64_t total = split.spans + split.invalid;
  outcome.samples = total;
  ts.received->Increment(static_cast<double>(total));
  RejectionReport<TraceReason> report("spans");
  if (split.invalid > 0) {
    report.Add(TraceReason::kInvalidId, split.invalid, [&] { return split.invalid_message; });
  }

  // The rate limit is on the request's protobuf size, all or nothing (as Tempo's).
  const uint64_t bytes = split.bytes;
  const double rate = l.ingestion_rate_limit_bytes;
  const double burst = l.ingestion_burst_size_bytes > 0 ? l.ingestion_burst_size_bytes : rate;
  if (int64_t wait = ts.bucket.Take(static_cast<double>(bytes), rate, burst); wait > 0) {
    report.Add(TraceReason::kRateLimited, split.spans, [] { return std::string(); });
    ts.CountRefusals(report);
    outcome.status = Status::ResourceExhausted(
        fmt::format("RATE_LIMITED: ingestion rate limit ({} bytes) exceeded while adding {} "
                    "bytes for user {}",
                    static_cast<uint64_t>(rate), bytes, tenant));
    outcome.retry_after_s = wait;
    return done(std::move(outcome));
  }

  if (split.fragments.empty()) {
    // Nothing to store: no tenant is created for it.
    ts.CountRefusals(report);
    outcome.refused = report.total();
    outcome.message = report.Render(total);
    return done(std::move(outcome));
  }
  const std::vector<traces::Fragment> fragments = traces::FragmentsOf(split);
  auto db = storage->GetOrCreate(tenant);
  if (!db.ok()) {
    outcome.status = db.status();
    return done(std::move(outcome));
  }
  const uint64_t max_bytes = l.max_bytes_per_trace;
  auto appended = (*db)->Append(fragments, {max_bytes}, [&](size_t i, traces::Rejection) {
    // A fragment over what a WAL record holds is over any per-trace limit too.
    const auto& f = fragments[i];
    report.Add(TraceReason::kTraceTooLarge, f.spans, [&] {
      return fmt::format(
          "TRACE_TOO_LARGE: max size of trace ({}) exceeded while adding {} bytes to trace {} "
          "for tenant {}",
          max_bytes > 0 ? max_bytes : traces::kMaxFragmentBytes, f.resource_spans.size(),
          HexEncode(f.trace_id), tenant);
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
  std::function<void()> stored;
  if (on_stored_ && !appended->stored.empty()) {
    std::vector<traces::Fragment> taken;
    taken.reserve(appended->stored.size());
    for (uint32_t i : appended->stored) taken.push_back(fragments[i]);
    stored = on_stored_(tenant, taken);
  }
  (*db)->WhenDurable(appended->lsn, [&ts, spans = appended->spans, stored = std::move(stored),
                                     duplicates = appended->duplicates,
                                     outcome = std::move(outcome),
                                     done = std::move(done)](const Status& durable) mutable {
    if (!durable.ok()) {
      outcome.status = Status::Unavailable("spans could not be made durable: " + durable.message());
    } else {
      ts.stored->Increment(static_cast<double>(spans));
      ts.duplicates->Increment(static_cast<double>(duplicates));
      if (stored) stored();
    }
    done(std::move(outcome));
  });
}

}  // namespace strata::ingest
