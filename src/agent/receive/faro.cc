#include "agent/receive/faro.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>

#include "agent/receive/otlp.h"
#include "base/encoding.h"
#include "base/units.h"
#include "http/compression.h"
#include "proto/faro.h"
#include "proto/otlp.h"
#include "proto/remote_write.h"

namespace strata::agent {
namespace bhttp = boost::beast::http;

namespace {

constexpr const char* kReceiver = "faro";
constexpr ErrorFormat kPlainText = ErrorFormat::kText;
// Headers the Faro Web SDK sends itself (its fetch transport; Idempotency-Key since 2.x),
// allowed by every preflight.
constexpr std::string_view kSdkHeaders[] = {"content-type",  "content-encoding",
                                            "x-api-key",     "x-faro-session-id",
                                            "x-scope-orgid", "idempotency-key"};
// Apps tracked for per-app limits at most; an idle app's bucket goes after kAppIdleMs.
constexpr size_t kMaxApps = 10'000;
constexpr int64_t kAppIdleMs = int64_t{10} * 60'000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view Header(const http::Request& req, std::string_view name) {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string_view()
                         : std::string_view(it->value().data(), it->value().size());
}

// An allowed origin: "*" matches all; one '*' inside matches any middle (prefix and suffix).
bool OriginMatches(std::string_view pattern, std::string_view origin) {
  if (pattern == "*") return true;
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == origin;
  std::string_view prefix = pattern.substr(0, star), suffix = pattern.substr(star + 1);
  return origin.size() >= prefix.size() + suffix.size() && origin.starts_with(prefix) &&
         origin.ends_with(suffix);
}

}  // namespace

FaroReceiver::FaroReceiver(Intake& intake, FaroConfig config, uint64_t max_decompressed_bytes,
                           prometheus::Registry& registry)
    : intake_(intake),
      config_(std::move(config)),
      max_decompressed_bytes_(max_decompressed_bytes),
      dropped_lines_(prometheus::BuildCounter()
                         .Name("strata_agent_faro_dropped_lines_total")
                         .Help("Faro items whose log line cannot be written (a key with nothing "
                               "left once logfmt's forbidden characters are taken out).")
                         .Register(registry)
                         .Add({})),
      app_limited_(prometheus::BuildCounter()
                       .Name("strata_agent_faro_rate_limited_requests_total")
                       .Help("Faro requests refused by receivers.faro.rate_limiting (429), by "
                             "strategy.")
                       .Register(registry)) {
  if (!config_.sourcemaps.locations.empty() || config_.sourcemaps.download) {
    sourcemaps_ = std::make_unique<SourceMapStore>(config_.sourcemaps, registry);
  }
}

bool FaroReceiver::OriginAllowed(std::string_view origin) const {
  const std::string lower = AsciiLower(origin);
  return std::any_of(config_.cors_allowed_origins.begin(), config_.cors_allowed_origins.end(),
                     [&](const std::string& pattern) { return OriginMatches(pattern, lower); });
}

bool FaroReceiver::Cors(const http::Request& req, const http::Responder& respond) const {
  const bool preflight = req.method() == bhttp::verb::options &&
                         req.find(bhttp::field::access_control_request_method) != req.end();
  const std::string_view origin = Header(req, "Origin");
  const bool any =
      std::find(config_.cors_allowed_origins.begin(), config_.cors_allowed_origins.end(), "*") !=
      config_.cors_allowed_origins.end();
  const bool allowed =
      !config_.cors_allowed_origins.empty() && !origin.empty() && OriginAllowed(origin);
  const std::string allow_origin = any ? "*" : std::string(origin);
  if (!preflight) {
    respond.AddHeader("Vary", "Origin");
    if (allowed) {
      respond.AddHeader("Access-Control-Allow-Origin", allow_origin);
      // The SDK reads Retry-After on 429; a cross-origin page sees it only when exposed.
      respond.AddHeader("Access-Control-Expose-Headers", "Retry-After");
    }
    return false;
  }
  http::Response res(http::Status::no_content, req.version());
  res.keep_alive(req.keep_alive());
  res.set(bhttp::field::vary,
          "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  const std::string_view method = Header(req, "Access-Control-Request-Method");
  const std::string_view requested = Header(req, "Access-Control-Request-Headers");
  bool headers_ok = true;
  std::string_view rest = requested;
  while (headers_ok && !rest.empty()) {
    size_t comma = rest.find(',');
    std::string h = AsciiLower(Trim(rest.substr(0, comma)));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (h.empty()) continue;
    headers_ok =
        std::find(std::begin(kSdkHeaders), std::end(kSdkHeaders), h) != std::end(kSdkHeaders) ||
        std::find(config_.trace_context_headers.begin(), config_.trace_context_headers.end(), h) !=
            config_.trace_context_headers.end();
  }
  if (allowed && headers_ok && (method == "POST" || method == "GET" || method == "HEAD")) {
    res.set(bhttp::field::access_control_allow_origin, allow_origin);
    res.set(bhttp::field::access_control_allow_methods, std::string(method));
    if (!requested.empty())
      res.set(bhttp::field::access_control_allow_headers, std::string(requested));
  }
  intake_.CountRequest(kReceiver, "204");
  respond.Send(std::move(res));
  return true;
}

int64_t FaroReceiver::AdmitApp(const std::string& app) {
  if (!config_.rate_limiting) return 0;
  if (!config_.per_app) return global_.Take(1, config_.rate, config_.burst_size);
  std::shared_ptr<AppBucket> app_bucket;
  {
    MutexLock lk(apps_mu_);
    const int64_t now = NowMillis();
    // Idle apps go every kAppIdleMs, and when the table is full at most once a second: a
    // stream of new app names must not make every request walk the table.
    if (now - apps_swept_ms_ > kAppIdleMs ||
        (apps_.size() >= kMaxApps && now - apps_swept_ms_ > 1'000)) {
      std::erase_if(apps_,
                    [&](const auto& kv) { return now - kv.second->last_used_ms > kAppIdleMs; });
      apps_swept_ms_ = now;
    }
    auto it = apps_.find(app);
    if (it == apps_.end()) {
      // Beyond kMaxApps active apps, new ones share the global bucket until some go idle.
      if (apps_.size() >= kMaxApps) return global_.Take(1, config_.rate, config_.burst_size);
      it = apps_.emplace(app, std::make_shared<AppBucket>()).first;
    }
    it->second->last_used_ms = now;
    app_bucket = it->second;
  }
  return app_bucket->bucket.Take(1, config_.rate, config_.burst_size);
}

void FaroReceiver::TooMany(const http::Request& req, const http::Responder& respond, int64_t wait,
                           const std::string& why) {
  app_limited_.Add({{"strategy", config_.per_app ? "per_app" : "global"}}).Increment();
  intake_.CountRequest(kReceiver, "429");
  http::Response res = http::TextResponse(
      req, http::Status::too_many_requests,
      fmt::format("{} is over receivers.faro.rate_limiting; retry after {}s\n", why, wait));
  res.set(bhttp::field::retry_after, std::to_string(wait));
  respond.Send(std::move(res));
}

void FaroReceiver::Handle(http::Request& req, const http::Responder& respond) {
  if (Cors(req, respond)) return;
  if (req.method() != bhttp::verb::post) {
    return intake_.Reply(kReceiver, req, respond, kPlainText,
                         Status::Unsupported("the Faro receiver takes POST (and CORS preflights)"));
  }
  // /collect or /collect/{app-key}.
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  std::string tenant = config_.tenant;
  if (target.size() > std::string_view("/collect/").size()) {
    std::string key(target.substr(std::string_view("/collect/").size()));
    auto it = config_.app_keys.find(key);
    if (it == config_.app_keys.end()) {
      return intake_.Reply(
          kReceiver, req, respond, kPlainText,
          Status::Unauthenticated(config_.app_keys.empty()
                                      ? "no app keys are configured (receivers.faro.app_keys)"
                                      : "unknown app key"));
    }
    if (!it->second.empty()) tenant = it->second;
  }
  if (!config_.api_key.empty()) {
    std::string_view given = Header(req, "x-api-key");
    if (given.size() != config_.api_key.size() ||
        CRYPTO_memcmp(given.data(), config_.api_key.data(), given.size()) != 0) {
      return intake_.Reply(kReceiver, req, respond, kPlainText,
                           Status::Unauthenticated("API key not provided or incorrect"));
    }
  }
  if (req.body().size() > config_.max_payload_size) {
    return intake_.Reply(
        kReceiver, req, respond, kPlainText,
        Status::TooLarge(fmt::format("the payload is {} bytes, more than "
                                     "receivers.faro.max_payload_size ({} bytes)",
                                     req.body().size(), config_.max_payload_size)));
  }
  if (!intake_.Tenant(kReceiver, req, respond, tenant, kPlainText, &tenant)) return;
  if (config_.rate_limiting && !config_.per_app) {
    if (int64_t wait = AdmitApp({}); wait > 0) return TooMany(req, respond, wait, "the receiver");
  }
  auto body_reservation = intake_.Reserve(req.body().size());
  std::string raw;
  if (Status st = body_reservation
                      ? http::DecodeBody(req, max_decompressed_bytes_, raw)
                      : Status::Unavailable("agent memory budget (server.memory_budget) is in use "
                                            "by other requests; retry");
      !st.ok()) {
    return intake_.Reply(kReceiver, req, respond, kPlainText, st);
  }
  // The decoded payload, its lines and the queued copies live together for a while.
  auto work_reservation = intake_.Reserve(3 * raw.size());
  if (!work_reservation) {
    return intake_.Reply(kReceiver, req, respond, kPlainText,
                         Status::Unavailable("agent memory budget (server.memory_budget) is in "
                                             "use by other requests; retry"));
  }
  auto payload = proto::DecodeFaro(raw);
  if (!payload.ok()) return intake_.Reply(kReceiver, req, respond, kPlainText, payload.status());
  if (config_.rate_limiting && config_.per_app) {
    const std::string app = payload->meta.app_name + ':' + payload->meta.app_environment;
    if (int64_t wait = AdmitApp(app); wait > 0) {
      return TooMany(req, respond, wait, fmt::format("app \"{}\"", app));
    }
  }

  std::vector<QueueRecord> logs;
  std::function<bool(proto::FaroFrame&, std::string_view)> resolve;
  if (sourcemaps_) {
    resolve = [this](proto::FaroFrame& f, std::string_view release) {
      return sourcemaps_->Resolve(f, release);
    };
  }
  proto::FaroLogs lines = proto::FaroToLoki(
      *payload,
      {.format = config_.json_lines ? proto::FaroLogFormat::kJson : proto::FaroLogFormat::kLogfmt,
       .labels = config_.extra_log_labels,
       .entry_ns = NowMillis() * 1'000'000,
       .resolve_frame = resolve});
  if (lines.dropped > 0) dropped_lines_.Increment(static_cast<double>(lines.dropped));
  if (lines.entries > 0) {
    if (!intake_.Wants(ItemKind::kLokiPush)) {
      return intake_.Reply(
          kReceiver, req, respond, kPlainText,
          Status::NotFound("no exporter of this agent takes Loki push, where Faro's logs, "
                           "exceptions, measurements and events go"));
    }
    if (!intake_.AdmitHttp(kReceiver, req, respond, kPlainText, tenant, Budget::kLogBytes,
                           static_cast<double>(lines.line_bytes))) {
      return;
    }
    QueueRecord& rec = logs.emplace_back();
    rec.kind = ItemKind::kLokiPush;
    rec.tenant = tenant;
    rec.items = static_cast<uint32_t>(std::min<uint64_t>(lines.entries, UINT32_MAX));
    rec.received_ms = NowMillis();
    rec.body = proto::SnappyCompress(lines.push);
  }
  OtlpBatch traces;
  if (!payload->traces_json.empty()) {
    auto pb = proto::OtlpJsonToProtobuf(proto::OtlpSignal::kTraces, payload->traces_json);
    if (!pb.ok()) {
      return intake_.Reply(kReceiver, req, respond, kPlainText,
                           pb.status().Annotate("invalid Faro payload: traces"));
    }
    auto batch = PrepareOtlp(intake_, proto::OtlpSignal::kTraces, tenant, *pb);
    if (!batch.ok()) {
      return intake_.Reply(kReceiver, req, respond, kPlainText,
                           batch.status().Annotate("invalid Faro payload: traces"));
    }
    traces = std::move(*batch);
    if (traces.amount > 0) {
      if (traces.variants.empty()) {
        return intake_.Reply(kReceiver, req, respond, kPlainText,
                             Status::NotFound("no exporter of this agent takes OTLP traces, "
                                              "where Faro's traces go"));
      }
      if (!intake_.AdmitHttp(kReceiver, req, respond, kPlainText, tenant, Budget::kSpans,
                             traces.amount)) {
        return;
      }
    } else {
      traces.variants.clear();  // no spans: nothing to send
    }
  }
  std::vector<std::span<const QueueRecord>> parts;
  if (!logs.empty()) parts.emplace_back(logs);
  if (!traces.variants.empty()) parts.emplace_back(traces.variants);
  if (parts.empty()) {  // an empty payload ({} or only meta), as Alloy answers it
    intake_.CountRequest(kReceiver, "202");
    http::Response res(http::Status::accepted, req.version());
    res.keep_alive(req.keep_alive());
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.body() = "ok";
    return respond.Send(std::move(res));
  }
  intake_.SubmitHttp(kReceiver, parts, req, respond, kPlainText, http::Status::accepted,
                     "text/plain; charset=utf-8", "ok");
}

}  // namespace strata::agent
