#pragma once

// LokiApi::Call, shared by the files of the Loki API (loki_api.cc: queries and labels;
// loki_index.cc: index stats, volumes and detected fields).

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "api/loki_api.h"
#include "api/params.h"
#include "api/request.h"
#include "base/json.h"
#include "base/math.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "base/units.h"
#include "http/status_map.h"
#include "logql/parser.h"

namespace strata::api {

inline constexpr int64_t kNsPerMs = 1'000'000;
inline constexpr int64_t kHourNs = int64_t{3600} * 1'000'000'000;

inline int64_t NowNanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

// The "stats" member of Loki's query answers.
void WriteLokiStats(JsonWriter& w, uint64_t lines, uint64_t bytes, uint64_t returned,
                    std::chrono::nanoseconds exec, std::chrono::nanoseconds queue);

// A querier of the tenant's logs over [start, end] (nanoseconds).
inline Result<std::unique_ptr<logs::Querier>> OpenQuerier(const logs::Queryable& queryable,
                                                          const std::string& tenant, int64_t start,
                                                          int64_t end) {
  query::ReadHints h;
  h.mint = FloorDiv(start, kNsPerMs);
  h.maxt = FloorDiv(end, kNsPerMs) + 1;
  return queryable.TenantQuerier(tenant, h);
}

// One Loki API call on its way through a query thread. Errors are plain text, as Loki's.
struct LokiApi::Call : ApiRequest {
  bool categorize = false;   // X-Loki-Response-Encoding-Flags: categorize-labels
  bool json_errors = false;  // format_query answers errors in JSON
  bool websocket = false;    // the request asks for a WebSocket upgrade (tail)
  explicit Call(http::Responder r) : ApiRequest(std::move(r)) {}

  void SendError() override {
    http::Status status = http::StatusFor(error);
    if (json_errors) {
      JsonWriter w;
      w.BeginObject().Key("status").String("invalid-query").Key("error").String(error.message());
      w.EndObject();
      return Send(status, std::move(w.str()));
    }
    Send(status, std::string(error.message()) + "\n", "text/plain; charset=utf-8");
  }

  // {"status":"success","data":<data>}
  void Ok(const std::function<void(JsonWriter&)>& data) {
    JsonWriter w;
    w.BeginObject().Key("status").String("success").Key("data");
    data(w);
    w.EndObject();
    Send(http::Status::ok, std::move(w.str()));
  }

  std::optional<int64_t> Time(std::string_view name, int64_t def) {
    auto v = params.Get(name);
    if (!v || v->empty()) return def;
    auto t = ParseLokiTime(*v);
    if (!t.ok()) {
      Fail(Status::InvalidArgument(t.status().message()));
      return std::nullopt;
    }
    return *t;
  }

  // start and end: end defaults to now, start to `since` (default `def_since`) before the
  // earlier of end and now, as Loki's.
  bool Range(int64_t def_since, int64_t* start, int64_t* end) {
    const int64_t now = NowNanos();
    auto e = Time("end", now);
    if (!e) return false;
    int64_t since = def_since;
    if (auto v = params.Get("since"); v && !v->empty()) {
      auto d = ParseDuration(*v);
      if (!d.ok()) {
        Fail(Status::InvalidArgument(d.status().message()));
        return false;
      }
      since = SaturatingMul(*d, kNsPerMs);
    }
    auto s = Time("start", SaturatingSub(std::min(*e, now), since));
    if (!s) return false;
    *start = *s;
    *end = *e;
    return true;
  }

  // An integer parameter, `def` when absent; nullopt after failing the call.
  std::optional<int64_t> IntParam(std::string_view name, int64_t def) {
    auto v = params.Get(name);
    if (!v || v->empty()) return def;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size()) {
      Fail(Status::InvalidArgument(fmt::format("cannot parse \"{}\" to a valid {}", *v, name)));
      return std::nullopt;
    }
    return n;
  }

  // How many entries to return (`name`, `def` when absent): positive and within the tenant's
  // max_entries_limit_per_query `max` (0: no limit), with Loki's errors.
  std::optional<uint64_t> EntryLimit(std::string_view name, int64_t def, uint64_t max) {
    auto n = IntParam(name, def);
    if (!n) return std::nullopt;
    if (*n <= 0) {
      Fail(Status::InvalidArgument("limit must be a positive value"));
      return std::nullopt;
    }
    if (max > 0 && static_cast<uint64_t>(*n) > max) {
      Fail(Status::InvalidArgument(fmt::format(
          "max entries limit per query exceeded, limit > max_entries_limit_per_query ({} > {})", *n,
          max)));
      return std::nullopt;
    }
    return static_cast<uint64_t>(*n);
  }

  // The `step` parameter in milliseconds; by default about 250 points over [start, end]
  // (ns), whole seconds, at least one, as Loki's. nullopt after failing the call.
  std::optional<int64_t> StepMs(int64_t start, int64_t end) {
    int64_t step_ms =
        std::max<int64_t>(SaturatingSub(end, start) / kNsPerMs / 250 / 1000 * 1000, 1000);
    if (auto v = params.Get("step"); v && !v->empty()) {
      auto d = ParseDuration(*v);
      if (!d.ok()) {
        Fail(Status::InvalidArgument(d.status().message()));
        return std::nullopt;
      }
      step_ms = *d;
    }
    if (step_ms <= 0) {
      Fail(Status::InvalidArgument(
          "zero or negative query resolution step widths are not accepted. Try a positive "
          "integer"));
      return std::nullopt;
    }
    return step_ms;
  }

  std::unique_ptr<logs::Querier> Querier(const logs::Queryable& queryable, int64_t start,
                                         int64_t end) {
    auto q = OpenQuerier(queryable, tenant, start, end);
    if (!q.ok()) {
      Fail(q.status());
      return nullptr;
    }
    return std::move(q).value();
  }

  // The optional stream selector `query` of the label endpoints (empty: every stream);
  // nullopt after failing the call.
  std::optional<std::vector<Matcher>> Selector() {
    auto sel = params.Get("query");
    if (!sel || sel->empty()) return std::vector<Matcher>{};
    auto m = logql::ParseMatchers(*sel, true);
    if (!m.ok()) {
      Fail(m.status());
      return std::nullopt;
    }
    return std::move(*m);
  }

  // A metric query's answer, with its stats.
  void OkMetric(const promql::QueryResult& r, std::chrono::nanoseconds exec) {
    Ok([&](JsonWriter& w) {
      WriteResult(
          w, r, [&](JsonWriter& w) { WriteLokiStats(w, 0, 0, r.series.size(), exec, queue_time); });
    });
  }

  logql::ExprPtr ParseQuery() {
    auto q = params.Get("query");
    auto e = logql::ParseExpr(q.value_or(""));
    if (!e.ok()) {
      Fail(e.status());
      return nullptr;
    }
    return std::move(e).value();
  }
};

// The live tails (loki_tail.cc): per tenant how many, and their threads.
struct LokiApi::Tails {
  Mutex mu;
  std::condition_variable cv;
  bool stop GUARDED_BY(mu) = false;
  std::atomic<bool> stopping{false};  // `stop` for the tails' queries, which it cancels
  std::map<std::string, int> per_tenant GUARDED_BY(mu);
  struct Running {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Running> running GUARDED_BY(mu);

  // Joins the tails that ended.
  void Reap() REQUIRES(mu) {
    for (auto it = running.begin(); it != running.end();) {
      if (!it->done->load()) {
        ++it;
        continue;
      }
      it->thread.join();
      it = running.erase(it);
    }
  }
};

}  // namespace strata::api
