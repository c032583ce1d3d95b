// Log block sizes: writes the benchmark corpus (bench/logs/corpus.py's TSV: ts_ns, system,
// level, line) as one log block with the given writer options and prints the bytes of each
// file against the raw text, so the format's settings can be weighed against `zstd -19`.
//
// Usage: python3 bench/logs/corpus.py --day-start-ns N > corpus.tsv
//        log_block_bench --corpus corpus.tsv [--page-kib 1024] [--level 3] [--bits 8]
//                        [--fields 6] [--dict-kib 64] [--dir DIR]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench/tool_main.h"
#include "logs/block/writer.h"
#include "testing/temp_dir.h"

namespace strata {
namespace {

int Run(int argc, char** argv) {
  CLI::App app{"Log block sizes of the benchmark corpus"};
  std::string corpus, dir;
  uint64_t page_kib = 1024, dict_kib = 64;
  logs::block::WriterOptions opts;
  app.add_option("--corpus", corpus, "corpus.py's TSV")->required();
  app.add_option("--page-kib", page_kib, "line bytes per page");
  app.add_option("--level", opts.level, "zstd level of the pages");
  app.add_option("--bits", opts.bits_per_feature, "bloom bits per feature");
  app.add_option("--fields", opts.fields, "splits per line at spaces");
  app.add_option("--dict-kib", dict_kib, "zstd dictionary size; 0: none");
  app.add_option("--dir", dir, "write the block here (default: a temporary directory)");
  CLI11_PARSE(app, argc, argv);
  opts.page_bytes = page_kib << 10;
  opts.dict_bytes = dict_kib << 10;
  if (dict_kib == 0) opts.dict_train_bytes = 0;

  std::map<Labels, std::vector<logs::Entry>> streams;
  std::ifstream in(corpus);
  std::string row;
  uint64_t raw = 0, lines = 0;
  while (std::getline(in, row)) {
    size_t a = row.find('\t'), b = row.find('\t', a + 1), c = row.find('\t', b + 1);
    if (c == std::string::npos) {
      fmt::print(stderr, "malformed corpus row {}\n", lines + 1);
      return 1;
    }
    Labels ls{{"job", "loghub"},
              {"level", row.substr(b + 1, c - b - 1)},
              {"system", row.substr(a + 1, b - a - 1)}};
    logs::Entry e{std::stoll(row.substr(0, a)), row.substr(c + 1), {}};
    raw += e.line.size() + 1;
    ++lines;
    streams[ls].push_back(std::move(e));
  }
  testing::TempDir tmp("log-block-bench");
  if (dir.empty()) dir = tmp.path() + "/block";
  auto w = logs::block::BlockWriter::Create(dir, opts);
  if (!w.ok()) {
    fmt::print(stderr, "{}\n", w.status().ToString());
    return 1;
  }
  for (auto& [ls, entries] : streams) {
    if (auto s = (*w)->AddStream(ls, entries); !s.ok()) {
      fmt::print(stderr, "{}\n", s.ToString());
      return 1;
    }
  }
  auto meta = (*w)->Finish();
  if (!meta.ok()) {
    fmt::print(stderr, "{}\n", meta.status().ToString());
    return 1;
  }
  uint64_t stored = meta->data_bytes + meta->index_bytes + meta->blooms_bytes;
  fmt::print(
      "lines={} raw_bytes={} streams={} pages={} data={} index={} blooms={} stored={} "
      "ratio={:.2f} blooms_per_data={:.3f}\n",
      lines, raw, streams.size(), meta->num_pages, meta->data_bytes, meta->index_bytes,
      meta->blooms_bytes, stored, double(raw) / stored,
      double(meta->blooms_bytes) / meta->data_bytes);
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::bench::ToolMain("log_block_bench", strata::Run, argc, argv);
}
