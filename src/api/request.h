#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/params.h"
#include "base/json.h"
#include "base/labels.h"
#include "base/status.h"
#include "base/tenant.h"
#include "frontend/scheduler.h"
#include "http/server.h"
#include "promql/engine.h"

namespace strata::api {

// One API request carried to a query thread: its parameters, tenant and reply channel. Each
// API derives its call from it (PromApi::Call, LokiApi::Call) and answers errors in its own
// shape.
class ApiRequest {
 public:
  explicit ApiRequest(http::Responder r) : respond(std::move(r)) {}
  virtual ~ApiRequest() = default;
  ApiRequest(const ApiRequest&) = delete;
  ApiRequest& operator=(const ApiRequest&) = delete;

  void Fail(Status e) { error = std::move(e); }
  // Answers `error` as the API answers errors.
  virtual void SendError() = 0;
  // Sends `body`, gzipped when the client takes gzip.
  void Send(http::Status status, std::string body,
            std::string_view content_type = "application/json");

  Params params;
  std::string tenant;
  std::string path;
  bool gzip = false;
  http::Request proto;  // version and keep-alive of the request, for the response
  http::Responder respond;
  std::chrono::steady_clock::time_point queued_at;
  std::chrono::nanoseconds queue_time{0};
  Status error;  // the call failed
};

// Reads the parameters and tenant of `req` into `call`, then runs `body` on one of the
// scheduler's query threads in the tenant's turn, never on the HTTP thread. Bad parameters,
// a refused tenant or a full queue are answered through call->SendError(), as is an error
// `body` leaves in the call.
void Dispatch(frontend::FairScheduler& scheduler, const TenantPolicy& tenants, http::Request& req,
              const std::shared_ptr<ApiRequest>& call, std::function<void()> body);

// The label name of a "<prefix><name>/values" path, percent-decoded; NotFound for another
// path, InvalidArgument for a name that is empty or not UTF-8.
Result<std::string> LabelNameFromPath(std::string_view path, std::string_view prefix);

// Runs a query under `timeout_ms` (0: the engine's) and the client's cancellation.
promql::QueryControl ControlFor(const http::Responder& r, int64_t timeout_ms);

// The build as Prometheus's, Loki's and Tempo's buildinfo endpoints describe theirs:
// {"version":...,"revision":...,"branch":"","buildUser":"","buildDate":"","goVersion":""}.
std::string BuildInfoJson();

// {"name": "value", ...}
void WriteLabels(JsonWriter& w, const Labels& ls);
// A PromQL result as Prometheus's API (and Loki's, for metric queries) writes its data
// object: resultType and result; `extra` writes further members (stats).
void WriteResult(JsonWriter& w, const promql::QueryResult& r,
                 const std::function<void(JsonWriter&)>& extra);

}  // namespace strata::api
