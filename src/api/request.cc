#include "api/request.h"

#include <fmt/format.h>

#include "base/version.h"
#include "http/compression.h"
#include "http/tenant.h"

namespace strata::api {

namespace bhttp = boost::beast::http;

void ApiRequest::Send(http::Status status, std::string body, std::string_view content_type) {
  http::Response res = http::JsonResponse(proto, status, std::string());
  res.set(bhttp::field::content_type, std::string(content_type));
  if (gzip) {
    res.body() = http::Gzip(body);
    res.set(bhttp::field::content_encoding, "gzip");
  } else {
    res.body() = std::move(body);
  }
  respond.Send(std::move(res));
}

void Dispatch(frontend::FairScheduler& scheduler, const TenantPolicy& tenants, http::Request& req,
              const std::shared_ptr<ApiRequest>& call, std::function<void()> body) {
  ApiRequest& c = *call;
  c.proto = http::HeadOf(req);
  std::string_view target(req.target().data(), req.target().size());
  c.path = std::string(target.substr(0, target.find('?')));
  auto ae = req[bhttp::field::accept_encoding];
  c.gzip = std::string_view(ae.data(), ae.size()).find("gzip") != std::string_view::npos;
  auto p = Params::FromRequest(req);
  if (!p.ok()) {
    c.Fail(Status::InvalidArgument(p.status().message()));
    return c.SendError();
  }
  c.params = std::move(p).value();
  auto tenant = http::RequestTenant(req, tenants);
  if (!tenant.ok()) {
    c.Fail(tenant.status());
    return c.SendError();
  }
  c.tenant = std::move(tenant).value();
  c.queued_at = std::chrono::steady_clock::now();
  Status queued = scheduler.Submit(c.tenant, [call, body = std::move(body)] {
    call->queue_time = std::chrono::steady_clock::now() - call->queued_at;
    body();
    if (!call->error.ok()) call->SendError();
  });
  if (!queued.ok()) {
    c.Fail(queued);
    c.SendError();
  }
}

Result<std::string> LabelNameFromPath(std::string_view path, std::string_view prefix) {
  constexpr std::string_view kSuffix = "/values";
  if (!path.starts_with(prefix) || !path.ends_with(kSuffix) ||
      path.size() <= prefix.size() + kSuffix.size()) {
    return Status::NotFound(fmt::format("no handler for {}", path));
  }
  auto decoded = ParseForm(fmt::format(
      "n={}", path.substr(prefix.size(), path.size() - prefix.size() - kSuffix.size())));
  if (!decoded.ok() || decoded->empty()) return Status::InvalidArgument("invalid label name");
  std::string name = (*decoded)[0].second;
  if (!IsValidUtf8(name) || name.empty()) {
    return Status::InvalidArgument(fmt::format("invalid label name: {}", GoQuote(name)));
  }
  return name;
}

promql::QueryControl ControlFor(const http::Responder& r, int64_t timeout_ms) {
  promql::QueryControl ctl;
  ctl.cancelled = r.client_gone();
  if (timeout_ms > 0) {
    ctl.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return ctl;
}

void WriteLabels(JsonWriter& w, const Labels& ls) {
  w.BeginObject();
  for (const auto& l : ls) w.Key(l.name).String(l.value);
  w.EndObject();
}

// Prometheus's encoding of a native histogram: numbers as quoted floats, populated buckets
// in ascending order, each [boundary rule, lower, upper, count] where the rule says which
// ends are inclusive (0: upper, 1: lower, 2: neither, 3: both).
void WriteHistogram(JsonWriter& w, const histogram::FloatHistogram& h) {
  w.BeginObject().Key("count").SampleValue(h.count).Key("sum").SampleValue(h.sum);
  bool any = false;
  for (const histogram::Bucket& b : h.AllBuckets()) {
    if (b.count == 0) continue;
    if (!any) w.Key("buckets").BeginArray();
    any = true;
    int rule = b.lower_inclusive ? (b.upper_inclusive ? 3 : 1) : (b.upper_inclusive ? 0 : 2);
    w.BeginArray().Int(rule).SampleValue(b.lower).SampleValue(b.upper).SampleValue(b.count);
    w.EndArray();
  }
  if (any) w.EndArray();
  w.EndObject();
}

void WriteResult(JsonWriter& w, const promql::QueryResult& r,
                 const std::function<void(JsonWriter&)>& extra) {
  w.BeginObject();
  switch (r.type) {
    case promql::ValueType::kScalar:
      w.Key("resultType").String("scalar").Key("result");
      w.BeginArray().Timestamp(r.scalar.t).SampleValue(r.scalar.v).EndArray();
      break;
    case promql::ValueType::kString:
      w.Key("resultType").String("string").Key("result");
      w.BeginArray().Timestamp(r.str_t).String(r.str).EndArray();
      break;
    case promql::ValueType::kVector:
      w.Key("resultType").String("vector").Key("result").BeginArray();
      for (const auto& s : r.series) {
        w.BeginObject().Key("metric");
        WriteLabels(w, s.labels);
        if (s.points.empty()) {
          w.Key("histogram").BeginArray().Timestamp(s.histograms[0].t);
          WriteHistogram(w, *s.histograms[0].h);
        } else {
          w.Key("value").BeginArray().Timestamp(s.points[0].t).SampleValue(s.points[0].v);
        }
        w.EndArray().EndObject();
      }
      w.EndArray();
      break;
    case promql::ValueType::kMatrix:
      w.Key("resultType").String("matrix").Key("result").BeginArray();
      for (const auto& s : r.series) {
        w.BeginObject().Key("metric");
        WriteLabels(w, s.labels);
        // Prometheus leaves out either key when the series has no such points.
        if (!s.points.empty()) {
          w.Key("values").BeginArray();
          for (const auto& p : s.points) w.BeginArray().Timestamp(p.t).SampleValue(p.v).EndArray();
          w.EndArray();
        }
        if (!s.histograms.empty()) {
          w.Key("histograms").BeginArray();
          for (const auto& p : s.histograms) {
            w.BeginArray().Timestamp(p.t);
            WriteHistogram(w, *p.h);
            w.EndArray();
          }
          w.EndArray();
        }
        w.EndObject();
      }
      w.EndArray();
      break;
  }
  if (extra) extra(w);
  w.EndObject();
}

std::string BuildInfoJson() {
  JsonWriter w;
  w.BeginObject().Key("version").String(kVersion).Key("revision").String(kRevision);
  for (const char* key : {"branch", "buildUser", "buildDate", "goVersion"}) w.Key(key).String("");
  w.EndObject();
  return std::move(w.str());
}

}  // namespace strata::api
