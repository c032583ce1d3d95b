// agent_sink: the backend of the agent benchmarks (bench/agent, bench/faro). A remote-write,
// Loki push and OTLP/HTTP traces receiver that checks each request in full (snappy, then the
// message's structure, as any receiver must) and counts what it holds, but stores nothing: so
// the benchmark measures the agent, not a database sharing the agent's machine.
//
// Usage: agent_sink --listen 127.0.0.1:PORT
// Serves POST /api/v1/write, /loki/api/v1/push and /otlp/v1/traces (2xx, or 400 with the
// problem), GET /health and GET /metrics (agent_sink_samples_total,
// agent_sink_log_entries_total, agent_sink_spans_total, agent_sink_requests_total).
#include <fmt/format.h>
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "http/server.h"
#include "proto/loki.h"
#include "proto/otlp.h"
#include "proto/remote_write.h"

namespace {
namespace bhttp = boost::beast::http;
using strata::http::Request;
using strata::http::Responder;
using strata::http::Status;
using strata::http::TextResponse;

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
  }
  if (listen.empty()) {
    std::fprintf(stderr, "usage: agent_sink --listen HOST:PORT\n");
    return 2;
  }
  // Blocked here, so the server's threads inherit it; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<uint64_t> samples{0}, entries{0}, spans{0}, requests{0};
  strata::http::ServerOptions opts;
  opts.listen = listen;
  opts.threads = 1;
  opts.max_body_bytes = 64u << 20;
  strata::http::Server server(opts);
  server.Route("/api/v1/write", {bhttp::verb::post}, [&](Request& req, const Responder& r) {
    std::string raw;
    auto st = strata::proto::SnappyDecompress(req.body(), 256u << 20, raw);
    if (!st.ok()) return r.Send(TextResponse(req, Status::bad_request, st.message()));
    auto counts = strata::proto::ScanWriteRequest(raw);
    if (!counts.ok()) {
      return r.Send(TextResponse(req, Status::bad_request, counts.status().message()));
    }
    samples += counts->samples + counts->histograms;
    ++requests;
    r.Send(TextResponse(req, Status::no_content, ""));
  });
  server.Route("/loki/api/v1/push", {bhttp::verb::post}, [&](Request& req, const Responder& r) {
    std::string raw;
    auto st = strata::proto::SnappyDecompress(req.body(), 256u << 20, raw);
    if (!st.ok()) return r.Send(TextResponse(req, Status::bad_request, st.message()));
    auto counts = strata::proto::ScanLokiPush(raw);
    if (!counts.ok()) {
      return r.Send(TextResponse(req, Status::bad_request, counts.status().message()));
    }
    entries += counts->entries;
    ++requests;
    r.Send(TextResponse(req, Status::no_content, ""));
  });
  server.Route("/otlp/v1/traces", {bhttp::verb::post}, [&](Request& req, const Responder& r) {
    auto counts = strata::proto::ScanOtlp(strata::proto::OtlpSignal::kTraces, req.body());
    if (!counts.ok()) {
      return r.Send(TextResponse(req, Status::bad_request, counts.status().message()));
    }
    spans += counts->items;
    ++requests;
    r.Send(TextResponse(req, Status::ok, ""));
  });
  server.Route("/health", {bhttp::verb::get}, [](Request& req, const Responder& r) {
    r.Send(TextResponse(req, Status::ok, "OK"));
  });
  server.Route("/metrics", {bhttp::verb::get}, [&](Request& req, const Responder& r) {
    r.Send(
        TextResponse(req, Status::ok,
                     fmt::format("agent_sink_samples_total {}\nagent_sink_log_entries_total {}\n"
                                 "agent_sink_spans_total {}\nagent_sink_requests_total {}\n",
                                 samples.load(), entries.load(), spans.load(), requests.load())));
  });
  if (auto st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "agent_sink: %s\n", st.message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  server.Shutdown(1000);
  return 0;
}
