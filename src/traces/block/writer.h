#pragma once

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "traces/block/format.h"

namespace strata::traces::block {

struct WriterOptions {
  std::string id;  // ULID; empty: a new one
  // A page ends once its traces reach this (raw): a trace-by-ID lookup reads one page, about
  // 50 KiB of columns (bench/traces: 32 bytes/span at 1 MiB, 45 at 256 KiB).
  uint64_t page_bytes = 1u << 20;
  int zstd_level = 3;
  int format_version = kFormatVersion;  // 1: a page is one zstd frame (comparisons, tests)
  int level = 1;
  std::vector<std::string> sources;  // empty: this block alone
};

// BlockWriter writes a trace block into a local directory (docs/format/trace-block.md):
// traces are added in increasing ID order, each once; Finish writes the index and returns
// the meta. Not thread-safe.
class BlockWriter {
 public:
  static Result<std::unique_ptr<BlockWriter>> Create(const std::string& dir, WriterOptions opts);
  ~BlockWriter();
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  // Adds a trace: its 16-byte ID, its spans as a serialized TracesData, their count and time
  // bounds (Unix ns).
  Status Add(std::string_view trace_id, std::string_view traces_data, uint64_t spans,
             int64_t start_ns, int64_t end_ns);
  // Writes the last page and the index and syncs both files. Empty blocks are refused.
  Result<BlockMeta> Finish();

  // The files of a block besides meta.json, as UploadBlock takes them.
  static std::vector<std::string> Files() { return {kDataFile, kIndexFile}; }

 private:
  BlockWriter(std::string dir, WriterOptions opts);
  Status FlushPage();

  const std::string dir_;
  const WriterOptions opts_;
  int data_fd_ = -1;
  ZSTD_CCtx* cctx_ = nullptr;
  BlockMeta meta_;
  BlockIndex index_;
  std::vector<uint32_t> fingerprints_;
  std::string page_;  // the current page's entries, raw
  PageInfo current_;
  std::string last_id_;
};

}  // namespace strata::traces::block
