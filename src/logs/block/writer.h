#pragma once

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/labels.h"
#include "base/status.h"
#include "logs/block/bloom.h"
#include "logs/block/format.h"
#include "logs/stream.h"

namespace strata::logs::block {

struct WriterOptions {
  uint64_t page_bytes = uint64_t{1} << 20;  // line bytes per page, at most (one line may exceed)
  uint32_t max_page_features = 32768;       // a page is cut when its text has this many
  uint32_t bits_per_feature = 8;            // bloom filter size
  uint32_t fields = 6;                      // a line's parts: split at its first `fields` spaces
  int level = 3;                            // zstd level of the page bodies
  // Body bytes the zstd dictionary is trained on (the first pages'); 0: no dictionary.
  uint64_t dict_train_bytes = uint64_t{4} << 20;
  size_t dict_bytes = size_t{64} << 10;
  int block_level = 1;               // 1 = cut from a head; compaction adds one
  std::vector<std::string> sources;  // empty: the block is its own source
  std::string id;                    // empty: a new ULID
};

// BlockWriter writes one log block into a local directory (the files of format.h), to be
// uploaded with blocks::UploadBlock. Streams come in increasing label order, each with its
// entries sorted by time. Memory: the pages' bloom filters until Finish, and the bodies of
// the first pages until the dictionary is trained. Not thread-safe.
class BlockWriter {
 public:
  // `dir` is created; anything in it is removed first.
  static Result<std::unique_ptr<BlockWriter>> Create(const std::string& dir, WriterOptions opts);
  ~BlockWriter();
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  Status AddStream(const Labels& labels, std::span<const Entry> entries);
  // The same in parts, for streams read a page at a time: BeginStream, Add (entries in time
  // order across calls), EndStream. A stream without entries is left out.
  Status BeginStream(const Labels& labels);
  Status Add(std::span<const Entry> entries);
  Status EndStream();
  // Writes the index and blooms; the meta.json to upload last is EncodeMeta of the result.
  Result<BlockMeta> Finish();

  const std::string& dir() const { return dir_; }
  // The block's files other than meta.json.
  static std::vector<std::string> Files();

 private:
  // A page written once the dictionary is trained; its body is in pending_bodies_.
  struct Pending {
    std::string ts_raw;
    std::string meta_raw;
    size_t body_begin;
    size_t body_len;
    size_t page;  // index into index_.pages
  };
  BlockWriter(std::string dir, WriterOptions opts);
  Status AddPage(std::span<const Entry> entries);
  // Whether the page being filled, at `bytes` and `entries`, must end.
  bool PageFull(uint64_t bytes, size_t entries) const;
  // Adds the open stream to the index before its first page.
  void RegisterStream();
  // Trains the dictionary on the pending bodies and writes them.
  Status TrainAndFlush();
  Status WritePage(const std::string& ts_raw, const std::string& meta_raw,
                   std::string_view body_raw, size_t page);

  const std::string dir_;
  const WriterOptions opts_;
  int data_fd_ = -1;
  uint64_t data_bytes_ = 0;
  BlockIndex index_;
  BlockMeta meta_;
  FeatureSet features_;
  // The stream being added: its labels, whether it is open, its newest time, the entries of
  // its unfinished page that came in an earlier Add and their bytes.
  Labels stream_labels_;
  bool in_stream_ = false;
  int64_t last_ts_ = INT64_MIN;
  std::vector<Entry> carry_;
  uint64_t page_bytes_ = 0;
  std::vector<std::vector<uint8_t>> page_filters_;
  std::vector<Pending> pending_;  // until the dictionary is trained
  std::string pending_bodies_;    // one after another: the training samples are cut from them
  bool trained_ = false;
  ZSTD_CCtx* cctx_ = nullptr;
  ZSTD_CDict* cdict_ = nullptr;
};

}  // namespace strata::logs::block
