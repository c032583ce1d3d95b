#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace strata::wal {

// Writes the segment files of a checkpoint being built (docs/format/wal.md): framed records in
// files of about `segment_size` bytes, each fsynced when full. Used through Wal::Checkpoint.
class CheckpointWriter {
 public:
  CheckpointWriter(std::string dir, uint64_t segment_size)
      : dir_(std::move(dir)), segment_size_(segment_size) {}

  // Adds whole frames (wal/frame.h).
  Status Add(std::string_view frames);
  Status Finish();
  uint64_t bytes() const { return bytes_; }

 private:
  Status FlushFile();

  std::string dir_;
  uint64_t segment_size_;
  uint32_t segment_ = 0;
  uint64_t bytes_ = 0;
  std::string buf_;
};

}  // namespace strata::wal
