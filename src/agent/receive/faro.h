#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "agent/config.h"
#include "agent/receive/intake.h"
#include "agent/receive/sourcemaps.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "http/server.h"
#include "limits/token_bucket.h"

namespace strata::agent {

// FaroReceiver takes the Grafana Faro Web SDK's payloads (POST /collect and
// /collect/{app-key}), as Grafana Alloy's faro.receiver does: logs, exceptions, measurements
// and events become Loki log lines with Alloy's keys (proto/faro.h; exception frames through
// source maps, SourceMapStore), queued for the Loki exporters; traces (OTLP/JSON) are queued for
// the OTLP exporters. In order: CORS (preflights answered 204), the app key (401), the API key
// (401), the body limit (413), the global rate limit (429), decoding (400 naming the fault), the
// per-app rate limit (429), the tenant's log-bytes and spans limits (429); rate-limited answers
// carry Retry-After, which CORS exposes to the SDK. 202 "ok" once every part is durable.
// Thread-safe.
class FaroReceiver {
 public:
  FaroReceiver(Intake& intake, FaroConfig config, uint64_t max_decompressed_bytes,
               prometheus::Registry& registry);

  void Handle(http::Request& req, const http::Responder& respond);

 private:
  // Adds the CORS headers the request's origin gets; true when it was a preflight (answered).
  bool Cors(const http::Request& req, const http::Responder& respond) const;
  bool OriginAllowed(std::string_view origin) const;
  // Seconds to wait when the app (or, with the global strategy, every app) is over its rate;
  // 0 when admitted.
  int64_t AdmitApp(const std::string& app);
  void TooMany(const http::Request& req, const http::Responder& respond, int64_t wait,
               const std::string& why);

  Intake& intake_;
  const FaroConfig config_;
  const uint64_t max_decompressed_bytes_;
  prometheus::Counter& dropped_lines_;
  prometheus::Family<prometheus::Counter>& app_limited_;
  std::unique_ptr<SourceMapStore> sourcemaps_;  // none when no location or download is set

  limits::TokenBucket global_;
  struct AppBucket {
    limits::TokenBucket bucket;
    int64_t last_used_ms = 0;
  };
  Mutex apps_mu_;
  std::map<std::string, std::shared_ptr<AppBucket>> apps_ GUARDED_BY(apps_mu_);
  int64_t apps_swept_ms_ GUARDED_BY(apps_mu_) = 0;
};

}  // namespace strata::agent
