#include "agent/receive/intake.h"

#include <fmt/format.h>

#include <mutex>

#include "base/tenant.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {

constexpr const char* kKindNames[] = {"",          "remote write", "OTLP metrics",
                                      "OTLP logs", "OTLP traces",  "Loki push"};

// How long a sender should wait before retrying a request refused for back-pressure.
constexpr const char* kBackpressureRetryAfter = "5";

}  // namespace

Intake::Intake(uint64_t memory_budget_bytes,
               std::function<std::shared_ptr<const ExporterSet>()> exporters,
               prometheus::Registry& registry)
    : budget_(memory_budget_bytes),
      exporters_(std::move(exporters)),
      received_(prometheus::BuildCounter()
                    .Name("strata_agent_received_items_total")
                    .Help("Samples, log lines or spans accepted (durable in every queue), by "
                          "receiver and tenant.")
                    .Register(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("strata_agent_receiver_requests_total")
                    .Help("Requests answered by receivers, by receiver and status code.")
                    .Register(registry)) {}

Intake::Reservation Intake::Reserve(uint64_t bytes) {
  uint64_t used = used_.load();
  do {
    if (used + bytes > budget_) return {};
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return {this, bytes};
}

void Intake::Reply(const std::string& receiver, const http::Request& req,
                   const http::Responder& respond, http::Status code, std::string msg) {
  requests_.Add({{"receiver", receiver}, {"code", std::to_string(static_cast<unsigned>(code))}})
      .Increment();
  http::Response res = http::TextResponse(req, code, std::move(msg));
  if (code == http::Status::service_unavailable || code == http::Status::too_many_requests) {
    res.set(bhttp::field::retry_after, kBackpressureRetryAfter);
  }
  respond.Send(std::move(res));
}

bool Intake::Tenant(const std::string& receiver, const http::Request& req,
                    const http::Responder& respond, std::string* tenant) {
  auto it = req.find(kTenantHeader);
  if (it == req.end()) {
    tenant->clear();
    return true;
  }
  *tenant = std::string(it->value());
  if (Status st = ValidateTenantId(*tenant); !st.ok()) {
    Reply(receiver, req, respond, http::Status::bad_request,
          fmt::format("invalid {} header: {}", kTenantHeader, st.message()));
    return false;
  }
  return true;
}

void Intake::Enqueue(const std::string& receiver, const QueueRecord& rec, const http::Request& req,
                     const http::Responder& respond, http::Status ok_status) {
  auto set = exporters_();
  std::vector<Exporter*> targets;
  for (const auto& e : *set) {
    if (e->Accepts(rec.kind)) targets.push_back(e.get());
  }
  const char* kind = kKindNames[static_cast<size_t>(rec.kind)];
  if (targets.empty()) {
    return Reply(receiver, req, respond, http::Status::not_found,
                 fmt::format("no exporter of this agent takes {} data", kind));
  }
  // Answered when the last copy is durable (or failed), from whichever thread finishes it.
  struct Pending {
    std::mutex mu;
    size_t left;
    Status error;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = targets.size();
  auto finish = [this, pending, set, receiver, respond, version = req.version(),
                 keep_alive = req.keep_alive(), ok_status, items = rec.items,
                 tenant = rec.tenant](const Status& st) {
    Status error;
    {
      std::lock_guard lk(pending->mu);
      if (!st.ok() && pending->error.ok()) pending->error = st;
      if (--pending->left > 0) return;
      error = pending->error;
    }
    http::Status code = ok_status;
    std::string body;
    if (!error.ok()) {
      code =
          error.code() == Status::Code::kTooLarge || error.code() == Status::Code::kInvalidArgument
              ? http::Status::payload_too_large
              : http::Status::service_unavailable;
      body = error.message() + "\n";
    } else {
      received_.Add({{"receiver", receiver}, {"tenant", tenant}}).Increment(items);
    }
    requests_.Add({{"receiver", receiver}, {"code", std::to_string(static_cast<unsigned>(code))}})
        .Increment();
    http::Response res(code, version);
    res.keep_alive(keep_alive);
    if (!body.empty()) {
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = std::move(body);
    }
    if (code == http::Status::service_unavailable) {
      res.set(bhttp::field::retry_after, kBackpressureRetryAfter);
    }
    respond.Send(std::move(res));
  };
  for (Exporter* e : targets) {
    if (Status st = e->queue().Append(rec, finish); !st.ok()) finish(st);
  }
}

}  // namespace strata::agent
