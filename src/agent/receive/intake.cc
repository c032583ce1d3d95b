#include "agent/receive/intake.h"

#include <fmt/format.h>

#include "base/mutex.h"
#include "http/error_response.h"
#include "http/status_map.h"
#include "http/tenant.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {

constexpr const char* kKindNames[] = {
    "",          "remote write",           "OTLP metrics", "OTLP logs", "OTLP traces",
    "Loki push", "tail-sampling decisions"};
constexpr const char* kBudgetNames[] = {"samples", "log_bytes", "spans"};

// How long a sender should wait before retrying a request refused for back-pressure.
constexpr const char* kBackpressureRetryAfter = "5";

// An error answer; back-pressure (503) tells the sender when to retry.
http::Response AgentError(unsigned version, bool keep_alive, ErrorFormat format, http::Status code,
                          const std::string& msg) {
  http::Response res = http::ErrorResponse(version, keep_alive, format, code, msg);
  if (code == http::Status::service_unavailable) {
    res.set(bhttp::field::retry_after, kBackpressureRetryAfter);
  }
  return res;
}

}  // namespace

Intake::Intake(uint64_t memory_budget_bytes,
               std::function<std::shared_ptr<const ExporterSet>()> exporters, RateLimitTable limits,
               prometheus::Registry& registry)
    : budget_(memory_budget_bytes),
      exporters_(std::move(exporters)),
      received_(prometheus::BuildCounter()
                    .Name("strata_agent_received_items_total")
                    .Help("Samples, log lines or spans accepted (durable in every queue), by "
                          "receiver and tenant.")
                    .Register(registry),
                {"receiver", "tenant"}),
      requests_(prometheus::BuildCounter()
                    .Name("strata_agent_receiver_requests_total")
                    .Help("Requests answered by receivers, by receiver and status code.")
                    .Register(registry),
                {"receiver", "code"}),
      limited_(prometheus::BuildCounter()
                   .Name("strata_agent_rate_limited_total")
                   .Help("Amounts refused by per-tenant rate limits (429), by tenant and limit "
                         "(samples, log_bytes, spans); the senders retry them.")
                   .Register(registry)),
      limits_(std::move(limits)) {}

Intake::Reservation Intake::Reserve(uint64_t bytes) {
  uint64_t used = used_.load();
  do {
    if (used + bytes > budget_) return {};
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return {this, bytes};
}

void Intake::SetLimits(RateLimitTable limits) {
  MutexLock lk(limits_mu_);
  limits_ = std::move(limits);
}

int64_t Intake::Admit(const std::string& tenant, Budget budget, double amount) {
  double rate = 0, burst = 0;
  limits::TokenBucket* bucket = nullptr;
  {
    MutexLock lk(limits_mu_);
    const limits::RateLimits& l = limits_.For(tenant);
    switch (budget) {
      case Budget::kSamples:
        rate = l.samples_per_second, burst = l.samples_burst;
        break;
      case Budget::kLogBytes:
        rate = l.log_bytes_per_second, burst = l.log_bytes_burst;
        break;
      case Budget::kSpans:
        rate = l.spans_per_second, burst = l.spans_burst;
        break;
    }
    if (rate <= 0) return 0;  // unlimited: no bucket to keep per tenant
    auto& b = buckets_[tenant];
    if (!b) b = std::make_unique<TenantBuckets>();
    bucket = budget == Budget::kSamples    ? &b->samples
             : budget == Budget::kLogBytes ? &b->log_bytes
                                           : &b->spans;
  }
  // A request larger than the burst passes with a full bucket and empties it, so no request
  // is refused forever.
  int64_t wait = bucket->Take(std::min(amount, burst), rate, burst);
  if (wait > 0) {
    limited_.Add({{"tenant", tenant}, {"limit", kBudgetNames[static_cast<size_t>(budget)]}})
        .Increment(amount);
  }
  return wait;
}

void Intake::SetSpanRoute(SpanRoute route, std::function<bool(uint64_t)> has_room) {
  span_route_ = std::move(route);
  span_room_ = std::move(has_room);
}

bool Intake::Wants(ItemKind kind) const {
  if (kind == ItemKind::kOtlpTraces && span_route_) return true;
  auto set = exporters_();
  for (const auto& e : *set) {
    if (e->Accepts(kind)) return true;
  }
  return false;
}

bool Intake::HasRoom(ItemKind kind, uint64_t bytes) const {
  if (kind == ItemKind::kOtlpTraces && span_route_) return span_room_(bytes);
  auto set = exporters_();
  for (const auto& e : *set) {
    if (e->Accepts(kind) && !e->queue().HasRoom(bytes)) return false;
  }
  return true;
}

void Intake::Submit(const std::string& receiver, std::span<const QueueRecord> variants,
                    std::function<void(const Status&)> done) {
  auto counted = [this, receiver, done = std::move(done), items = variants.front().items,
                  tenant = variants.front().tenant](const Status& st) {
    if (st.ok()) received_.Get({receiver, tenant}).Increment(items);
    done(st);
  };
  if (span_route_ && variants.front().kind == ItemKind::kOtlpTraces) {
    return span_route_(receiver, variants.front(), std::move(counted));
  }
  Deliver(variants, std::move(counted));
}

void Intake::Deliver(std::span<const QueueRecord> variants,
                     std::function<void(const Status&)> done) {
  auto set = exporters_();
  std::vector<std::pair<Exporter*, const QueueRecord*>> targets;
  for (const auto& e : *set) {
    for (const auto& v : variants) {
      if (e->Accepts(v.kind)) {
        targets.emplace_back(e.get(), &v);
        break;
      }
    }
  }
  if (targets.empty()) {
    return done(
        Status::NotFound(fmt::format("no exporter of this agent takes {} data",
                                     kKindNames[static_cast<size_t>(variants.front().kind)])));
  }
  // Finished when the last copy is durable (or failed), on whichever thread completes it.
  auto finish =
      AllDone(targets.size(), [set, done = std::move(done)](const Status& st) { done(st); });
  for (auto [e, rec] : targets) {
    if (Status st = e->queue().Append(*rec, finish); !st.ok()) finish(st);
  }
}

void Intake::SubmitParts(const std::string& receiver,
                         std::span<const std::span<const QueueRecord>> parts,
                         std::function<void(const Status&)> done) {
  if (parts.size() == 1) return Submit(receiver, parts[0], std::move(done));
  auto finish = AllDone(parts.size(), std::move(done));
  for (const auto& variants : parts) Submit(receiver, variants, finish);
}

void Intake::CountRequest(const std::string& receiver, const std::string& code) {
  requests_.Get({receiver, code}).Increment();
}

void Intake::Reply(const std::string& receiver, const http::Request& req,
                   const http::Responder& respond, ErrorFormat format, const Status& error) {
  http::Status code = http::StatusFor(error);
  CountRequest(receiver, std::to_string(static_cast<unsigned>(code)));
  respond.Send(AgentError(req.version(), req.keep_alive(), format, code, error.message()));
}

bool Intake::Tenant(const std::string& receiver, const http::Request& req,
                    const http::Responder& respond, const std::string& fallback, ErrorFormat format,
                    std::string* tenant) {
  auto resolved = http::RequestTenant(req, TenantPolicy{false, fallback});
  if (!resolved.ok()) {
    Reply(receiver, req, respond, format, resolved.status());
    return false;
  }
  *tenant = std::move(*resolved);
  return true;
}

bool Intake::AdmitHttp(const std::string& receiver, const http::Request& req,
                       const http::Responder& respond, ErrorFormat format,
                       const std::string& tenant, Budget budget, double amount) {
  int64_t wait = Admit(tenant, budget, amount);
  if (wait == 0) return true;
  CountRequest(receiver, "429");
  http::Response res =
      AgentError(req.version(), req.keep_alive(), format, http::Status::too_many_requests,
                 fmt::format("tenant \"{}\" is over its {} rate limit (limits); retry after {}s",
                             tenant, kBudgetNames[static_cast<size_t>(budget)], wait));
  res.set(bhttp::field::retry_after, std::to_string(wait));
  respond.Send(std::move(res));
  return false;
}

void Intake::SubmitHttp(const std::string& receiver, std::span<const QueueRecord> variants,
                        const http::Request& req, const http::Responder& respond,
                        ErrorFormat format, http::Status ok_status, std::string ok_content_type,
                        std::string ok_body, Headers ok_headers) {
  SubmitHttp(receiver, {&variants, 1}, req, respond, format, ok_status, std::move(ok_content_type),
             std::move(ok_body), std::move(ok_headers));
}

void Intake::SubmitHttp(const std::string& receiver,
                        std::span<const std::span<const QueueRecord>> parts,
                        const http::Request& req, const http::Responder& respond,
                        ErrorFormat format, http::Status ok_status, std::string ok_content_type,
                        std::string ok_body, Headers ok_headers) {
  SubmitParts(receiver, parts,
              [this, receiver, respond, format, ok_status, version = req.version(),
               keep_alive = req.keep_alive(), ok_content_type = std::move(ok_content_type),
               ok_body = std::move(ok_body), ok_headers = std::move(ok_headers)](const Status& st) {
                if (!st.ok()) {
                  http::Status code = http::StatusFor(st);
                  CountRequest(receiver, std::to_string(static_cast<unsigned>(code)));
                  return respond.Send(AgentError(version, keep_alive, format, code, st.message()));
                }
                CountRequest(receiver, std::to_string(static_cast<unsigned>(ok_status)));
                http::Response res(ok_status, version);
                res.keep_alive(keep_alive);
                if (!ok_content_type.empty()) res.set(bhttp::field::content_type, ok_content_type);
                for (const auto& [name, value] : ok_headers) res.set(name, value);
                res.body() = ok_body;
                res.prepare_payload();
                respond.Send(std::move(res));
              });
}

}  // namespace strata::agent
