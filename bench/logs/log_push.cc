// Log ingest load: pushes the benchmark corpus (bench/logs/corpus.py's TSV: ts_ns, system,
// level, line) to a Loki push endpoint as a Loki client does: snappy-compressed protobuf
// PushRequests of about --batch-kib of lines, one stream per request, each stream's entries
// in time order (a stream belongs to one connection). --rate caps the lines per second over
// all connections; --duration stops early. Prints one line of key=value results.
//
// Usage: log_push --url http://127.0.0.1:3100/loki/api/v1/push --corpus corpus.tsv
//                 [--concurrency 4] [--batch-kib 1024] [--rate 0] [--duration 0] [--tenant T]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/push_load.h"
#include "bench/tool_main.h"
#include "proto/remote_write.h"
#include "proto/wire.h"

namespace strata {
namespace {

struct Stream {
  std::string labels;  // Loki's text form
  std::vector<int64_t> ts;
  std::vector<std::string> lines;
};

// Appends entries [from, to) of `s` to a serialized PushRequest as one StreamAdapter.
std::string EncodePush(const Stream& s, size_t from, size_t to) {
  std::string entries;
  for (size_t i = from; i < to; ++i) {
    std::string ts, entry;
    proto::PutVarintField(ts, 1, static_cast<uint64_t>(s.ts[i] / 1'000'000'000));
    proto::PutVarintField(ts, 2, static_cast<uint64_t>(s.ts[i] % 1'000'000'000));
    proto::PutBytesField(entry, 1, ts);
    proto::PutBytesField(entry, 2, s.lines[i]);
    proto::PutBytesField(entries, 2, entry);
  }
  std::string stream, req;
  proto::PutBytesField(stream, 1, s.labels);
  stream += entries;
  proto::PutBytesField(req, 1, stream);
  return req;
}

int Run(int argc, char** argv) {
  CLI::App app{"Loki push load from the log benchmark corpus"};
  std::string url_s, corpus, tenant;
  int concurrency = 4;
  uint64_t batch_kib = 1024, rate = 0;
  double duration_s = 0;
  app.add_option("--url", url_s, "the push endpoint")->required();
  app.add_option("--corpus", corpus, "corpus.py's TSV")->required();
  app.add_option("--concurrency", concurrency, "connections");
  app.add_option("--batch-kib", batch_kib, "line bytes per request");
  app.add_option("--rate", rate, "lines per second over all connections; 0: as fast as taken");
  app.add_option("--duration", duration_s, "stop after this many seconds; 0: send everything");
  app.add_option("--tenant", tenant, "X-Scope-OrgID");
  CLI11_PARSE(app, argc, argv);
  auto url = http::ParseUrl(url_s);
  if (!url.ok() || concurrency < 1) {
    fmt::print(stderr, "bad --url or --concurrency\n");
    return 2;
  }

  std::map<std::string, Stream> by_labels;
  std::ifstream in(corpus);
  std::string row;
  uint64_t total_lines = 0;
  while (std::getline(in, row)) {
    size_t a = row.find('\t'), b = row.find('\t', a + 1), c = row.find('\t', b + 1);
    if (c == std::string::npos) {
      fmt::print(stderr, "malformed corpus row {}\n", total_lines + 1);
      return 1;
    }
    std::string labels = fmt::format(R"({{job="loghub", level="{}", system="{}"}})",
                                     row.substr(b + 1, c - b - 1), row.substr(a + 1, b - a - 1));
    Stream& s = by_labels[labels];
    s.labels = labels;
    s.ts.push_back(std::stoll(row.substr(0, a)));
    s.lines.push_back(row.substr(c + 1));
    ++total_lines;
  }
  std::vector<Stream> streams;
  streams.reserve(by_labels.size());
  for (auto& [_, s] : by_labels) streams.push_back(std::move(s));

  // Each worker takes every concurrency-th stream and sends a batch of each in turn.
  struct Cursor {
    std::vector<size_t> streams, pos;
    size_t k = 0, dry = 0;  // the stream to send from next; streams sent in full in a row
  };
  std::vector<Cursor> cursors(static_cast<size_t>(concurrency));
  for (size_t i = 0; i < streams.size(); ++i) {
    Cursor& c = cursors[i % cursors.size()];
    c.streams.push_back(i);
    c.pos.push_back(0);
  }
  bench::PushOptions opts{
      .url = url_s,
      .headers = {{"Content-Type", "application/x-protobuf"}, {"User-Agent", "strata-log-push"}},
      .concurrency = concurrency,
      .rate = rate,
      .duration_s = duration_s};
  if (!tenant.empty()) opts.headers.emplace_back("X-Scope-OrgID", tenant);
  const bench::PushResult r = bench::RunPush(opts, [&](int w) -> std::optional<bench::PushRequest> {
    Cursor& c = cursors[static_cast<size_t>(w)];
    while (!c.streams.empty() && c.dry < c.streams.size()) {
      const size_t k = c.k;
      c.k = (c.k + 1) % c.streams.size();
      const Stream& s = streams[c.streams[k]];
      size_t from = c.pos[k], to = from, line_bytes = 0;
      while (to < s.lines.size() && line_bytes < (batch_kib << 10)) {
        line_bytes += s.lines[to++].size();
      }
      if (to == from) {
        ++c.dry;
        continue;
      }
      c.dry = 0;
      c.pos[k] = to;
      return bench::PushRequest{proto::SnappyCompress(EncodePush(s, from, to)), to - from,
                                line_bytes};
    }
    return std::nullopt;
  });
  fmt::print("lines_total={} {}\n", total_lines, r.Summary("lines"));
  return r.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("log_push", strata::Run, argc, argv);
}
